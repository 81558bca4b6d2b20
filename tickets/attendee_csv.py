"""Attendee lists as CSV: import (validated row by row, all-or-nothing) and export.

Import columns (header row required, case-insensitive, in any order): ``name``, ``email``
(required), ``organisation``, ``language`` (``it``/``en``), ``ticket_type`` (a ticket type's
name; default: the event's first); other columns are ignored. Comma, semicolon and tab
separators are recognised, since spreadsheets in Italy export with semicolons; UTF-8 (with or
without BOM) and Windows-1252 are read. Every bad row is reported with its line number and the
reason; by default nothing is imported unless every row is good.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Prefetch
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from core.csv_cells import SafeWriter, unneutralise
from core.errors import Message, ServiceError
from core.text import email_key
from tickets import services
from tickets.models import Attendee, Event, Ticket, TicketType
from tickets.selectors import current_ticket
from tickets.services import trail

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
DELIMITERS = (",", ";", "\t")


class CSVFormatError(ValueError):
    """The file as a whole cannot be read (encoding, header, separators); the message is
    translated lazily, rendered where it is shown."""


@dataclass
class RowError:
    line: int
    field: str
    message: Message  # rendered where it is shown, in that request's language

    def as_dict(self) -> dict:
        return {"line": self.line, "field": self.field, "message": str(self.message)}


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
        return data.removeprefix("\ufeff")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CSVFormatError(_("The file is neither UTF-8 nor Windows-1252 text."))


def _column(name: str) -> str:
    name = name.strip().lower()
    return COLUMN_ALIASES.get(name, name)


def _delimiter(header_line: str) -> str:
    """The separator that splits the header into the most known columns.

    Decided on the header, whose words we know, rather than by guessing from the data
    (``csv.Sniffer`` is fooled by commas inside organisation names of a semicolon file).
    """

    def score(delimiter: str) -> tuple[int, int]:
        names = {_column(h) for h in next(csv.reader([header_line], delimiter=delimiter))}
        return len(names & set(KNOWN_COLUMNS)), header_line.count(delimiter)

    return max(DELIMITERS, key=score)


def _line(number: int, exc: csv.Error) -> Message:
    return format_lazy(_("Line {line}: {problem}"), line=number, problem=str(exc))


def _rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    if "\x00" in text:
        raise CSVFormatError(_("The file contains NUL bytes: it is not a CSV text file."))
    first = next((line for line in text.splitlines() if line.strip()), None)
    if first is None:
        raise CSVFormatError(_("The file is empty."))
    # strict: an unterminated or misplaced quote is an error, not a field swallowing the rest.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first), strict=True)
    header: list[str] = []
    try:
        while not any(h.strip() for h in header):
            header = next(reader)
    except StopIteration:  # only blank cells, e.g. a lone '""'
        raise CSVFormatError(_("The file is empty.")) from None
    except csv.Error as exc:  # Python's own (English) words for the quoting problem
        raise CSVFormatError(_line(reader.line_num, exc)) from None
    columns = [_column(h) for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise CSVFormatError(format_lazy(
            _("Missing column(s): {missing}. Header found: {header}."),
            missing=", ".join(missing), header=", ".join(header)))
    twice = sorted({c for c in columns if c in KNOWN_COLUMNS and columns.count(c) > 1})
    if twice:
        raise CSVFormatError(format_lazy(_("Column(s) appearing twice in the header: {columns}."),
                                         columns=", ".join(twice)))
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CSVFormatError(_line(reader.line_num, exc)) from None
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(columns) and any(v.strip() for v in values[len(columns):]):
            yield reader.line_num, {"__extra__": "1"}
            continue
        row = {
            c: unneutralise(v).strip()
            for c, v in zip(columns, values, strict=False)
            if c in KNOWN_COLUMNS
        }
        yield reader.line_num, row


# The cells the services' text rule applies to (the attendee's, and a ticket type's name).
_TEXT_RULES = {
    "name": services.ATTENDEE_TEXT["name"],
    "organisation": services.ATTENDEE_TEXT["organisation"],
    "ticket_type": (services.TICKET_TYPE_TEXT["name"][0], False, False),
}


def _validate_row(
    line: int, row: dict[str, str], event: Event, types: dict[str, TicketType], seen: set[str]
) -> tuple[services.Registration | None, list[RowError]]:
    errors: list[RowError] = []
    if "__extra__" in row:
        return None, [RowError(line, "row", _("More values than columns in the header."))]
    # The services' rules, as on every path; each bad cell is reported with its line.
    cells: dict[str, str] = {}
    for column, rule in _TEXT_RULES.items():
        try:
            cells.update(services.clean_text_fields({column: rule}, {column: row.get(column, "")}))
        except ServiceError as exc:
            errors.append(RowError(line, column, exc.message))
    email = ""
    try:
        email, key = services.clean_email(row.get("email", ""))
    except ServiceError as exc:
        errors.append(RowError(line, "email", exc.message))
    else:
        if key in seen:
            errors.append(RowError(line, "email", format_lazy(
                _("{email} appears twice in the file."), email=email)))
        seen.add(key)
    language = row.get("language", "").lower()
    if language and event.languages and language not in event.languages:
        errors.append(
            RowError(line, "language", format_lazy(
                _("Language {language!r} is not one of {languages}."),
                language=language, languages=", ".join(event.languages)))
        )
    type_name = cells.get("ticket_type", "")
    ticket_type = types.get(type_name.lower()) if type_name else None
    if type_name and ticket_type is None:
        errors.append(RowError(line, "ticket_type", format_lazy(
            _("No ticket type named {name!r}."), name=type_name)))
    if errors:
        return None, errors
    registration = services.Registration(
        name=cells["name"],
        email=email,
        organisation=cells["organisation"],
        language=language,
        ticket_type_id=ticket_type.pk if ticket_type else None,
    )
    return registration, []


@dataclass
class ImportPlan:
    """What an import would do, checked row by row without writing (the console's preview)."""

    rows: list[tuple[int, services.Registration]] = field(default_factory=list)
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)


def plan_import(event: Event, data: bytes | str, *, skip_existing: bool = False) -> ImportPlan:
    """Read and check every row (the services' rules, duplicates in the file and in the
    event); nothing is written. ``CSVFormatError`` if the file as a whole cannot be read."""
    plan = ImportPlan()
    rows = list(_rows(_decode(data)))
    if not rows:
        raise CSVFormatError(_("The file has a header but no attendee rows."))
    types = {t.name.lower(): t for t in TicketType.objects.filter(event=event)}
    existing = set(Attendee.objects.filter(event=event).values_list("email_key", flat=True))
    seen: set[str] = set()
    for line, row in rows:
        registration, errors = _validate_row(line, row, event, types, seen)
        if registration and email_key(registration.email) in existing:
            if skip_existing:
                plan.skipped += 1
                continue
            errors = [RowError(line, "email", format_lazy(
                _("{email} is already registered."), email=registration.email))]
        if errors:
            plan.errors.extend(errors)
        else:
            plan.rows.append((line, registration))
    return plan


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
    plan = plan_import(event, data, skip_existing=skip_existing)
    result = ImportResult(skipped=plan.skipped, errors=list(plan.errors))
    if result.errors and not partial:
        return result
    good = plan.rows
    with transaction.atomic():
        for done, (line, registration) in enumerate(good, start=1):
            try:
                with transaction.atomic():
                    services.register(event, registration, audited=False)
            except ServiceError as exc:
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
        if result.created:
            trail.event("attendees.imported", event, created=result.created,
                        skipped=result.skipped, rejected=len(result.errors))
    return result


EXPORT_COLUMNS = (
    "name", "email", "organisation", "language", "ticket_type", "serial", "reference", "status",
    "registered_at",
)


def export_attendees(event: Event) -> Iterable[str]:
    """Yield CSV lines (header first): one row per attendee with their current ticket.

    The columns are the import's, so an export re-imports cleanly into another event (the
    ``serial``/``reference``/``status`` columns are ignored there). Every text cell is
    neutralised against CSV injection (core.csv_cells); the importer undoes that.
    """
    buffer = io.StringIO()
    writer = SafeWriter(buffer)

    def flush() -> str:
        value = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return value

    writer.writerow(EXPORT_COLUMNS)
    yield flush()
    attendees = (
        Attendee.objects.filter(event=event)
        .prefetch_related(Prefetch("tickets", Ticket.objects.select_related("ticket_type")))
        .order_by("pk")
    )
    for a in attendees.iterator(chunk_size=1000):
        ticket = current_ticket(a)
        writer.writerow(
            [
                a.name, a.email, a.organisation, a.language,
                ticket.ticket_type.name if ticket else "",
                ticket.serial if ticket else "", ticket.reference if ticket else "",
                ticket.status if ticket else "", a.created_at.isoformat(),
            ]
        )
        yield flush()
