"""A door device's clock is a claim: how far the server believes it.

An offline scan carries ``scanned_at``, the device's own time. Phones get their clocks wrong
(a dead battery resets one to 1970 or to the year 1, a hand-set one is a day off), and a
claimed time ends up in the scan log, in the first-entry time, in the arrivals chart and in
the opening-hours check. So a claim is *trusted* only inside a window:

* not after the server's receipt time plus ``VARCO_SCAN_CLOCK_AHEAD_SECONDS`` (default 60:
  a clock a little ahead is taken as "now"), and
* not before the receipt time minus ``VARCO_SCAN_CLOCK_BEHIND_HOURS`` (default 24: a device
  offline for a day), unless it falls within the event's own dates widened by those hours (a
  device that uploads its queue after the event is over).

An untrusted claim does not stop the scan — a door with a wrong clock must still get people
in: the scan is recorded at the server's receipt time and the claim is kept, verbatim, in
``ScanLog.untrusted_scanned_at`` (the flag organisers can filter on). Only a text that is not
a date-time at all is refused (400 naming the field). The forms of ISO 8601 that JavaScript's
``toISOString()`` writes for a wildly wrong clock and Python cannot hold — year 0000, expanded
years such as ``+010000-01-01T00:00:00.000Z``, a leap second ``23:59:60`` — are claims like any
other, and never trusted (a leap second is read as the second before it).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.conf import settings

from core import instants

UTC = dt.UTC
MAX_TEXT = 40
_LEAP_SECOND = re.compile(r"(T\d\d:\d\d:)60(?=[.,Z+-]|\Z)")
# ISO 8601 date-times Python cannot represent: year 0000 and expanded (signed 6-digit) years.
_UNREPRESENTABLE = re.compile(
    r"(?:[+-]\d{6}|0000)-\d\d-\d\d(?:T\d\d:\d\d(?::\d\d(?:[.,]\d{1,9})?)?)?"
    r"(?:Z|[+-]\d\d(?::?\d\d)?)?"
)


@dataclass(frozen=True, slots=True)
class Claim:
    """A device's ``scanned_at``: its text, and its instant in UTC when Python can hold it."""

    text: str
    at: dt.datetime | None


def parse(value: object) -> Claim | None:
    """The claim in ``value``, or None if it is not an ISO 8601 date-time text (a 400).

    Without a UTC offset the time is UTC, as JavaScript's ``toISOString()`` writes."""
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        return None
    if not (value.isascii() and value.isprintable()):  # Python reads "…10:00:00\x00" too
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        leap = _LEAP_SECOND.sub(r"\g<1>59", value, count=1)
        if leap != value:
            inner = parse(leap)
            return None if inner is None else Claim(value, inner.at)
        return Claim(value, None) if _UNREPRESENTABLE.fullmatch(value) else None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return Claim(value, parsed.astimezone(UTC))
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is in the year 0 in UTC
        return Claim(value, None)


def trusted(at: dt.datetime, received: dt.datetime, event_start: dt.datetime | None,
            event_end: dt.datetime | None) -> bool:
    """Whether the claimed instant ``at`` is believed (see the module docstring)."""
    if not instants.in_range(at):
        return False
    if at > received + dt.timedelta(seconds=settings.VARCO_SCAN_CLOCK_AHEAD_SECONDS):
        return False
    behind = dt.timedelta(hours=settings.VARCO_SCAN_CLOCK_BEHIND_HOURS)
    if at >= received - behind:
        return True
    return (
        event_start is not None and event_end is not None
        and event_start - behind <= at <= event_end + behind
    )


def effective(claim: Claim | None, received: dt.datetime, event_start: dt.datetime | None,
              event_end: dt.datetime | None) -> tuple[dt.datetime, str | None]:
    """(the time the scan is recorded at, the claim's text if it was not trusted).

    No claim (a live scan): the receipt time. A trusted claim a little in the future: the
    receipt time too (a person cannot have entered later than the server heard of it)."""
    if claim is None:
        return received, None
    if claim.at is not None and trusted(claim.at, received, event_start, event_end):
        return min(claim.at, received), None
    return received, claim.text
