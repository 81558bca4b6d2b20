"""An event's live aggregate: one record per attendee and the sums over them, the counters
fed by scan-log rows, and the dashboard's serialised view (see the package docstring for how
it is kept up to date)."""

from __future__ import annotations

import bisect
import datetime as dt
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from checkin.models import Direction, Result
from tickets.models import Ticket

UTC = dt.UTC
BUCKET_SECONDS = 5 * 60  # arrivals per 5 minutes
FEED_LENGTH = 30  # recent scans on the dashboard
# A gate's pace is its scans over a sliding minute counted in 5-second steps: the last complete
# calendar minute said "0/min" right after 20 scans in the current one.
PACE_STEP_SECONDS = 5
PACE_WINDOW_SECONDS = 60
CONFLICTS_LISTED = 20


def bucket_of(value: dt.datetime, seconds: int) -> int:
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
class Row:
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
class DeviceCounts:
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
class EventState:
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
    devices: dict[int | None, DeviceCounts] = field(default_factory=dict)
    minutes: Counter = field(default_factory=Counter)  # (device_id, minute epoch) -> scans
    # (device_id, 5-second epoch) -> scans; steps older than the pace window are dropped.
    steps: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)
    conflicts: int = 0
    recent_conflicts: deque = field(default_factory=lambda: deque(maxlen=CONFLICTS_LISTED))
    # The most recent scans by scan time, oldest first (an offline upload arrives after newer
    # scans but takes its place by the time the device scanned it).
    feed: list = field(default_factory=list)
    version: int = 0
    last_row_id: int = 0  # the highest scan-log id counted (the payload's "seq")
    built_at: float = 0.0
    built_at_wall: dt.datetime = field(default_factory=lambda: dt.datetime.now(UTC))
    rebuild_wanted: bool = False
    last_read: float = 0.0
    view: LiveView | None = None
    view_step: int = -1  # the pace step the cached view was computed in
    device_names: dict[int, tuple[str, str]] = field(default_factory=dict)
    type_names: list[tuple] = field(default_factory=list)
    names_read_at: float = -1e9
    chart: str = ""
    chart_phone: str = ""  # the same chart drawn for a phone's width
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
            self.arrivals[bucket_of(p.arrived_at, BUCKET_SECONDS)] += sign

    # --- scan-log rows --------------------------------------------------------------------

    def apply_row(self, r: Row) -> int | None:
        """Count one log row; return the ticket whose presence it may have changed."""
        self.last_row_id = max(self.last_row_id, r.id)
        if r.direction == Direction.ANNUL:
            if r.result == Result.OK and r.annuls_result == Result.OK:
                counts = self.devices.setdefault(r.annuls_device_id, DeviceCounts())
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
            self._add_to_feed(item)
            return r.ticket_id or r.annuls_ticket_id
        counts = self.devices.setdefault(r.device_id, DeviceCounts())
        counts.scans += 1
        if counts.last_scan_at is None or r.scanned_at > counts.last_scan_at:
            counts.last_scan_at = r.scanned_at
        self.minutes[(r.device_id, bucket_of(r.scanned_at, 60))] += 1
        self.steps[(r.device_id, bucket_of(r.scanned_at, PACE_STEP_SECONDS))] += 1
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
        self._add_to_feed(self._feed_item(r))
        return r.ticket_id if r.result == Result.OK else None

    def _add_to_feed(self, item: dict) -> None:
        """Keep the ``FEED_LENGTH`` latest scans by scan time (ties by log id)."""
        bisect.insort(self.feed, item, key=_feed_order)
        if len(self.feed) > FEED_LENGTH:
            del self.feed[0]

    def pace(self, device_id: int | None, now: dt.datetime) -> int:
        """The device's scans in the sliding minute up to ``now`` (5-second steps)."""
        current = bucket_of(now, PACE_STEP_SECONDS)
        first = current - PACE_WINDOW_SECONDS + PACE_STEP_SECONDS
        return sum(
            self.steps.get((device_id, step), 0)
            for step in range(first, current + PACE_STEP_SECONDS, PACE_STEP_SECONDS)
        )

    def forget_old_steps(self, now: dt.datetime) -> None:
        """Drop the steps the pace window has left behind (a day holds 17,280 of them)."""
        oldest = bucket_of(now, PACE_STEP_SECONDS) - PACE_WINDOW_SECONDS
        for key in [key for key in self.steps if key[1] < oldest]:
            del self.steps[key]

    @staticmethod
    def _feed_item(r: Row) -> dict:
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


def _feed_order(item: dict) -> tuple[dt.datetime, int]:
    return item["scanned_at"], item["id"]
