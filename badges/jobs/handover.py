"""Taking the badge's statement off the scan's path: the receiver hands the admission to one
thread per process, which runs ``queue.queue_for_admission`` (one INSERT … SELECT, committed)
and wakes the station.

Why: the receiver runs in the scan's request after its commit, and an INSERT in autocommit is
a second commit (a second WAL flush) before the door gets its answer — measured at several
milliseconds under load (docs/benchmarks.md). Handed over, the scan pays a queue put.

Why it stays exactly once and durable: the thread's statement is the same idempotent INSERT
(``ON CONFLICT DO NOTHING`` on the one-badge-per-(ticket, layout) index); if the process dies
between the scan's commit and the thread's statement (a few milliseconds), the sweep's
backfill (``sweep.backfill``) finds the admitted entry at a printing list without its badge
and queues it then. ``VARCO_PRINT_QUEUE_INLINE`` runs the statement in the request instead
(the tests of the receiver's rules use it; ``drain`` waits for the thread otherwise).
"""

from __future__ import annotations

import logging
import os
import queue as queues
import threading

from django.conf import settings
from django.db import connection

from badges.jobs import queue

log = logging.getLogger(__name__)

IDLE_SECONDS = 1.0  # the thread closes its database connection after this long without work
MAX_PENDING = 10_000  # beyond, admissions are left to the sweep's backfill (memory bound)


class _HandOver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._pid = 0
        self._inbox: queues.SimpleQueue = queues.SimpleQueue()
        self.pending = 0

    def put(self, admission: dict) -> None:
        with self._lock:
            if self._pid != os.getpid():  # first use in this (possibly forked) process
                self._inbox = queues.SimpleQueue()
                self.pending = 0
                threading.Thread(target=self._run, args=(self._inbox,), daemon=True,
                                 name="badge-queuer").start()
                self._pid = os.getpid()
            if self.pending >= MAX_PENDING:
                log.warning("badge hand-over full: ticket %s left to the sweep",
                            admission["ticket_id"])
                return
            self.pending += 1
        self._inbox.put(admission)

    def _run(self, inbox: queues.SimpleQueue) -> None:
        while True:
            try:
                admission = inbox.get(timeout=IDLE_SECONDS)
            except queues.Empty:
                # Idle: give the connection back (a quiet door for hours keeps none open).
                connection.close()
                continue
            try:
                queue.queue_for_admission(**admission)
            except Exception:
                log.exception("badge of ticket %s (scan %s) not queued; the sweep will",
                              admission["ticket_id"], admission["scan_log_id"])
                connection.close_if_unusable_or_obsolete()
            finally:
                with self._lock:
                    self.pending -= 1
                    self._done.notify_all()

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every admission handed over in this process has been queued."""
        with self._lock:
            return self._done.wait_for(lambda: self.pending <= 0, timeout)


_handover = _HandOver()


def admitted(**admission) -> None:
    """An entry was admitted (after its commit): queue its badge, off the request's path."""
    if admission["list_id"] not in queue.printing_lists:
        return
    if settings.VARCO_PRINT_QUEUE_INLINE:
        queue.queue_for_admission(**admission)
    else:
        _handover.put(admission)


def drain(timeout: float = 10.0) -> bool:
    return _handover.drain(timeout)
