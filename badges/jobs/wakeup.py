"""Waking the stations' long polls and streams when a job is queued for them.

The database is the truth (a waiter always looks there); a wake-up only makes it look now
rather than at its next poll. So a lost wake-up costs at most ``poll_seconds()`` of delay,
never a job.

- In the process: ``Waiters`` keeps a counter per station and a condition; ``notify`` raises
  the counter and wakes the process's waiters. The embedded mode (no Redis) has only this, and
  its waiters poll the database more often (SQLite reads cost microseconds), so a job queued
  by another web process is seen within a quarter of a second.
- Across processes, with Redis: ``notify`` also publishes the station's id on one channel; a
  listener thread per process (started by its first waiter) turns each message into a local
  ``notify``. ``notify`` runs in the scan's request, so it only hands the id to a publishing
  thread (one per process): the scan never waits for Redis. That thread uses short socket
  timeouts and, after a failure, skips Redis for ``BREAKER_SECONDS`` (the stations poll).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import Counter

import redis
from django.conf import settings

log = logging.getLogger(__name__)

CHANNEL = "varco:print-jobs"
BREAKER_SECONDS = 5.0
SOCKET_TIMEOUT = 0.2


def poll_seconds() -> float:
    """How long a waiter trusts wake-ups before looking at the database by itself."""
    configured = settings.VARCO_PRINT_POLL_SECONDS
    if configured > 0:
        return configured
    return 1.0 if settings.REDIS_URL else 0.25


class Waiters:
    """Per-station counters of wake-ups in this process, and the condition waiters wait on."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.counts: Counter[int] = Counter()

    def version(self, station_id: int) -> int:
        with self.changed:
            return self.counts[station_id]

    def notify(self, station_id: int) -> None:
        with self.changed:
            self.counts[station_id] += 1
            self.changed.notify_all()

    def wait(self, station_id: int, since: int, timeout: float) -> int:
        """Block until ``station_id`` is woken after ``since`` (or ``timeout``); its version."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.counts[station_id] == since:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.changed.wait(remaining)
            return self.counts[station_id]


waiters = Waiters()


class _Redis:
    """The publishing client (short timeouts, a breaker) and the listening thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._skip_until = 0.0
        self._publisher_pid = 0
        self._outbox: queue.SimpleQueue | None = None
        self._listener: threading.Thread | None = None

    def _connect(self):
        return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=SOCKET_TIMEOUT,
                                    socket_connect_timeout=SOCKET_TIMEOUT)

    def publish(self, station_id: int) -> None:
        """Hand the wake-up to this process's publishing thread: the caller (the scan's
        request) never waits for Redis."""
        if not settings.REDIS_URL:
            return
        if self._publisher_pid != os.getpid():  # first use in this (possibly forked) process
            with self._lock:
                if self._publisher_pid != os.getpid():
                    self._outbox = queue.SimpleQueue()
                    threading.Thread(target=self._publish_loop, args=(self._outbox,),
                                     name="print-job-publisher", daemon=True).start()
                    self._publisher_pid = os.getpid()
        self._outbox.put(station_id)

    def _publish_loop(self, outbox: queue.SimpleQueue) -> None:
        client = None
        while True:
            station_id = outbox.get()
            if time.monotonic() < self._skip_until:
                continue  # Redis failed a moment ago: the stations poll meanwhile
            try:
                if client is None:
                    client = self._connect()
                client.publish(CHANNEL, str(station_id))
            except Exception:
                client = None
                self._skip_until = time.monotonic() + BREAKER_SECONDS
                log.warning("print job wake-up not published (Redis unavailable); stations "
                            "poll", exc_info=True)

    def ensure_listener(self) -> None:
        if not settings.REDIS_URL:
            return
        with self._lock:
            if self._listener is not None and self._listener.is_alive():
                return
            self._listener = threading.Thread(target=self._listen, name="print-job-wakeups",
                                              daemon=True)
            self._listener.start()

    def _listen(self) -> None:
        pause = 0.5
        while True:
            try:
                client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2,
                                              health_check_interval=30)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                pause = 0.5
                for message in pubsub.listen():
                    data = message.get("data")
                    if isinstance(data, bytes) and data.isdigit():
                        waiters.notify(int(data))
            except Exception:
                log.warning("print job wake-ups: Redis listener lost; reconnecting",
                            exc_info=True)
            time.sleep(pause)
            pause = min(pause * 2, 10.0)


_redis = _Redis()


class _Slots:
    """Waiting claims and streams in this process: each holds one of the server's threads,
    which also answer the door's scans, so they are bounded
    (``VARCO_PRINT_WAITERS_PER_PROCESS``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open = 0

    def take(self) -> bool:
        with self._lock:
            if self.open >= settings.VARCO_PRINT_WAITERS_PER_PROCESS:
                return False
            self.open += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.open -= 1


slots = _Slots()


def notify(station_id: int) -> None:
    """A job was queued for ``station_id`` (call after its commit)."""
    waiters.notify(station_id)
    _redis.publish(station_id)


def wait(station_id: int, since: int, timeout: float) -> int:
    """Wait for a wake-up of ``station_id`` newer than ``since``, at most ``timeout`` seconds."""
    _redis.ensure_listener()
    return waiters.wait(station_id, since, timeout)


def version(station_id: int) -> int:
    return waiters.version(station_id)
