"""The attendance figures and the dashboard's live view as the views and streams read them:
at most one tick old, the tick run by the first reader who finds it due."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection

from checkin.attendance.hub import Hub, hub, log
from checkin.attendance.snapshots import current_view
from checkin.attendance.state import LiveView
from checkin.scanning import iso
from tickets.models import Event


def _tick() -> float:
    return settings.VARCO_ATTENDANCE_TICK_MS / 1000.0


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
        figures = dict(current_view(state).payload["attendance"])
        # The figures were true when the database was last read (at most one tick ago).
        figures["as_of"] = iso(max(h.checked_at, state.built_at_wall))
    return figures


def live_view(event: Event) -> LiveView:
    """The dashboard payload, at most one tick old."""
    with hub.lock:
        hub.state_for(event)
        hub.refresh(max_age=_tick())
        state = hub.states.get(event.pk) or hub.state_for(event)
        return current_view(state)


def wait_for_change(event: Event, since: LiveView, timeout: float) -> LiveView | None:
    """Block until the event's view differs from ``since`` (or ``timeout`` seconds pass): new
    figures, or time moving the gates' pace on with no new scan (a gate that stopped scanning
    must not keep showing its last pace).

    The thread that finds the tick due runs it for every waiter of the process.
    """
    deadline = time.monotonic() + timeout
    with hub.lock:
        while True:
            state = hub.states.get(event.pk) or hub.state_for(event)
            state.last_read = time.monotonic()
            if state.version != since.version:
                return current_view(state)
            view = current_view(state)  # (cached; computed again once per pace step)
            if view.etag != since.etag:
                return view
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
                    connection.close_if_unusable_or_obsolete()
                continue
            hub.changed.wait(min(due, deadline) - now)
