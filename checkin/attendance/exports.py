"""Post-event exports: who came (check-ins CSV), who did not (no-shows CSV), the arrivals chart.

These read the database directly rather than the live aggregate: an export is asked for once,
and must be complete and exact even in a process that has not been watching the event. Both CSV
files stream row by row (20,000 attendees never sit in memory as one string) and are read by
index: presences by ``(event, first_entry_at)``, the log by ``(event, received_at)``, tickets by
``(event, serial)``. Times are written in the event's own time zone.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Iterator

from django.utils import translation
from django.utils.translation import pgettext

from checkin.attendance import chart, selectors
from checkin.models import Direction, Presence, Result, ScanLog
from core.csv_cells import SafeWriter
from tickets.models import Event, Ticket

CHECKIN_COLUMNS = (
    "reference", "name", "email", "organisation", "ticket_type", "first_entry_at",
    "last_entry_at", "last_exit_at", "inside", "entries", "exits", "first_gate",
    "first_device", "first_source",
)
NO_SHOW_COLUMNS = ("reference", "name", "email", "organisation", "ticket_type", "language")


def _lines(header: Iterable[str], rows: Iterable[Iterable]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = SafeWriter(buffer)  # every text cell neutralised against CSV injection
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
        if buffer.tell() > 16_384:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _local(value: dt.datetime | None, tz) -> str:
    return value.astimezone(tz).isoformat(timespec="seconds") if value else ""


def checkins_csv(event: Event) -> Iterator[str]:
    """One line per attendee who entered, in order of first arrival."""
    tz = event.tzinfo
    # Where and how each ticket first came in: its earliest admitted entry not undone.
    first_scan: dict[int, tuple] = {}
    admitted = (
        ScanLog.objects.filter(event=event, direction=Direction.ENTRY, result=Result.OK)
        .exclude(annulled_by__result=Result.OK)
        .order_by("scanned_at", "id")
        .values_list("ticket_id", "device__gate", "device__name", "source")
    )
    for ticket_id, gate, device, source in admitted.iterator(chunk_size=2000):
        first_scan.setdefault(ticket_id, (gate or device or "", device or "", source))
    presences = (
        Presence.objects.filter(event=event, first_entry_at__isnull=False, entries__gt=0)
        .order_by("first_entry_at", "id")
        .values_list(
            "ticket_id", "first_entry_at", "last_entry_at", "last_exit_at", "inside",
            "entries", "exits", "ticket__attendee_id", "ticket__reference",
            "ticket__attendee__name", "ticket__attendee__email",
            "ticket__attendee__organisation", "ticket__ticket_type__name",
        )
    )
    # An attendee on several lists (or with a reissued ticket) is one line: the earliest entry,
    # the latest times, inside if inside anywhere, entries and exits summed.
    people: dict[int, dict] = {}
    for (ticket_id, first, last, left, inside, entries, exits, attendee_id, reference, name,
         email, organisation, ticket_type) in presences.iterator(chunk_size=2000):
        person = people.get(attendee_id)
        if person is None:
            people[attendee_id] = {
                "ticket_id": ticket_id, "first": first, "last": last, "left": left,
                "inside": inside, "entries": entries, "exits": exits,
                "who": [reference, name, email, organisation, ticket_type],
            }
            continue
        person["last"] = max(filter(None, (person["last"], last)), default=None)
        person["left"] = max(filter(None, (person["left"], left)), default=None)
        person["inside"] = person["inside"] or inside
        person["entries"] += entries
        person["exits"] += exits

    def rows() -> Iterator[list]:
        for person in people.values():
            gate, device, source = first_scan.get(person["ticket_id"], ("", "", ""))
            yield [
                *person["who"],
                _local(person["first"], tz), _local(person["last"], tz),
                _local(person["left"], tz), int(person["inside"]), person["entries"],
                person["exits"], gate, device, source,
            ]

    return _lines(CHECKIN_COLUMNS, rows())


def no_shows_csv(event: Event) -> Iterator[str]:
    """One line per attendee holding a valid ticket who has not entered on any list."""
    came = Presence.objects.filter(event=event, entries__gt=0).values("ticket__attendee_id")
    tickets = (
        Ticket.objects.filter(event=event, status=Ticket.Status.VALID)
        .exclude(attendee_id__in=came)
        .select_related("attendee", "ticket_type")
        .order_by("attendee__name", "serial")
    )

    def rows() -> Iterator[list]:
        for ticket in tickets.iterator(chunk_size=2000):
            attendee = ticket.attendee
            yield [
                ticket.reference, attendee.name, attendee.email, attendee.organisation,
                ticket.ticket_type.name, attendee.language,
            ]

    return _lines(NO_SHOW_COLUMNS, rows())


def arrivals_svg(event: Event, language: str) -> str:
    """The arrivals chart for a report: titled, with a legend, in ``language``."""
    figures = selectors.attendance(event)
    start = event.start.astimezone(event.tzinfo)
    end = event.end.astimezone(event.tzinfo)
    with translation.override(language):
        subtitle = pgettext(
            "attendance", "%(date)s, %(start)s-%(end)s · %(count)s checked in of %(registered)s"
        ) % {
            "date": start.strftime("%d/%m/%Y"),
            "start": f"{start:%H:%M}",
            "end": f"{end:%H:%M}",
            "count": figures["checked_in"],
            "registered": figures["registered"],
        }
        if figures["arrivals"]["rehearsal"]:
            day = dt.date.fromisoformat(figures["arrivals"]["rehearsal"])
            subtitle = pgettext(
                "attendance", "Rehearsal: scans of %(day)s, outside the event's day · %(rest)s"
            ) % {"day": day.strftime("%d/%m/%Y"), "rest": subtitle}
        return chart.render(
            figures["arrivals"],
            title=event.name,
            subtitle=subtitle,
            legend=(
                pgettext("attendance", "Arrivals per 5 minutes"),
                pgettext("attendance", "Checked in (total)"),
            ),
            label=pgettext("attendance", "Arrivals per 5 minutes"),
            now=dt.datetime.now(dt.UTC),
        )
