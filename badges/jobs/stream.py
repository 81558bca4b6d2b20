"""The browser print station's server-sent events: ``event: job`` when this station has a
queued badge (the page then claims it through the station API).

Like the live dashboard's stream (``checkin.attendance.stream``): each open stream holds one
web thread, so they share the process's bounded waiter slots (``wakeup.slots``), end after
``VARCO_LIVE_STREAM_SECONDS`` (the page reconnects) and send a comment every
``VARCO_LIVE_HEARTBEAT_SECONDS``. Between looks at the database the thread sleeps on the
station's wake-up (``wakeup``): a job queued by a scan in any process reaches the page within
a few milliseconds with Redis, within ``wakeup.poll_seconds()`` without it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, Max
from django.utils import timezone

from badges.jobs import wakeup
from badges.models import JobState, PrintJob, PrintStation

log = logging.getLogger(__name__)

RETRY_MS = 1000


def _queued(station_id: int) -> tuple[int, int]:
    """(count, newest id) of the station's queued jobs that are due."""
    found = PrintJob.objects.filter(
        station_id=station_id, state=JobState.QUEUED, next_attempt_at__lte=timezone.now(),
    ).aggregate(count=Count("id"), newest=Max("id"))
    return found["count"], found["newest"] or 0


def _job_event(count: int, newest: int) -> bytes:
    data = json.dumps({"queued": count, "id": newest}, separators=(",", ":"))
    return f"event: job\nid: {newest}\ndata: {data}\n\n".encode()


class StationStream:
    """The body of a streaming response; frees its slot on ``close`` (always called by the
    server, even when the response is never iterated)."""

    def __init__(self, station: PrintStation) -> None:
        self.station_id = station.pk
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        deadline = time.monotonic() + settings.VARCO_LIVE_STREAM_SECONDS
        heartbeat = settings.VARCO_LIVE_HEARTBEAT_SECONDS
        yield f"retry: {RETRY_MS}\n\n".encode()
        announced = 0
        last_sent = time.monotonic()
        while not self._closed:
            seen = wakeup.version(self.station_id)
            try:
                count, newest = _queued(self.station_id)
            except DatabaseError:
                # The database went away: end the stream (the page reconnects after RETRY_MS
                # and is answered 503 or a fresh stream), rather than spin on a dead socket.
                log.warning("print station stream ended: database unavailable", exc_info=True)
                connection.close_if_unusable_or_obsolete()
                break
            now = time.monotonic()
            if count and (newest > announced or now - last_sent >= heartbeat):
                # New work, or work still waiting (the page missed or lost a claim).
                announced, last_sent = max(newest, announced), now
                yield _job_event(count, newest)
            elif now - last_sent >= heartbeat:
                last_sent = now
                yield b": keep-alive\n\n"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            wakeup.wait(self.station_id, seen,
                        min(remaining, wakeup.poll_seconds(), heartbeat))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            wakeup.slots.give_back()


def open_stream(station: PrintStation) -> StationStream | None:
    """A stream for ``station``, or None when this process serves its share of waiters."""
    if not wakeup.slots.take():
        return None
    return StationStream(station)
