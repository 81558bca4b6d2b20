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

from checkin.attendance.hub import Hub, reset
from checkin.attendance.selectors import attendance, live_view, wait_for_change
from checkin.attendance.state import LiveView

__all__ = ["Hub", "LiveView", "attendance", "live_view", "reset", "wait_for_change"]
