"""Live attendance figures: what the attendance API, the dashboard and its live updates read.

How the figures stay cheap (issue: "never a scan of the whole log per update")
-------------------------------------------------------------------------------
Each web process keeps, per event being watched, an in-memory aggregate that is brought up to
date *incrementally*, at most once per tick (``VARCO_ATTENDANCE_TICK_MS``, 500 ms), and only
while someone is reading it:

* **Who came, who is in** comes from ``Presence`` (the state the scan path keeps, one row per
  list and ticket), never from replaying entries. The aggregate holds one small record per
  attendee (organisation, ticket type, holds a valid ticket, first arrival, inside now) and the
  sums over them (totals, per ticket type, per organisation, arrivals per 5 minutes). A tick
  re-reads only the attendees whose tickets appear in the scan-log rows that are new since the
  last tick (an indexed ``Presence`` lookup on ``(list, ticket)``), subtracts their old record
  and adds the new one. Because the record is re-read, not derived from the row, exits,
  re-entries, offline uploads and annulled scans all come out exactly as the scan path left
  ``Presence``.
* **What happened where** (rejections by reason, scans per gate and per minute, offline
  conflicts, the recent-scans feed) are counters fed by the same new scan-log rows.
* **New rows** are found with an id watermark: one primary-key range query per tick,
  ``id > watermark``, shared by every event the process watches. Ids are handed out before
  commit, so a row can become visible after a row with a higher id; ids skipped by a tick are
  remembered as gaps and looked up again by primary key on the following ticks until they show
  up (or for ``GAP_TTL`` seconds: ids are also burnt by retried scans and rollbacks).
* **Registrations** are noticed from the event row (``last_serial``, ``issued_count``): new
  serials are loaded by the ``(event, serial)`` index; a revocation (``issued_count`` lower than
  the valid tickets held) triggers a rebuild.

So a tick costs a handful of indexed queries proportional to the scans since the last tick,
however many tickets or log rows exist and however many dashboards are connected (they share
the process's aggregate and its serialised payload). A full rebuild (all tickets, presences
and the event's log rows) happens when a process first watches an event and every
``REBUILD_SECONDS`` after that, which also picks up edits no scan announces (an attendee's
organisation corrected in the admin). Aggregates of events nobody has read for
``IDLE_SECONDS`` are dropped.

Why not counters written by the scan itself: the scan is the hot path (one SQL statement on
PostgreSQL); a counter row per event would serialise every scan of an event on one row lock,
and a trigger calling ``pg_notify`` takes a global lock at commit. Reading the log behind the
scans costs the scan endpoint nothing.

Live updates: the dashboard's Server-Sent-Events streams wait in ``wait_for_change``; the first
waiting thread whose tick is due runs the tick for everybody (under the process lock) and
wakes the others, so a process polls the database once per tick whatever the number of
dashboards, and not at all when nobody watches.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import logging
import threading
import time
import zoneinfo
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import Max, Q

from checkin.models import CheckinList, Device, Direction, Presence, Reason, Result, ScanLog
from tickets.models import Event, Ticket, TicketType

log = logging.getLogger(__name__)

UTC = dt.UTC
BUCKET_SECONDS = 5 * 60  # arrivals per 5 minutes
# The arrivals chart covers at most two weeks from the start's day (4,032 buckets): an event
# stored as lasting years (2000 to 2017, which the API accepts) answered 1.8 million buckets
# in 11 s. Later arrivals are counted in ``outside``.
MAX_CHART_SECONDS = 14 * 24 * 3600
GATE_MINUTES = 15  # gate throughput: scans per minute over the last 15 minutes
FEED_LENGTH = 30  # recent scans on the dashboard
CONFLICTS_LISTED = 20
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
NAMES_SECONDS = 30.0  # device and ticket-type names are re-read this often
SYNC_SECONDS = 1.0  # registrations and revocations are looked for this often (and with scans)
# Rebuilds asked for by a change no log row explains (a revocation) wait at least this long.
MIN_REBUILD_INTERVAL = 5.0

REASONS = [r.value for r in Reason]

# Columns read from the log for each new row (no join). Names (for the feed), the first entry
# of a conflict and what an annul row undoes are read afterwards for the few rows that need them.
_LOG_COLUMNS = (
    "id", "event_id", "list_id", "device_id", "user_id", "ticket_id", "direction", "result",
    "reason", "source", "scanned_at", "conflict", "annuls_id",
)
_ANNULLED_COLUMNS = ("id", "device_id", "direction", "result", "ticket_id")


def _tick() -> float:
    return settings.VARCO_ATTENDANCE_TICK_MS / 1000.0


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _bucket(value: dt.datetime, seconds: int) -> int:
    epoch = int(value.timestamp())
    return epoch - epoch % seconds


class Person(NamedTuple):
    """One attendee's contribution to the figures.

    A tuple of plain values, which the garbage collector stops tracking: 20,000 of them cost
    no collection time.
    """

    organisation: str
    ticket_type_id: int | None
    registered: bool  # holds a valid ticket
    arrived_at: dt.datetime | None  # first admitted entry on any list (not annulled)
    inside: bool


@dataclass(slots=True)
class _Row:
    """A scan-log row as the aggregate needs it."""

    id: int
    event_id: int
    list_id: int
    device_id: int | None
    user_id: int | None
    ticket_id: int | None
    direction: str
    result: str
    reason: str | None
    source: str
    scanned_at: dt.datetime
    conflict: bool
    annuls_id: int | None
    # Read afterwards, only for the rows the feed or the conflict list will show.
    name: str | None = None
    organisation: str | None = None
    first_checked_in_at: dt.datetime | None = None
    # For an annul row: the undone scan's device, direction, result and ticket.
    annuls_device_id: int | None = None
    annuls_direction: str | None = None
    annuls_result: str | None = None
    annuls_ticket_id: int | None = None


@dataclass(slots=True)
class _DeviceCounts:
    scans: int = 0  # entry and exit scans, accepted or not
    entries: int = 0  # accepted entries, less the annulled ones
    exits: int = 0
    rejected: int = 0
    annulled: int = 0
    last_scan_at: dt.datetime | None = None


@dataclass
class LiveView:
    """What a dashboard receives: the API figures plus the feed and the chart, serialised once."""

    version: int
    etag: str
    payload: dict
    text: str  # JSON of ``payload``


@dataclass
class _EventState:
    event_id: int
    created_at: dt.datetime
    timezone: str
    start: dt.datetime
    end: dt.datetime
    list_ids: set[int] = field(default_factory=set)
    people: dict[int, Person] = field(default_factory=dict)
    # What scans do not change, kept to rebuild an attendee's record from presences alone.
    tickets: dict[int, tuple[int, int, str]] = field(default_factory=dict)  # attendee, type, status
    attendee_tickets: dict[int, tuple[int, ...]] = field(default_factory=dict)
    organisations: dict[int, str] = field(default_factory=dict)
    last_serial: int = 0
    issued_seen: int = 0  # the event's issued_count when last compared
    # [registered, checked_in, inside, no_shows] for everyone, per ticket type, per organisation
    totals: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    by_type: dict[int | None, list[int]] = field(default_factory=dict)
    by_org: dict[str, list[int]] = field(default_factory=dict)
    arrivals: Counter = field(default_factory=Counter)
    devices: dict[int | None, _DeviceCounts] = field(default_factory=dict)
    minutes: Counter = field(default_factory=Counter)  # (device_id, minute epoch) -> scans
    rejected: Counter = field(default_factory=Counter)
    conflicts: int = 0
    recent_conflicts: deque = field(default_factory=lambda: deque(maxlen=CONFLICTS_LISTED))
    feed: deque = field(default_factory=lambda: deque(maxlen=FEED_LENGTH))
    version: int = 0
    last_row_id: int = 0  # the highest scan-log id counted (the payload's "seq")
    built_at: float = 0.0
    built_at_wall: dt.datetime = field(default_factory=lambda: dt.datetime.now(UTC))
    rebuild_wanted: bool = False
    last_read: float = 0.0
    view: LiveView | None = None
    view_minute: int = -1
    device_names: dict[int, tuple[str, str]] = field(default_factory=dict)
    type_names: list[tuple] = field(default_factory=list)
    names_read_at: float = -1e9
    chart: str = ""
    chart_key: tuple | None = None

    # --- per-attendee records and their sums ---------------------------------------------

    def add_tickets(self, rows: Iterable[tuple]) -> set[int]:
        """Remember tickets (``_TICKET_COLUMNS`` rows); return their attendees."""
        attendees = set()
        for ticket_id, attendee_id, type_id, status, organisation in rows:
            if ticket_id not in self.tickets:
                self.attendee_tickets[attendee_id] = (
                    *self.attendee_tickets.get(attendee_id, ()), ticket_id
                )
            self.tickets[ticket_id] = (attendee_id, type_id, status)
            self.organisations[attendee_id] = organisation or ""
            attendees.add(attendee_id)
        return attendees

    def person(self, attendee_id: int, presences: dict[int, list[tuple]]) -> Person | None:
        """An attendee's record from their tickets and the presences of those tickets."""
        ticket_ids = self.attendee_tickets.get(attendee_id)
        if not ticket_ids:
            return None
        # The valid ticket, else the latest one, says which type the attendee counts under.
        current = max(
            ticket_ids, key=lambda t: (self.tickets[t][2] == Ticket.Status.VALID, t)
        )
        arrived = None
        inside = False
        for ticket_id in ticket_ids:
            for first_entry_at, is_inside, entries in presences.get(ticket_id, ()):
                if entries > 0 and first_entry_at is not None and (
                    arrived is None or first_entry_at < arrived
                ):
                    arrived = first_entry_at
                inside = inside or is_inside
        return Person(
            organisation=self.organisations.get(attendee_id, ""),
            ticket_type_id=self.tickets[current][1],
            registered=self.tickets[current][2] == Ticket.Status.VALID,
            arrived_at=arrived,
            inside=inside,
        )

    def set_person(self, attendee_id: int, new: Person | None) -> bool:
        old = self.people.get(attendee_id)
        if old == new:
            return False
        if old is not None:
            self._add(old, -1)
        if new is None:
            self.people.pop(attendee_id, None)
        else:
            self.people[attendee_id] = new
            self._add(new, 1)
        return True

    def _add(self, p: Person, sign: int) -> None:
        arrived = p.arrived_at is not None
        delta = (
            sign if p.registered else 0,
            sign if arrived else 0,
            sign if p.inside else 0,
            sign if p.registered and not arrived else 0,
        )
        by_type = self.by_type.get(p.ticket_type_id)
        if by_type is None:
            by_type = self.by_type[p.ticket_type_id] = [0, 0, 0, 0]
        by_org = self.by_org.get(p.organisation)
        if by_org is None:
            by_org = self.by_org[p.organisation] = [0, 0, 0, 0]
        for counts in (self.totals, by_type, by_org):
            for k in range(4):
                counts[k] += delta[k]
        if arrived:
            self.arrivals[_bucket(p.arrived_at, BUCKET_SECONDS)] += sign

    # --- scan-log rows --------------------------------------------------------------------

    def apply_row(self, r: _Row) -> int | None:
        """Count one log row; return the ticket whose presence it may have changed."""
        self.last_row_id = max(self.last_row_id, r.id)
        if r.direction == Direction.ANNUL:
            if r.result == Result.OK and r.annuls_result == Result.OK:
                counts = self.devices.setdefault(r.annuls_device_id, _DeviceCounts())
                counts.annulled += 1
                if r.annuls_direction == Direction.ENTRY:
                    counts.entries -= 1
                elif r.annuls_direction == Direction.EXIT:
                    counts.exits -= 1
            item = self._feed_item(r)
            for earlier in self.feed:
                if earlier["id"] == r.annuls_id:
                    earlier["annulled"] = True
                    item["name"] = item["name"] or earlier["name"]
                    item["organisation"] = item["organisation"] or earlier["organisation"]
            self.feed.append(item)
            return r.ticket_id or r.annuls_ticket_id
        counts = self.devices.setdefault(r.device_id, _DeviceCounts())
        counts.scans += 1
        if counts.last_scan_at is None or r.scanned_at > counts.last_scan_at:
            counts.last_scan_at = r.scanned_at
        self.minutes[(r.device_id, _bucket(r.scanned_at, 60))] += 1
        if r.result == Result.OK:
            if r.direction == Direction.ENTRY:
                counts.entries += 1
            else:
                counts.exits += 1
        else:
            counts.rejected += 1
            self.rejected[r.reason] += 1
        if r.conflict:
            self.conflicts += 1
            self.recent_conflicts.append(
                {
                    "scan_id": r.id,
                    "ticket_id": r.ticket_id,
                    "name": r.name,
                    "organisation": r.organisation,
                    "device_id": r.device_id,
                    "scanned_at": r.scanned_at,
                    "first_checked_in_at": r.first_checked_in_at,
                }
            )
        self.feed.append(self._feed_item(r))
        return r.ticket_id if r.result == Result.OK else None

    @staticmethod
    def _feed_item(r: _Row) -> dict:
        return {
            "id": r.id,
            "scanned_at": r.scanned_at,
            "direction": r.direction,
            "result": r.result,
            "reason": r.reason,
            "source": r.source,
            "conflict": r.conflict,
            "annulled": False,
            "device_id": r.device_id,
            "name": r.name,
            "organisation": r.organisation,
        }


# --- loading from the database ----------------------------------------------------------------


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


def _refresh_people(state: _EventState, attendee_ids: set[int]) -> bool:
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


def _rows(queryset) -> list[_Row]:
    rows = [_Row(*values) for values in queryset.values_list(*_LOG_COLUMNS)]
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
    shown: list[_Row] = []
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
            self.states: dict[int, _EventState] = {}
            self.last_poll = 0.0
            self.last_sync = 0.0
            # When the figures were last brought up to date with the database.
            self.checked_at = dt.datetime.now(UTC)
            self.changed.notify_all()

    # --- building an event's aggregate ------------------------------------------------------

    def _build(self, event: Event) -> _EventState:
        if self.watermark is None:
            self.watermark = ScanLog.objects.aggregate(m=Max("id"))["m"] or 0
            self.gaps.clear()
        state = _EventState(
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

    def state_for(self, event: Event) -> _EventState:
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

    def _read_new_rows(self, now: float) -> list[_Row]:
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


# --- snapshots --------------------------------------------------------------------------------


def _arrivals(state: _EventState) -> dict:
    """Arrivals per 5 minutes over the event's day(s), in the event's time zone.

    The window is the event's hours, widened to arrivals on the same local day(s) (doors
    often open before the start); arrivals on other days are only counted in ``outside``.
    """
    tz = zoneinfo.ZoneInfo(state.timezone)
    start_local, end_local = state.start.astimezone(tz), state.end.astimezone(tz)
    day_start = dt.datetime.combine(start_local.date(), dt.time(), tz)
    day_end = dt.datetime.combine(end_local.date() + dt.timedelta(days=1), dt.time(), tz)
    day_end = min(day_end, day_start + dt.timedelta(seconds=MAX_CHART_SECONDS))
    lo, hi = _bucket(state.start, BUCKET_SECONDS), _bucket(state.end, BUCKET_SECONDS)
    if hi < state.end.timestamp():
        hi += BUCKET_SECONDS
    first, last = day_start.timestamp(), day_end.timestamp()
    hi = min(hi, _bucket(day_end, BUCKET_SECONDS))
    outside = 0
    inside_day = {}
    for bucket, count in state.arrivals.items():
        if count <= 0:
            continue
        if first <= bucket < last:
            inside_day[bucket] = count
            lo = min(lo, bucket)
            hi = max(hi, bucket + BUCKET_SECONDS)
        else:
            outside += count
    buckets = []
    for bucket in range(lo, hi, BUCKET_SECONDS):
        moment = dt.datetime.fromtimestamp(bucket, tz)
        buckets.append({"start": moment.isoformat(), "count": inside_day.get(bucket, 0)})
    return {
        "bucket_minutes": BUCKET_SECONDS // 60,
        "timezone": state.timezone,
        "start": dt.datetime.fromtimestamp(lo, tz).isoformat(),
        "end": dt.datetime.fromtimestamp(hi, tz).isoformat(),
        "buckets": buckets,
        "outside": outside,
    }


def _figures(counts: list[int]) -> dict:
    registered, checked_in, inside, no_shows = counts
    return {
        "registered": registered,
        "checked_in": checked_in,
        "inside": inside,
        "no_shows": no_shows,
    }


def _gates(state: _EventState, devices: dict[int, tuple[str, str]], now: dt.datetime) -> list:
    current = _bucket(now, 60)
    minutes = [current - 60 * k for k in range(GATE_MINUTES - 1, -1, -1)]
    gates: dict[str | None, dict] = {}
    for device_id, counts in state.devices.items():
        if device_id is None:
            label, name = None, None
        else:
            name, gate = devices.get(device_id, (f"#{device_id}", ""))
            label = gate or name
        entry = gates.setdefault(
            label,
            {
                "gate": label,
                "scans": 0,
                "entries": 0,
                "exits": 0,
                "rejected": 0,
                "annulled": 0,
                "per_minute": [0] * GATE_MINUTES,
                "devices": [],
            },
        )
        per_minute = [state.minutes.get((device_id, m), 0) for m in minutes]
        for key in ("scans", "entries", "exits", "rejected", "annulled"):
            entry[key] += getattr(counts, key)
        entry["per_minute"] = [a + b for a, b in zip(entry["per_minute"], per_minute, strict=True)]
        entry["devices"].append(
            {
                "id": device_id,
                "name": name,
                "scans": counts.scans,
                "entries": counts.entries,
                "exits": counts.exits,
                "rejected": counts.rejected,
                "annulled": counts.annulled,
                "last_scan_at": iso(counts.last_scan_at),
            }
        )
    for entry in gates.values():
        # Scans in the last complete minute: the gate's current pace.
        entry["last_minute"] = entry["per_minute"][-2] if GATE_MINUTES > 1 else 0
        entry["devices"].sort(key=lambda d: (d["name"] or "", d["id"] or 0))
    return sorted(gates.values(), key=lambda g: (g["gate"] is None, g["gate"] or ""))


def _names(state: _EventState) -> tuple[dict[int, tuple[str, str]], list[tuple]]:
    """Device names and gates, ticket type names: read again every ``NAMES_SECONDS``, or at
    once when a device appears that they do not name (renames show within that delay)."""
    now = time.monotonic()
    unknown = any(pk is not None and pk not in state.device_names for pk in state.devices)
    if unknown or now - state.names_read_at > NAMES_SECONDS:
        state.device_names = {
            pk: (name, gate)
            for pk, name, gate in Device.objects.filter(event_id=state.event_id).values_list(
                "pk", "name", "gate"
            )
        }
        state.type_names = list(
            TicketType.objects.filter(event_id=state.event_id).values_list(
                "pk", "name", "name_i18n"
            )
        )
        state.names_read_at = now
    return state.device_names, state.type_names


def _attendance(state: _EventState, now: dt.datetime) -> dict:
    """The attendance API object (its top-level keys are a contract)."""
    devices, types = _names(state)
    by_type = []
    known = {pk for pk, _, _ in types}
    for pk, name, name_i18n in types:
        by_type.append(
            {"id": pk, "name": name, "name_i18n": name_i18n or {}}
            | _figures(state.by_type.get(pk, [0, 0, 0, 0]))
        )
    for pk, counts in state.by_type.items():
        if pk not in known and any(counts):
            by_type.append({"id": pk, "name": "", "name_i18n": {}} | _figures(counts))
    by_org = [
        {"organisation": org} | _figures(counts)
        for org, counts in state.by_org.items()
        if counts[0] or counts[1]
    ]
    by_org.sort(key=lambda o: (-o["checked_in"], -o["registered"], o["organisation"].casefold()))
    conflicts = []
    for item in reversed(state.recent_conflicts):
        name, gate = devices.get(item["device_id"], (None, None))
        conflicts.append(
            {
                "scan_id": item["scan_id"],
                "ticket_id": item["ticket_id"],
                "name": item["name"],
                "organisation": item["organisation"],
                "device": name,
                "gate": gate or name,
                "scanned_at": iso(item["scanned_at"]),
                "first_checked_in_at": iso(item["first_checked_in_at"]),
            }
        )
    registered, checked_in, inside, no_shows = state.totals
    return {
        "registered": registered,
        "checked_in": checked_in,
        "inside": inside,
        "no_shows": no_shows,
        "arrivals": _arrivals(state),
        "by_ticket_type": by_type,
        "by_organisation": by_org,
        "by_gate": _gates(state, devices, now),
        "rejected": {reason: state.rejected.get(reason, 0) for reason in REASONS},
        "conflicts": {"count": state.conflicts, "recent": conflicts},
        "as_of": iso(now),
    }


def _feed(state: _EventState, devices: dict[int, tuple[str, str]]) -> list[dict]:
    items = []
    for item in reversed(state.feed):
        name, gate = devices.get(item["device_id"], (None, None))
        items.append(
            item | {"scanned_at": iso(item["scanned_at"]), "device": name, "gate": gate or name}
        )
    return items


def _chart(state: _EventState, arrivals: dict, now: dt.datetime) -> str:
    from checkin import arrivals_chart

    # Redrawn only when the bars change or the line's end moves to another 5 minutes.
    key = (tuple(b["count"] for b in arrivals["buckets"]), arrivals["start"],
           _bucket(now, BUCKET_SECONDS))
    if state.chart_key != key:
        state.chart = arrivals_chart.render(arrivals, now=now)
        state.chart_key = key
    return state.chart


def _live_view(state: _EventState, now: dt.datetime) -> LiveView:
    figures = _attendance(state, now)
    as_of = figures.pop("as_of")
    payload = {
        "attendance": figures,
        "feed": _feed(state, state.device_names),
        "chart": _chart(state, figures["arrivals"], now),
        # Every scan-log row up to this id is counted (bar a few still being committed).
        "seq": state.last_row_id,
    }
    # Serialised once for every dashboard of the process. The etag hashes the content without
    # its reading time, so two processes with the same figures give the same etag.
    body = json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"))
    digest = hashlib.sha1(body.encode(), usedforsecurity=False).hexdigest()[:20]
    head = '{"attendance":{'
    text = f'{head}"as_of":{json.dumps(as_of)},{body[len(head):-1]},"etag":"{digest}"}}'
    figures["as_of"] = as_of
    payload["etag"] = digest
    return LiveView(version=state.version, etag=digest, payload=payload, text=text)


def _current_view(state: _EventState) -> LiveView:
    now = dt.datetime.now(UTC)
    minute = _bucket(now, 60)
    view = state.view
    if view is None or view.version != state.version or state.view_minute != minute:
        view = state.view = _live_view(state, now)
        state.view_minute = minute
    return view


# --- the selectors the views call -------------------------------------------------------------


def attendance(event: Event, *, using: Hub | None = None) -> dict:
    """The attendance figures of ``event``, at most one tick old.

    ``using``: another aggregate than the process's (tests compare one that watched a history
    with one built afterwards).
    """
    h = using or hub
    with h.lock:
        h.state_for(event)
        h.refresh(max_age=_tick())
        state = h.states.get(event.pk) or h.state_for(event)
        figures = dict(_current_view(state).payload["attendance"])
        # The figures were true when the database was last read (at most one tick ago).
        figures["as_of"] = iso(max(h.checked_at, state.built_at_wall))
    return figures


def live_view(event: Event) -> LiveView:
    """The dashboard payload, at most one tick old."""
    with hub.lock:
        hub.state_for(event)
        hub.refresh(max_age=_tick())
        state = hub.states.get(event.pk) or hub.state_for(event)
        return _current_view(state)


def wait_for_change(event: Event, version: int, timeout: float) -> LiveView | None:
    """Block until the event's figures differ from ``version`` (or ``timeout`` seconds pass).

    The thread that finds the tick due runs it for every waiter of the process.
    """
    deadline = time.monotonic() + timeout
    with hub.lock:
        while True:
            state = hub.states.get(event.pk) or hub.state_for(event)
            state.last_read = time.monotonic()
            if state.version != version:
                return _current_view(state)
            now = time.monotonic()
            if now >= deadline:
                return None
            # (A floor on the wait: a zero tick means "read on demand", not "spin".)
            due = hub.last_poll + max(_tick(), 0.05)
            if now >= due:
                try:
                    hub.poll()
                except Exception:
                    # A database hiccup must not kill the streams: try again next tick.
                    log.exception("attendance tick failed")
                    hub.last_poll = time.monotonic()
                    from django.db import connection

                    connection.close_if_unusable_or_obsolete()
                continue
            hub.changed.wait(min(due, deadline) - now)
