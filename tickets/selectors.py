"""Read-side queries: who may see what, and the lists the API and admin show."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from tickets.models import Attendee, Event, EventKey, Organiser, Ticket, TicketType


def organisers_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Organiser]:
    if not user.is_authenticated:
        return Organiser.objects.none()
    if user.is_superuser:
        return Organiser.objects.all()
    return Organiser.objects.filter(members=user)


def events_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Event]:
    """Events the user organises: members of the owning team, and superusers."""
    if not user.is_authenticated:
        return Event.objects.none()
    if user.is_superuser:
        return Event.objects.all()
    # A subquery rather than a join, so no DISTINCT is needed (it would forbid some updates).
    return Event.objects.filter(organiser__in=Organiser.objects.filter(members=user))


def user_can_manage_event(user: AbstractBaseUser | AnonymousUser, event: Event) -> bool:
    if not user.is_authenticated:
        return False
    return user.is_superuser or event.organiser.members.filter(pk=user.pk).exists()


def ticket_types_for_event(event: Event) -> QuerySet[TicketType]:
    return TicketType.objects.filter(event=event)


def attendees_for_event(event: Event, search: str = "") -> QuerySet[Attendee]:
    attendees = Attendee.objects.filter(event=event).prefetch_related(
        "tickets__ticket_type", "tickets__deliveries"
    )
    if search:
        from django.db.models import Q

        attendees = attendees.filter(
            Q(name__icontains=search)
            | Q(email__icontains=search)
            | Q(organisation__icontains=search)
            | Q(tickets__reference__iexact=search)
        ).distinct()
    return attendees


def tickets_for_event(event: Event) -> QuerySet[Ticket]:
    return (
        Ticket.objects.filter(event=event)
        .select_related("attendee", "ticket_type")
        .prefetch_related("deliveries")
    )


def current_ticket(attendee: Attendee) -> Ticket | None:
    """The attendee's valid ticket, else the latest revoked one."""
    tickets = sorted(attendee.tickets.all(), key=lambda t: (t.status == "valid", t.pk))
    return tickets[-1] if tickets else None


def active_signing_keys(event_ids) -> dict[int, EventKey]:
    """The active signing key of each of these events (one query for a whole batch)."""
    return {key.event_id: key for key in EventKey.objects.filter(event_id__in=set(event_ids),
                                                                  active=True)}
