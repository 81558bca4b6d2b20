"""A registration on PostgreSQL: the place, the attendee and the ticket in one statement.

Why: every registration for an event takes a place on the event row (``capacity``), so all of
them queue on that one row's lock, which is held until the transaction commits. Taken with the
ORM (conditional UPDATEs of the event and the ticket type, reading the serial back, then the
attendee and the ticket inserted, each in a savepoint) the lock was held for nine round trips
between the web thread and the server, and each registration waited for all of those of the
registrations ahead of it (measured: three quarters of a web worker's time waiting on the lock,
docs/benchmarks.md, "Registration"). Here the lock is taken by the first part of the one
statement below, and the statement is its own transaction (autocommit) that commits without
waiting for the disk: the lock is held while the server runs the statement, never across a
round trip to a web thread (which, between two statements, may wait 5 ms per other thread for
the GIL before it sends the COMMIT that frees the row).

The rules are the ones of ``capacity.reserve_place`` and ``registration.register``, in the same
order and with the same lock order (event row, ticket type row, then the attendee's e-mail key),
so a CSV import (which takes the event row first and keeps it) and single registrations still
cannot deadlock:

1. ``e``: the event's place and serial, a conditional UPDATE (``issued_count < capacity``
   re-checked on the row's newest version once the lock is ours, as with the ORM's UPDATE),
   taken only if, as the statement's snapshot sees them, the address is not known for the
   event and the ticket type is not full: the usual refusals (a second registration, the
   rush after the last place) then change nothing and need no failure, and the answer's last
   columns say which it was (read from the same snapshot). Those reads take no lock and may
   be a moment old: the parts below decide, as before;
2. ``tt``: the ticket type's place, only if the event had one;
3. ``a``: the attendee, only if both places were taken; ``ON CONFLICT DO NOTHING`` on the one
   attendee per e-mail key rule, so a duplicate gives no row instead of an error (waiting, as
   an INSERT does, for a concurrent transaction holding the same key to end);
4. ``t``: the ticket with the event's new serial, ``ON CONFLICT DO NOTHING`` too, so that a
   random reference already taken (1 in 32^8 per ticket of the event) gives no row and the
   caller tries again with another.

Data-modifying CTEs all run to completion, so when a later part gives no row after the event's
place was taken, the statement fails on purpose (the last column casts a marked text to an
integer only then), which rolls back all of it; ``take_place_and_issue`` raises ``Refused``
and the caller finds out why (duplicate, ticket type full, or a reference to draw again).
A full event takes nothing and needs no failure. (PostgreSQL logs each such failure as an
ERROR naming the marked text: only for refusals the snapshot could not see coming, i.e. two
registrations racing for the same address or the last place.)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.db import DataError, connection, models

from core import statements
from tickets.models import Attendee, Event, Ticket, TicketType

# The marked text of the deliberate failure (a cast of text to integer, so a DataError).
REFUSED = "varco-registration-refused"


class Refused(Exception):
    """The event's place was taken but the ticket type was full, the e-mail key taken or the
    random reference taken: the statement was rolled back whole."""


@dataclass(frozen=True)
class Outcome:
    """What the statement did: ``ticket_id`` set = registered with ``serial``; None = nothing
    was changed, and then why, as the statement's snapshot saw it: the address is ``known``,
    the event or the ticket type is full (all False: the event is gone)."""

    serial: int | None
    ticket_id: int | None
    known: bool = False
    event_full: bool = False
    type_full: bool = False


def _insert_columns(model: type[models.Model], computed: dict[str, str]) -> tuple[str, str, list]:
    """(column list, select list, fields giving parameters) of an INSERT of ``model``.

    Built from the model so that a column added later is written with its Python default, as
    the ORM would. ``computed`` maps a column to an SQL expression over the CTE's rows.
    """
    quote = connection.ops.quote_name
    columns, values, fields = [], [], []
    for field in model._meta.local_concrete_fields:
        if field.primary_key:
            continue
        columns.append(quote(field.column))
        if field.column in computed:
            values.append(computed[field.column])
        else:
            values.append("%s")
            fields.append(field)
    return ", ".join(columns), ", ".join(values), fields


@cache
def _statement() -> tuple[str, list, list]:
    """The statement and the fields whose values it takes, made once per process."""
    quote = connection.ops.quote_name
    a_cols, a_vals, a_fields = _insert_columns(Attendee, {})
    t_cols, t_vals, t_fields = _insert_columns(
        Ticket, {"attendee_id": "a.id", "serial": "e.last_serial"}
    )
    attendee_key = next(c.name for c in Attendee._meta.constraints
                        if isinstance(c, models.UniqueConstraint) and c.fields == ("event",
                                                                                   "email_key"))
    event, ticket_type, attendee = (quote(m._meta.db_table) for m in (Event, TicketType, Attendee))
    known = f"EXISTS (SELECT FROM {attendee} k WHERE k.event_id = %s AND k.email_key = %s)"
    type_full = (f"(SELECT p.capacity IS NOT NULL AND p.issued_count >= p.capacity "
                 f"FROM {ticket_type} p WHERE p.id = %s)")
    event_full = (f"(SELECT v.capacity IS NOT NULL AND v.issued_count >= v.capacity "
                  f"FROM {event} v WHERE v.id = %s)")
    sql = f"""
WITH e AS (
    UPDATE {event}
       SET issued_count = issued_count + 1, last_serial = last_serial + 1
     WHERE id = %s AND (capacity IS NULL OR issued_count < capacity)
       AND NOT {known} AND NOT COALESCE({type_full}, FALSE)
 RETURNING last_serial
), tt AS (
    UPDATE {quote(TicketType._meta.db_table)}
       SET issued_count = issued_count + 1
     WHERE id = %s AND (capacity IS NULL OR issued_count < capacity) AND EXISTS (SELECT FROM e)
 RETURNING id
), a AS (
    INSERT INTO {quote(Attendee._meta.db_table)} ({a_cols})
    SELECT {a_vals} WHERE EXISTS (SELECT FROM tt)
    ON CONFLICT ON CONSTRAINT {quote(attendee_key)} DO NOTHING
 RETURNING id
), t AS (
    INSERT INTO {quote(Ticket._meta.db_table)} ({t_cols})
    SELECT {t_vals} FROM a, e
    ON CONFLICT DO NOTHING
 RETURNING id
)
SELECT (SELECT last_serial FROM e), (SELECT id FROM a), (SELECT id FROM t),
       CASE WHEN %s THEN set_config('synchronous_commit', 'off', true) END,
       CAST(CASE WHEN EXISTS (SELECT FROM e) AND NOT EXISTS (SELECT FROM t)
                 THEN '{REFUSED} ' || (SELECT count(*) FROM a) END AS integer),
       CASE WHEN NOT EXISTS (SELECT FROM e) THEN {known} END,
       CASE WHEN NOT EXISTS (SELECT FROM e) THEN {event_full} END,
       CASE WHEN NOT EXISTS (SELECT FROM e) THEN {type_full} END
"""
    return sql, a_fields, t_fields


def take_place_and_issue(event: Event, ticket_type: TicketType, attendee: Attendee,
                         ticket: Ticket, *, commit_asynchronously: bool) -> Outcome:
    """Run the statement for these unsaved objects (in the caller's transaction); on success
    give them their ids (and the ticket its attendee and serial), as ``save()`` would.

    ``commit_asynchronously``: for a statement run as its own transaction (autocommit), its
    COMMIT does not wait for the WAL to reach the disk (``synchronous_commit = off`` for this
    transaction only, set by the statement itself). The event row's lock is released at
    COMMIT, so a synchronous commit would hold it for a disk flush (5 ms on this machine under
    load: at most 200 registrations/s per event whatever else is done). The caller makes the
    registration durable before anything acts on it (``flush_wal``).
    """
    sql, a_fields, t_fields = _statement()
    key = attendee.email_key
    params = [event.pk, event.pk, key, ticket_type.pk,  # e (with the refusals seen first)
              ticket_type.pk,  # tt
              *statements.field_values(attendee, a_fields),  # a
              *statements.field_values(ticket, t_fields),  # t
              commit_asynchronously, event.pk, key, event.pk, ticket_type.pk]  # the answer
    try:
        # Prepared once per connection (``core.statements``): planning this statement cost
        # about as much database CPU as running it (0.3 to 0.4 ms, docs/benchmarks.md).
        row = statements.fetch_one(sql, params)
    except DataError as exc:
        if REFUSED in str(exc):
            raise Refused from None
        raise
    serial, attendee_id, ticket_id, _, _, known, event_full, type_full = row
    outcome = Outcome(serial, ticket_id, bool(known), bool(event_full), bool(type_full))
    if ticket_id is not None:
        attendee.pk = attendee_id
        ticket.pk, ticket.serial, ticket.attendee = ticket_id, serial, attendee
        for obj in (attendee, ticket):
            obj._state.adding, obj._state.db = False, connection.alias
    return outcome


def flush_wal() -> None:
    """Wait until everything this connection committed is on disk.

    A transaction that has a transaction id commits synchronously (the setting is back to the
    server's after the asynchronous one) and so flushes the WAL up to its own commit record,
    which comes after the registration's: once this returns, a crash cannot lose the
    registration. Concurrent flushes share one disk write (PostgreSQL's group commit), and no
    lock is held while waiting. Run in autocommit mode, after the registration's COMMIT.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT txid_current()")
