"""The dashboard's Server-Sent-Events stream, sized for gunicorn's threaded workers.

Under ``gthread`` every open stream holds one worker thread for its whole life, and those threads
also answer the door's scans. So a process serves at most ``VARCO_LIVE_STREAMS_PER_PROCESS``
streams (beyond that it answers 503 at once and the page polls instead), of which one
organiser's dashboards hold at most ``VARCO_LIVE_STREAMS_PER_ORGANISER`` and one user's at most
``VARCO_LIVE_STREAMS_PER_USER`` (so one team's wall of screens cannot turn every other team's
dashboard into polling); with Redis, deployment-wide bounds across every process and host
apply too (``leases``: ``VARCO_LIVE_STREAMS_TOTAL`` and its per-organiser and per-user
shares); a stream ends after
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
from collections import Counter
from collections.abc import Iterator

from django.conf import settings

from checkin.attendance import selectors
from checkin.attendance.leases import Lease
from checkin.attendance.state import LiveView
from core import metrics
from tickets.models import Event

RETRY_MS = 2000  # EventSource's reconnection delay


_SHARE_SETTINGS = {"organiser": "VARCO_LIVE_STREAMS_PER_ORGANISER",
                   "user": "VARCO_LIVE_STREAMS_PER_USER"}


def _share(setting: str) -> int:
    """A per-organiser or per-user share of the process's streams; 0 (the default) means
    half of them, rounded up, so at least two teams always fit."""
    half = -(-settings.VARCO_LIVE_STREAMS_PER_PROCESS // 2)
    return getattr(settings, setting, 0) or max(1, half)


class _Slots:
    """Open streams in this process, bounded in all and per organiser and user (settings read
    each time: tests change them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open = 0
        self.held: Counter[tuple[str, int]] = Counter()

    def take(self, owners: tuple[tuple[str, int], ...] = ()) -> bool:
        """A slot for a stream held by ``owners`` (``("organiser", id)``, ``("user", id)``)."""
        with self._lock:
            if self.open >= settings.VARCO_LIVE_STREAMS_PER_PROCESS:
                return False
            if any(self.held[owner] >= _share(_SHARE_SETTINGS[owner[0]]) for owner in owners):
                return False
            self.open += 1
            self.held.update(owners)
            metrics.live_streams.inc()
            return True

    def give_back(self, owners: tuple[tuple[str, int], ...] = ()) -> None:
        with self._lock:
            self.open -= 1
            metrics.live_streams.dec()
            self.held.subtract(owners)
            for owner in owners:
                if self.held[owner] <= 0:
                    del self.held[owner]


slots = _Slots()


def _message(view: LiveView) -> bytes:
    return f"id: {view.etag}\ndata: {view.text}\n\n".encode()


class EventStream:
    """The body of a streaming response: iterates SSE messages, frees its slot on ``close``.

    The slot is taken before the response starts; a generator's ``finally`` would not run if
    the server closed the response before iterating it, a ``close`` method always does.
    """

    def __init__(self, event: Event, owners: tuple[tuple[str, int], ...] = (),
                 lease: Lease | None = None) -> None:
        self.event = event
        self.owners = owners
        self.lease = lease
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        lifetime = settings.VARCO_LIVE_STREAM_SECONDS
        heartbeat = settings.VARCO_LIVE_HEARTBEAT_SECONDS
        deadline = time.monotonic() + lifetime
        yield f"retry: {RETRY_MS}\n\n".encode()
        view = selectors.live_view(self.event)
        yield _message(view)
        while not self._closed:
            if self.lease is not None:
                self.lease.renew()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            newer = selectors.wait_for_change(self.event, view, min(heartbeat, remaining))
            if newer is None:
                yield b": keep-alive\n\n"
                continue
            view = newer
            yield _message(view)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            slots.give_back(self.owners)
            if self.lease is not None:
                self.lease.give_back()


def open_stream(event: Event, user_id: int | None = None) -> EventStream | None:
    """A stream for ``event`` watched by ``user_id``, or None when this process already serves
    its share of streams, or the event's organiser or the user already holds theirs."""
    owners: tuple[tuple[str, int], ...] = (("organiser", event.organiser_id),)
    if user_id is not None:
        owners += (("user", user_id),)
    if not slots.take(owners):
        return None
    # The deployment-wide bounds (Redis; leases.py): refused only when Redis says so.
    lease = Lease(owners)
    if not lease.take(owners):
        slots.give_back(owners)
        return None
    return EventStream(event, owners, lease)
