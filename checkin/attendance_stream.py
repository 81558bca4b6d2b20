"""The dashboard's Server-Sent-Events stream, sized for gunicorn's threaded workers.

Under ``gthread`` every open stream holds one worker thread for its whole life, and those threads
also answer the door's scans. So a process serves at most ``VARCO_LIVE_STREAMS_PER_PROCESS``
streams (beyond that it answers 503 at once and the page polls instead); a stream ends after
``VARCO_LIVE_STREAM_SECONDS`` (the browser's EventSource reconnects by itself, possibly to a
less busy process); and a comment line every ``VARCO_LIVE_HEARTBEAT_SECONDS`` keeps proxies from
closing an idle stream and makes a vanished client fail a write, which frees its thread.

A stream pushes the full dashboard payload when the figures change, so at most once per tick
(``VARCO_ATTENDANCE_TICK_MS``): the tick is both the freshness bound and the update rate, and
the process serialises each payload once for all its streams.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from django.conf import settings

from checkin import attendance
from tickets.models import Event

RETRY_MS = 2000  # EventSource's reconnection delay


class _Slots:
    """Open streams in this process, bounded by the setting (read each time: tests change it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open = 0

    def take(self) -> bool:
        with self._lock:
            if self.open >= settings.VARCO_LIVE_STREAMS_PER_PROCESS:
                return False
            self.open += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.open -= 1


slots = _Slots()


def _message(view: attendance.LiveView) -> bytes:
    return f"id: {view.etag}\ndata: {view.text}\n\n".encode()


class EventStream:
    """The body of a streaming response: iterates SSE messages, frees its slot on ``close``.

    The slot is taken before the response starts; a generator's ``finally`` would not run if
    the server closed the response before iterating it, a ``close`` method always does.
    """

    def __init__(self, event: Event) -> None:
        self.event = event
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        lifetime = settings.VARCO_LIVE_STREAM_SECONDS
        heartbeat = settings.VARCO_LIVE_HEARTBEAT_SECONDS
        deadline = time.monotonic() + lifetime
        yield f"retry: {RETRY_MS}\n\n".encode()
        view = attendance.live_view(self.event)
        yield _message(view)
        while not self._closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            newer = attendance.wait_for_change(self.event, view.version, min(heartbeat, remaining))
            if newer is None:
                yield b": keep-alive\n\n"
                continue
            view = newer
            yield _message(view)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            slots.give_back()


def open_stream(event: Event) -> EventStream | None:
    """A stream for ``event``, or None when this process already serves its share."""
    if not slots.take():
        return None
    return EventStream(event)
