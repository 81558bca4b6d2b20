"""Reads of the badges app: layouts, band colours, which tickets a bulk print selects (in which
order) and what each badge shows."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Exists, OuterRef, QuerySet

from badges import lead
from badges.documents.badge import PALETTE, BadgeData
from badges.models import BadgeColour, BadgeLayout
from checkin.models import Presence
from tickets.models import Event, Ticket, TicketType
from tickets.selectors import events_for_user

SORTS = ("name", "surname", "organisation", "registration")
CHUNK = 200  # tickets read per query while drawing: memory stays flat for any event size


def layouts_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[BadgeLayout]:
    return BadgeLayout.objects.filter(event__in=events_for_user(user))


def layouts_for_event(event: Event) -> QuerySet[BadgeLayout]:
    return BadgeLayout.objects.filter(event=event).select_related("ticket_type")


def layout_for(event: Event, ticket_type: TicketType | None = None) -> BadgeLayout:
    """The layout of ``ticket_type``'s badges: its own, else the event's default, else the
    built-in default (an unsaved A6 layout in the event's first language)."""
    layouts = {layout.ticket_type_id: layout for layout in layouts_for_event(event)}
    if ticket_type is not None and ticket_type.pk in layouts:
        return layouts[ticket_type.pk]
    if None in layouts:
        return layouts[None]
    languages = event.languages or []
    return BadgeLayout(event=event, name="default",
                       **({"language": languages[0]} if languages else {}))


def band_colours(event: Event) -> dict[int, str]:
    """Ticket type id -> band colour (its own, else the palette's by the type's position)."""
    own = dict(BadgeColour.objects.filter(ticket_type__event=event)
               .values_list("ticket_type_id", "colour"))
    types = TicketType.objects.filter(event=event).order_by("position", "id")
    return {pk: own.get(pk, PALETTE[index % len(PALETTE)])
            for index, pk in enumerate(types.values_list("pk", flat=True))}


@dataclass(frozen=True)
class Selection:
    """Which of an event's valid tickets a bulk print takes, and in which order."""

    sort: str = "name"
    ticket_types: tuple[int, ...] = ()
    organisation: str | None = None  # exact, ignoring case
    checked_in: bool | None = None  # None: all; True: entered at least once; False: never


def _fold(text: str) -> str:
    """Case and accents folded ("Ángela" sorts with "Angela", before "Bruno")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _surname(name: str) -> str:
    words = name.split()
    return _fold(words[-1]) if words else ""


_SORT_KEYS = {
    "name": lambda row: (_fold(row[1]), row[3]),
    "surname": lambda row: (_surname(row[1]), _fold(row[1]), row[3]),
    # Attendees without an organisation come last, by name.
    "organisation": lambda row: (not row[2], _fold(row[2]), _fold(row[1]), row[3]),
    "registration": lambda row: (row[3],),
}


def selected_ticket_ids(event: Event, selection: Selection) -> list[int]:
    """The ids of the selected valid tickets, sorted as asked. Sorted here, not by SQL, so
    the order is the same on PostgreSQL and SQLite whatever the database's collation (case
    and accents folded by ``_fold``); only four short values per ticket are read."""
    tickets = Ticket.objects.filter(event=event, status=Ticket.Status.VALID)
    if selection.ticket_types:
        tickets = tickets.filter(ticket_type_id__in=selection.ticket_types)
    if selection.organisation is not None:
        tickets = tickets.filter(attendee__organisation__iexact=selection.organisation)
    if selection.checked_in is not None:
        entered = Exists(Presence.objects.filter(ticket=OuterRef("pk"), entries__gt=0))
        tickets = tickets.filter(entered if selection.checked_in else ~entered)
    rows = list(tickets.values_list("pk", "attendee__name", "attendee__organisation", "serial"))
    rows.sort(key=_SORT_KEYS[selection.sort])
    return [row[0] for row in rows]


def badge_data(event: Event, ticket_ids: list[int], language: str) -> Iterator[BadgeData]:
    """What each badge shows, in the order of ``ticket_ids``, read ``CHUNK`` at a time."""
    colours = band_colours(event)
    for start in range(0, len(ticket_ids), CHUNK):
        chunk = ticket_ids[start:start + CHUNK]
        tickets = Ticket.objects.filter(pk__in=chunk).select_related("attendee", "ticket_type")
        by_id = {ticket.pk: ticket for ticket in tickets}
        for pk in chunk:
            ticket = by_id.get(pk)
            if ticket is not None:  # deleted while printing: skipped, not a failure
                yield badge_for(ticket, language, colours)


def badge_for(ticket: Ticket, language: str, colours: dict[int, str] | None = None
              ) -> BadgeData:
    """What ``ticket``'s badge shows (one badge: a print job, a preview)."""
    if colours is None:
        colours = band_colours(ticket.event)
    return BadgeData(
        ticket_id=ticket.pk,
        name=ticket.attendee.name,
        organisation=ticket.attendee.organisation,
        ticket_type=ticket.ticket_type.localized_name(language),
        colour=colours.get(ticket.ticket_type_id, PALETTE[0]),
        lead_code=lead.lead_code(ticket.event_id, ticket.pk),
    )


def ticket_for_lead_code(event: Event, code: str) -> Ticket | None:
    """The valid ticket of ``event`` a lead code names, or None (not ours, another event's,
    revoked)."""
    try:
        event_id, ticket_id = lead.parse_lead_code(code)
    except lead.InvalidLeadCode:
        return None
    if event_id != event.pk:
        return None
    return (Ticket.objects.filter(pk=ticket_id, event=event, status=Ticket.Status.VALID)
            .select_related("attendee").first())
