"""The process's aggregates and the scan-log reader they share (the tick), and how they are
loaded from the database (see the package docstring)."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable

from django.db import connection
from django.db.models import Max, Q

from checkin.attendance.state import FEED_LENGTH, UTC, EventState, Row
from checkin.models import CheckinList, Presence, ScanLog
from tickets.models import Event, Ticket

# The name it had before the attendance package: operators filter their logs on it.
log = logging.getLogger("checkin.attendance")

# An unseen id below the watermark is looked for during GAP_TTL seconds: every log row is
# written by a statement or transaction that commits milliseconds after taking its id.
GAP_TTL = 10.0
# Ids can only be in flight for as many scans as run at once (the server's threads), so a jump
# wider than this is a sequence gap (rows deleted, ids burnt in bulk), not rows to wait for.
MAX_GAP_SPAN = 64
MAX_GAPS = 1_024
PAGE = 5_000  # log rows read per query
REBUILD_SECONDS = 300.0
IDLE_SECONDS = 600.0
SYNC_SECONDS = 1.0  # registrations and revocations are looked for this often (and with scans)
# Rebuilds asked for by a change no log row explains (a revocation) wait at least this long.
MIN_REBUILD_INTERVAL = 5.0

# Columns read from the log for each new row (no join). Names (for the feed), the first entry
# of a conflict and what an annul row undoes are read afterwards for the few rows that need them.
_LOG_COLUMNS = (
    "id", "event_id", "list_id", "device_id", "user_id", "ticket_id", "direction", "result",
    "reason", "source", "scanned_at", "conflict", "annuls_id",
)
_ANNULLED_COLUMNS = ("id", "device_id", "direction", "result", "ticket_id")


_TICKET_COLUMNS = ("id", "attendee_id", "ticket_type_id", "status", "attendee__organisation")
_PRESENCE_COLUMNS = ("ticket_id", "first_entry_at", "inside", "entries")


def _group_presences(presences: Iterable[tuple]) -> dict[int, list[tuple]]:
    by_ticket: dict[int, list[tuple]] = {}
    for ticket_id, first_entry_at, inside, entries in presences:
        by_ticket.setdefault(ticket_id, []).append((first_entry_at, inside, entries))
    return by_ticket


def _presences(list_ids: Iterable[int], ticket_ids: list[int]) -> list[tuple]:
    """Presences of some tickets, by the ``(list, ticket)`` unique index."""
    if connection.vendor == "postgresql":
        # Two array parameters instead of an IN list of hundreds: the statement text stays
        # the same whatever the number of tickets (no client-side parsing of a long query).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT ticket_id, first_entry_at, inside, entries FROM checkin_presence"
                " WHERE list_id = ANY(%s) AND ticket_id = ANY(%s)",
                [sorted(list_ids), ticket_ids],
            )
            return cursor.fetchall()
    return list(
        Presence.objects.filter(list_id__in=list_ids, ticket_id__in=ticket_ids).values_list(
            *_PRESENCE_COLUMNS
        )
    )


def _refresh_people(state: EventState, attendee_ids: set[int]) -> bool:
    """Re-read the presences of some attendees (after their scans); True if any changed.

    One indexed query on ``(list, ticket)``; what the attendee is (organisation, ticket type,
    valid or not) is already in memory.
    """
    ticket_ids = [t for a in attendee_ids for t in state.attendee_tickets.get(a, ())]
    by_ticket = _group_presences(_presences(state.list_ids, ticket_ids))
    changed = False
    for attendee_id in attendee_ids:
        changed |= state.set_person(attendee_id, state.person(attendee_id, by_ticket))
    return changed


def _rows(queryset) -> list[Row]:
    rows = [Row(*values) for values in queryset.values_list(*_LOG_COLUMNS)]
    undone = {row.annuls_id for row in rows if row.annuls_id is not None}
    if undone:
        found = {
            values[0]: values[1:]
            for values in ScanLog.objects.filter(pk__in=undone).values_list(*_ANNULLED_COLUMNS)
        }
        for row in rows:
            if row.annuls_id in found:
                (row.annuls_device_id, row.annuls_direction, row.annuls_result,
                 row.annuls_ticket_id) = found[row.annuls_id]
    # Names for what the dashboard lists: each event's last FEED_LENGTH rows and conflicts.
    shown: list[Row] = []
    per_event: Counter = Counter()
    for row in reversed(rows):
        per_event[row.event_id] += 1
        if per_event[row.event_id] <= FEED_LENGTH or row.conflict:
            shown.append(row)
    tickets = {row.ticket_id or row.annuls_ticket_id for row in shown} - {None}
    if tickets:
        names = {
            pk: (name, organisation)
            for pk, name, organisation in Ticket.objects.filter(pk__in=tickets).values_list(
                "pk", "attendee__name", "attendee__organisation"
            )
        }
        for row in shown:
            row.name, row.organisation = names.get(row.ticket_id or row.annuls_ticket_id,
                                                   (None, None))
    conflicts = [row for row in shown if row.conflict]
    if conflicts:
        first = dict(
            ScanLog.objects.filter(pk__in=[row.id for row in conflicts]).values_list(
                "id", "first_checked_in_at"
            )
        )
        for row in conflicts:
            row.first_checked_in_at = first.get(row.id)
    return rows


class Hub:
    """The process's aggregates and the log reader they share; every method holds ``lock``."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        # Versions are unique in the process, so a rebuilt aggregate never repeats one.
        self.versions = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.watermark: int | None = None
            self.gaps: dict[int, float] = {}
            self.states: dict[int, EventState] = {}
            self.last_poll = 0.0
            self.last_sync = 0.0
            # When the figures were last brought up to date with the database.
            self.checked_at = dt.datetime.now(UTC)
            self.changed.notify_all()

    # --- building an event's aggregate ------------------------------------------------------

    def _build(self, event: Event) -> EventState:
        if self.watermark is None:
            self.watermark = ScanLog.objects.aggregate(m=Max("id"))["m"] or 0
            self.gaps.clear()
        state = EventState(
            event_id=event.pk,
            created_at=event.created_at,
            timezone=event.timezone,
            start=event.start,
            end=event.end,
        )
        state.issued_seen, state.last_serial = Event.objects.values_list(
            "issued_count", "last_serial"
        ).get(pk=event.pk)
        state.list_ids = set(
            CheckinList.objects.filter(event_id=event.pk).values_list("id", flat=True)
        )
        tickets = Ticket.objects.filter(event_id=event.pk).values_list(*_TICKET_COLUMNS)
        attendees = state.add_tickets(tickets.iterator(chunk_size=PAGE))
        presences = Presence.objects.filter(event_id=event.pk).values_list(*_PRESENCE_COLUMNS)
        by_ticket = _group_presences(presences.iterator(chunk_size=PAGE))
        for attendee_id in attendees:
            state.set_person(attendee_id, state.person(attendee_id, by_ticket))
        # The event's log up to the watermark, less the ids still awaited as gaps (the reader
        # counts those when they appear): each row is counted exactly once.
        after = 0
        excluded = list(self.gaps)
        while True:
            page = ScanLog.objects.filter(
                event_id=event.pk, id__gt=after, id__lte=self.watermark
            ).exclude(id__in=excluded).order_by("id")[:PAGE]
            rows = _rows(page)
            for row in rows:
                state.apply_row(row)
            if len(rows) < PAGE:
                break
            after = rows[-1].id
        state.built_at = time.monotonic()
        state.built_at_wall = dt.datetime.now(UTC)
        return state

    def state_for(self, event: Event) -> EventState:
        state = self.states.get(event.pk)
        if state is None or state.created_at != event.created_at:
            state = self._build(event)
            self.states[event.pk] = state
            state.version = next(self.versions)
        state.last_read = time.monotonic()
        return state

    # --- the tick ---------------------------------------------------------------------------

    def poll(self) -> None:
        """Bring every watched event up to date with the database (one tick)."""
        try:
            self._poll()
        except Exception:
            # A tick cut short (database gone) may have counted rows without re-reading the
            # attendees they touched: rebuild from the database once it answers again.
            for state in self.states.values():
                state.rebuild_wanted = True
            raise

    def _poll(self) -> None:
        now = time.monotonic()
        self.last_poll = now
        checked_at = dt.datetime.now(UTC)
        for event_id, state in list(self.states.items()):
            if now - state.last_read > IDLE_SECONDS:
                del self.states[event_id]
        if not self.states:
            self.watermark = None
            self.gaps.clear()
            return
        if self.watermark is None:
            self.watermark = ScanLog.objects.aggregate(m=Max("id"))["m"] or 0
        touched: dict[int, set[int]] = {}
        dirty: set[int] = set()
        while True:
            rows = self._read_new_rows(now)
            for row in rows:
                state = self.states.get(row.event_id)
                if state is None:
                    continue
                if row.list_id not in state.list_ids:
                    state.list_ids.add(row.list_id)
                ticket_id = state.apply_row(row)
                dirty.add(state.event_id)
                if ticket_id is not None:
                    touched.setdefault(state.event_id, set()).add(ticket_id)
            if len(rows) < PAGE:
                break
        if not rows and self.watermark and not touched:
            # The log never shrinks, except when a test's transaction is rolled back: start
            # over rather than wait for ids that were handed out again.
            top = ScanLog.objects.aggregate(m=Max("id"))["m"] or 0
            if top < self.watermark:
                log.info("scan log shrank (%s < %s): rebuilding attendance", top, self.watermark)
                self.watermark = top
                self.gaps.clear()
                for state in self.states.values():
                    state.rebuild_wanted = True
        if touched or now - self.last_sync >= SYNC_SECONDS:
            self.last_sync = now
            self._sync_registrations(dirty, touched)
        for event_id, ticket_ids in touched.items():
            state = self.states[event_id]
            attendees = set()
            unknown = []
            for ticket_id in ticket_ids:
                known = state.tickets.get(ticket_id)
                if known is None:
                    unknown.append(ticket_id)
                else:
                    attendees.add(known[0])
            if unknown:  # registered after the last sync: learn the ticket now
                attendees |= state.add_tickets(
                    Ticket.objects.filter(pk__in=unknown, event_id=event_id).values_list(
                        *_TICKET_COLUMNS
                    )
                )
            if attendees and _refresh_people(state, attendees):
                dirty.add(event_id)
        for event_id, state in list(self.states.items()):
            due = now - state.built_at > REBUILD_SECONDS
            wanted = state.rebuild_wanted and now - state.built_at > MIN_REBUILD_INTERVAL
            if due or wanted:
                event = Event.objects.filter(pk=event_id).first()
                if event is None:
                    del self.states[event_id]
                    continue
                rebuilt = self._build(event)
                rebuilt.version = next(self.versions)
                rebuilt.last_read = state.last_read
                self.states[event_id] = rebuilt
            elif event_id in dirty:
                state.version = next(self.versions)
        self.checked_at = checked_at
        self.changed.notify_all()

    def _read_new_rows(self, now: float) -> list[Row]:
        for gap, seen in list(self.gaps.items()):
            if now - seen > GAP_TTL:
                del self.gaps[gap]
        condition = Q(id__gt=self.watermark)
        if self.gaps:
            condition |= Q(id__in=list(self.gaps))
        rows = _rows(ScanLog.objects.filter(condition).order_by("id")[:PAGE])
        last = self.watermark
        for row in rows:
            if row.id <= self.watermark:
                self.gaps.pop(row.id, None)
                continue
            # Ids between the previous row and this one are not visible yet (or never will be).
            for missing in range(max(last + 1, row.id - MAX_GAP_SPAN), row.id):
                self.gaps[missing] = now
            last = row.id
        self.watermark = last
        if len(self.gaps) > MAX_GAPS:
            for gap in sorted(self.gaps)[: len(self.gaps) - MAX_GAPS]:
                del self.gaps[gap]
        return rows

    def _sync_registrations(self, dirty: set[int], touched: dict[int, set[int]]) -> None:
        """Load new tickets by serial; a revocation (fewer valid tickets) asks for a rebuild."""
        if not self.states:
            return
        rows = Event.objects.filter(pk__in=list(self.states)).values_list(
            "pk", "issued_count", "last_serial", "created_at", "start", "end", "timezone"
        )
        for event_id, issued, last_serial, created_at, start, end, zone in rows:
            state = self.states[event_id]
            if created_at != state.created_at:
                del self.states[event_id]
                touched.pop(event_id, None)
                continue
            if (start, end, zone) != (state.start, state.end, state.timezone):
                # The organiser moved the event: only the chart's window changes.
                state.start, state.end, state.timezone = start, end, zone
                dirty.add(event_id)
            if last_serial > state.last_serial:
                attendees = state.add_tickets(
                    Ticket.objects.filter(
                        event_id=event_id, serial__gt=state.last_serial, serial__lte=last_serial
                    ).values_list(*_TICKET_COLUMNS)
                )
                state.last_serial = last_serial
                if attendees and _refresh_people(state, attendees):
                    dirty.add(event_id)
            if issued != state.issued_seen:
                # Fewer valid tickets than the records say: a revocation, which no log row
                # announces. (Compared only when the counter moves, so an event whose counter
                # disagrees with its tickets for another reason is not rebuilt on every tick.)
                state.issued_seen = issued
                if issued != state.totals[0]:
                    state.rebuild_wanted = True
        for event_id in set(self.states) - {r[0] for r in rows}:
            del self.states[event_id]  # the event was deleted
            touched.pop(event_id, None)

    def refresh(self, max_age: float) -> None:
        if time.monotonic() - self.last_poll >= max_age:
            self.poll()


hub = Hub()


def reset() -> None:
    """Forget every aggregate (tests roll back the database under the process's feet)."""
    hub.reset()
