"""Attendee lists as CSV: import (validated row by row, all-or-nothing) and export.

Import columns (header row required, case-insensitive, in any order): ``name``, ``email``
(required), ``organisation``, ``language`` (``it``/``en``), ``ticket_type`` (a ticket type's
name; default: the event's first). Comma, semicolon and tab separators are recognised, since
spreadsheets in Italy export with semicolons. Every bad row is reported with its line number
and the reason; by default nothing is imported unless every row is good.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from tickets import services
from tickets.models import Attendee, Event, Ticket, TicketType

REQUIRED_COLUMNS = ("name", "email")
KNOWN_COLUMNS = ("name", "email", "organisation", "language", "ticket_type")
COLUMN_ALIASES = {
    "nome": "name",
    "full_name": "name",
    "e-mail": "email",
    "mail": "email",
    "organization": "organisation",
    "organizzazione": "organisation",
    "ente": "organisation",
    "lingua": "language",
    "ticket type": "ticket_type",
    "tipo": "ticket_type",
}
MAX_FIELD = 200


class CSVFormatError(ValueError):
    """The file as a whole cannot be read (encoding, header, separators)."""


@dataclass
class RowError:
    line: int
    field: str
    message: str

    def as_dict(self) -> dict:
        return {"line": self.line, "field": self.field, "message": self.message}


@dataclass
class ImportResult:
    created: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    committed: bool = False

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "skipped": self.skipped,
            "committed": self.committed,
            "errors": [e.as_dict() for e in self.errors],
        }


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CSVFormatError("The file is neither UTF-8 nor Windows-1252 text.")


def _rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    if "\x00" in text:
        raise CSVFormatError("The file contains NUL bytes: it is not a CSV text file.")
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise CSVFormatError("The file is empty.") from None
    except csv.Error as exc:
        raise CSVFormatError(f"Line 1: {exc}") from None
    columns = [COLUMN_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise CSVFormatError(
            f"Missing column(s): {', '.join(missing)}. Header found: {', '.join(header)}."
        )
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CSVFormatError(f"Line {reader.line_num}: {exc}") from None
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(columns):
            yield reader.line_num, {"__extra__": "1"}
            continue
        row = {c: v.strip() for c, v in zip(columns, values, strict=False) if c in KNOWN_COLUMNS}
        yield reader.line_num, row


def _validate_row(
    line: int, row: dict[str, str], event: Event, types: dict[str, TicketType], seen: set[str]
) -> tuple[services.Registration | None, list[RowError]]:
    errors: list[RowError] = []
    if "__extra__" in row:
        return None, [RowError(line, "row", "More values than columns in the header.")]
    name, email = row.get("name", ""), row.get("email", "").lower()
    if not name:
        errors.append(RowError(line, "name", "Name is empty."))
    for column, value in row.items():
        if len(value) > MAX_FIELD:
            errors.append(RowError(line, column, f"Longer than {MAX_FIELD} characters."))
    try:
        validate_email(email)
    except ValidationError:
        errors.append(RowError(line, "email", f"Not a valid e-mail address: {email!r}."))
    else:
        if email in seen:
            errors.append(RowError(line, "email", f"{email} appears twice in the file."))
        seen.add(email)
    language = row.get("language", "").lower()
    if language and event.languages and language not in event.languages:
        errors.append(
            RowError(line, "language", f"Language {language!r} is not one of {event.languages}.")
        )
    type_name = row.get("ticket_type", "")
    ticket_type = types.get(type_name.lower()) if type_name else None
    if type_name and ticket_type is None:
        errors.append(RowError(line, "ticket_type", f"No ticket type named {type_name!r}."))
    if errors:
        return None, errors
    registration = services.Registration(
        name=name,
        email=email,
        organisation=row.get("organisation", ""),
        language=language,
        ticket_type_id=ticket_type.pk if ticket_type else None,
    )
    return registration, []


def import_attendees(
    event: Event,
    data: bytes | str,
    *,
    partial: bool = False,
    skip_existing: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Validate every row, then create attendees and tickets in one transaction.

    ``partial=False`` (default): any bad row means nothing is imported. ``partial=True``:
    good rows are imported, bad ones reported. ``skip_existing``: an e-mail already
    registered is skipped (counted) instead of being an error, so a list can be re-imported.
    """
    result = ImportResult()
    rows = list(_rows(_decode(data)))
    types = {t.name.lower(): t for t in TicketType.objects.filter(event=event)}
    existing = set(Attendee.objects.filter(event=event).values_list("email", flat=True))
    seen: set[str] = set()
    good: list[tuple[int, services.Registration]] = []
    for line, row in rows:
        registration, errors = _validate_row(line, row, event, types, seen)
        if registration and registration.email in existing:
            if skip_existing:
                result.skipped += 1
                continue
            errors = [RowError(line, "email", f"{registration.email} is already registered.")]
        if errors:
            result.errors.extend(errors)
        else:
            good.append((line, registration))
    if not rows:
        raise CSVFormatError("The file has a header but no attendee rows.")
    if result.errors and not partial:
        return result
    with transaction.atomic():
        for done, (line, registration) in enumerate(good, start=1):
            try:
                with transaction.atomic():
                    services.register(event, registration)
            except services.ServiceError as exc:
                result.errors.append(RowError(line, exc.field, exc.message))
                if not partial:
                    transaction.set_rollback(True)
                    result.created = 0
                    return result
            else:
                result.created += 1
            if progress:
                progress(done, len(good))
        result.committed = True
    return result


EXPORT_COLUMNS = (
    "name", "email", "organisation", "language", "ticket_type", "serial", "reference", "status",
    "registered_at",
)


def export_attendees(event: Event) -> Iterable[str]:
    """Yield CSV lines (header first) for every attendee with their current ticket."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        value = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return value

    writer.writerow(EXPORT_COLUMNS)
    yield flush()
    tickets = (
        Ticket.objects.filter(event=event)
        .select_related("attendee", "ticket_type")
        .order_by("serial")
    )
    for ticket in tickets.iterator(chunk_size=1000):
        a = ticket.attendee
        writer.writerow(
            [
                _safe(a.name), a.email, _safe(a.organisation), a.language, ticket.ticket_type.name,
                ticket.serial, ticket.reference, ticket.status, a.created_at.isoformat(),
            ]
        )
        yield flush()


def _safe(value: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection) in free-text cells."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value
