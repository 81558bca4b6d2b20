"""The range of instants Varco stores: from 1900-01-01 to 3000-01-01 (UTC, end excluded).

Every date-time a client sends (event start/end, list hours, a door device's scan time, the
changes cursor) is checked against it at the edge, and the columns that hold them carry a
CHECK constraint with the same bounds, so that no stored row can hold an instant that a read
path cannot handle. Outside it things break far from where the value came in: PostgreSQL keeps
``0001-01-01T00:00:00+14:00`` (year 1 BC in UTC) but psycopg cannot load it into Python, so
every query that reads the row fails; ``9999-12-31T23:00Z`` shown in an event's time zone east
of UTC overflows Python's year 9999; before 1900 time zones had local mean time offsets
(Rome: +00:49:56) that ISO 8601 output and API clients cannot represent.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db.models import Q

EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)  # excluded
RANGE_TEXT = "between 1900-01-01 and 2999-12-31 (UTC)"
# An event lasts at most this long: its arrivals chart has a bar per 5 minutes of its span.
MAX_EVENT_DAYS = 31
TOO_LONG_TEXT = f"An event lasts at most {MAX_EVENT_DAYS} days."


def too_long(start: dt.datetime | None, end: dt.datetime | None) -> bool:
    return bool(start and end and end - start > dt.timedelta(days=MAX_EVENT_DAYS))


def in_range(value: dt.datetime) -> bool:
    """Whether an aware ``value`` is a storable instant. Comparing aware date-times never
    converts them, so this is safe for any value Python can parse (year 1 at +14:00 too)."""
    return EARLIEST <= value < LATEST


def validate_instant(value: dt.datetime | None) -> None:
    """Model field validator (admin forms, DRF model serializers): a clear error, no 500."""
    if value is not None and (value.tzinfo is None or not in_range(value)):
        raise ValidationError(f"The date must be {RANGE_TEXT}.", code="out_of_range")


def range_check(field: str, nullable: bool = False) -> Q:
    """The CHECK constraint condition keeping ``field`` inside the range."""
    condition = Q(**{f"{field}__gte": EARLIEST, f"{field}__lt": LATEST})
    return Q(**{f"{field}__isnull": True}) | condition if nullable else condition

