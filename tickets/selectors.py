"""Read-side queries: who may see what, and the lists the API and admin show."""

from __future__ import annotations

import datetime as dt
import time
from functools import cache

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Count, Min, Q, QuerySet

from core import statements
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


# What a registration does not read of its event: the logo (up to a few hundred kB of bytes)
# and the texts the pages show. Left deferred, loaded only if something asks for them.
_EVENT_FIELDS_NOT_READ = frozenset({"logo", "description", "practical_info"})


@cache
def _default_public_type_query() -> tuple[str, list, list, list]:
    """The SQL of ``default_public_ticket_type``, its two models' fields, and each column's
    converters (the database backend's, then the field's: what the ORM applies), made once
    per process. Why not the ORM's query: compiling it (select_related, ordering, the join)
    cost 1.1 ms of the web process's CPU per registration, ~20% of all of it, for a query that
    is the same every time but for the slug (docs/benchmarks.md, "Registration")."""
    quote = connection.ops.quote_name
    type_fields = list(TicketType._meta.concrete_fields)
    event_fields = [f for f in Event._meta.concrete_fields if f.name not in _EVENT_FIELDS_NOT_READ]
    columns = [f"tt.{quote(f.column)}" for f in type_fields]
    columns += [f"e.{quote(f.column)}" for f in event_fields]
    # The default type is the first of offered_ticket_types: its ordering, by column.
    order = ", ".join(f"tt.{quote(TicketType._meta.get_field(name).column)}"
                      for name in offered_ticket_types(public_only=True).query.order_by)
    event_fk = TicketType._meta.get_field("event")
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(TicketType._meta.db_table)} tt "
        f"JOIN {quote(Event._meta.db_table)} e ON e.{quote(Event._meta.pk.column)} = "
        f"tt.{quote(event_fk.column)} "
        f"WHERE e.{quote(Event._meta.get_field('slug').column)} = %s "
        f"AND tt.{quote(TicketType._meta.get_field('public').column)} = %s "
        f"ORDER BY {order} LIMIT 1"
    )
    converters = []
    for field in (*type_fields, *event_fields):
        column = field.get_col(field.model._meta.db_table)
        converters.append((column, [*connection.ops.get_db_converters(column),
                                    *field.get_db_converters(connection)]))
    return sql, type_fields, event_fields, converters


# A registration rush reads the same row hundreds of times a second: each process keeps what it
# read for this long (``default_public_ticket_type``). A change made elsewhere (an organiser
# closing registration in another process) holds everywhere within it; one made in this
# process at once (``forget_default_ticket_types``, on every save of an event or ticket type).
DEFAULT_TYPE_TTL_S = 1.0
_DEFAULT_TYPES_MAX = 1024  # slugs remembered at once (the table starts again when full)
_default_types: dict[str, tuple[float, list]] = {}


def forget_default_ticket_types() -> None:
    """Read the default ticket types again: now, and again after the current transaction's
    commit (a request of this process reading in between would keep the old row)."""
    _default_types.clear()
    transaction.on_commit(_default_types.clear)


def default_public_ticket_type(slug: str) -> TicketType | None:
    """The ticket type a self-service registration for the event ``slug`` gets when it names
    none (the first of ``offered_ticket_types(public_only=True)``), with its event, in one
    query (the row kept ``DEFAULT_TYPE_TTL_S`` per process); None if the event does not exist
    or offers no public type. New model instances each call: nothing is shared between
    requests but the row's values."""
    now = time.monotonic()
    kept = _default_types.get(slug)
    if kept is not None and now - kept[0] < DEFAULT_TYPE_TTL_S:
        values = kept[1]
    else:
        values = _read_default_public_type(slug)
        if values is None:
            _default_types.pop(slug, None)
            return None
        if len(_default_types) >= _DEFAULT_TYPES_MAX:
            _default_types.clear()
        _default_types[slug] = (now, values)
    _sql, type_fields, event_fields, _converters = _default_public_type_query()
    db = connections[DEFAULT_DB_ALIAS]  # not the proxy: a thread-local look-up per use
    ticket_type = TicketType.from_db(db.alias, [f.attname for f in type_fields],
                                     values[:len(type_fields)])
    ticket_type.event = Event.from_db(db.alias, [f.attname for f in event_fields],
                                      values[len(type_fields):])
    return ticket_type


def _read_default_public_type(slug: str) -> list | None:
    """The row's values as the models take them (the ORM's converters applied), or None."""
    sql, _type_fields, _event_fields, converters = _default_public_type_query()
    row = statements.fetch_one(sql, [slug, True])  # prepared once per connection
    if row is None:
        return None
    db = connections[DEFAULT_DB_ALIAS]
    values = []
    for value, (column, field_converters) in zip(row, converters, strict=True):
        for convert in field_converters:
            value = convert(value, column, db)
        values.append(value)
    return values


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


def delivery_backlog() -> dict[str, tuple[int, dt.datetime | None]]:
    """Deliveries not sent, by state: (how many, when the oldest was queued) for queued,
    sending, in doubt and failed (the operators' metrics; the (state, next attempt) index)."""
    states = [*Delivery.OPEN_STATES, Delivery.State.FAILED]
    found = {
        state: (count, oldest)
        for state, count, oldest in Delivery.objects.filter(state__in=states)
        .values("state").annotate(n=Count("id"), oldest=Min("queued_at"))
        .values_list("state", "n", "oldest")
    }
    return {str(state): found.get(state, (0, None)) for state in states}
