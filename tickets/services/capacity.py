"""Places: taking and freeing one of an event's and a ticket type's places."""

from __future__ import annotations

from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.errors import ServiceError
from tickets.models import Event, Ticket, TicketType


def reserve_place(event: Event, ticket_type: TicketType) -> int:
    """Take one place of the event and of the ticket type; return the new serial.

    Conditional UPDATEs: the WHERE clause re-checks the capacity after the row lock, so
    concurrent registrations never oversell (the CHECK constraints are the last guard).

    Lock order, the same everywhere (see ``release_place``): the event row, then the ticket
    type row, then the attendee insert. Every writer of an event's places queues on the event
    row first, so a long transaction (a CSV import) and single registrations or revocations
    cannot wait on each other in a cycle (a deadlock PostgreSQL would break by killing one).
    """
    taken = Event.objects.filter(
        Q(capacity__isnull=True) | Q(issued_count__lt=F("capacity")), pk=event.pk
    ).update(issued_count=F("issued_count") + 1, last_serial=F("last_serial") + 1)
    if not taken:
        raise ServiceError("event", _("This event is full."), code="sold_out")
    taken = TicketType.objects.filter(
        Q(capacity__isnull=True) | Q(issued_count__lt=F("capacity")), pk=ticket_type.pk
    ).update(issued_count=F("issued_count") + 1)
    if not taken:  # the caller's transaction rolls back the event's place taken above
        raise ServiceError("ticket_type", _("This ticket type is sold out."), code="sold_out")
    return Event.objects.values_list("last_serial", flat=True).get(pk=event.pk)


def release_place(ticket: Ticket) -> None:
    Event.objects.filter(pk=ticket.event_id, issued_count__gt=0).update(
        issued_count=F("issued_count") - 1
    )
    TicketType.objects.filter(pk=ticket.ticket_type_id, issued_count__gt=0).update(
        issued_count=F("issued_count") - 1
    )

