"""Read-side queries: who may see what, and the lists the API and admin show."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet

from core.text import search_key
from tickets.models import Attendee, Delivery, Event, EventKey, Organiser, Ticket, TicketType
from tickets.signing import normalise_reference

# The part of a query a search reads: enough for any name, short enough that folding it and
# matching it stays cheap whatever is sent.
SEARCH_QUERY_LENGTH = 100


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


def matching_attendees(
    attendees: QuerySet[Attendee], query: str, *, emails: bool = True,
    event_id: int | None = None,
) -> QuerySet[Attendee]:
    """``attendees`` narrowed to those ``query`` finds: the one place a search is built (the
    door, the organiser API, the console).

    A match is the folded query (``core.text.search_key``) inside the folded name or
    organisation (``emails``: or address) — accent-, case- and script-blind — or the query
    read as a ticket reference (``normalise_reference``). Each arm is indexed on PostgreSQL
    (pg_trgm GIN on the folded columns, the ticket's unique (event, reference) index when
    ``event_id`` is given), so the OR is a BitmapOr of index scans, not a read of every row:
    the reference is looked up first into attendee ids rather than joined, as an OR across a
    join could use no index. A query with nothing searchable in it finds nobody.
    """
    query = query[:SEARCH_QUERY_LENGTH]
    key = search_key(query)
    match = Q()
    if key:
        match |= Q(search_name__contains=key)
        if emails:
            match |= Q(search_email__contains=key)
    reference = normalise_reference(query)
    if reference:
        tickets = Ticket.objects.filter(reference=reference, attendee__in=attendees)
        if event_id is not None:
            tickets = tickets.filter(event_id=event_id)
        ids = list(tickets.values_list("attendee_id", flat=True))
        if ids:
            match |= Q(pk__in=ids)
    if not match:
        return attendees.none()
    return attendees.filter(match)


def offered_ticket_types(public_only: bool) -> QuerySet[TicketType]:
    """The ticket types a registration may choose from, the default (first) one first: the
    public ones only for self-service."""
    types = TicketType.objects.order_by("position", "id")
    return types.filter(public=True) if public_only else types


def default_public_ticket_type(slug: str) -> TicketType | None:
    """The ticket type a self-service registration for the event ``slug`` gets when it names
    none, with its event (one query instead of the event's and then the type's); None if the
    event does not exist or offers no public type."""
    return (offered_ticket_types(public_only=True).select_related("event")
            .filter(event__slug=slug).first())


def attendees_for_event(event: Event, search: str = "") -> QuerySet[Attendee]:
    attendees = Attendee.objects.filter(event=event)
    if search.strip():
        attendees = matching_attendees(attendees, search, event_id=event.pk)
    return attendees.prefetch_related("tickets__ticket_type", "tickets__deliveries")


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


# --- deliveries (for the API, the admin and issue_tickets) ---------------------------------


def latest_delivery(ticket: Ticket) -> Delivery | None:
    """The most recent delivery of the ticket (uses a prefetch of ``deliveries`` if any)."""
    cache = getattr(ticket, "_prefetched_objects_cache", {})
    if "deliveries" in cache:
        rows = list(cache["deliveries"])
        return max(rows, key=lambda d: d.pk) if rows else None
    return ticket.deliveries.order_by("-pk").first()


def delivery_progress(ids: list[int]) -> dict[str, int]:
    """Counts by state of these deliveries (``issue_tickets`` polls this)."""
    counts = {state: 0 for state in Delivery.State.values}
    for start in range(0, len(ids), 5000):
        for state, count in _count_states(ids[start : start + 5000]):
            counts[state] += count
    return counts


def _count_states(ids: list[int]):
    return (
        Delivery.objects.filter(pk__in=ids).values_list("state").annotate(n=Count("pk"))
        .order_by()
    )


def valid_ticket_for_email(event: Event, key: str) -> Ticket | None:
    """The valid ticket of the event's attendee whose e-mail key (``core.text.email_key``) is
    ``key``, with its attendee, or None."""
    return (
        Ticket.objects.select_related("attendee")
        .filter(event=event, attendee__email_key=key, status=Ticket.Status.VALID)
        .first()
    )
