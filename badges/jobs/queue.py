"""Queueing print jobs: on an admitted entry (the receiver's one statement), on an explicit
reprint (audited), and cancelling them when a ticket is revoked."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit import services as audit
from badges.jobs import wakeup
from badges.models import (
    BadgeLayout,
    JobState,
    ListPrinting,
    PrintJob,
    PrintStation,
    PrintStationGate,
)
from checkin.models import Device
from core import statements
from core.errors import ServiceError
from tickets.models import Ticket

log = logging.getLogger(__name__)

MAX_REASON = 500


def _admission_sql() -> str:
    """One statement: the list's layout, the station of the device's gate (else the list's
    default station), inserted unless the ticket already has a job for that layout (the
    partial unique index ``printjob_one_per_ticket_layout``: a re-entry prints nothing)."""
    job, lp = PrintJob._meta.db_table, ListPrinting._meta.db_table
    gate, station = PrintStationGate._meta.db_table, PrintStation._meta.db_table
    device = Device._meta.db_table
    # (SQLite needs the WHERE before ON CONFLICT to tell the upsert from a join's ON.)
    return f"""
        INSERT INTO {job} (event_id, station_id, ticket_id, layout_id, gate, scan_log_id,
                           state, attempt, next_attempt_at, printer_job, last_error, reprint,
                           reason, created_at, updated_at)
        SELECT %(event)s, s.id, %(ticket)s, lp.layout_id, COALESCE(d.gate, ''), %(log)s,
               'queued', 0, %(now)s, '', '', FALSE, '', %(now)s, %(now)s
          FROM {lp} lp
          LEFT JOIN {device} d ON d.id = %(device)s
          JOIN {station} s ON s.revoked_at IS NULL AND s.event_id = %(event)s
               AND s.id = COALESCE((SELECT g.station_id FROM {gate} g
                                     WHERE g.event_id = %(event)s AND g.gate = d.gate),
                                   lp.default_station_id)
         WHERE lp.checkin_list_id = %(list)s
        ON CONFLICT DO NOTHING
        RETURNING id, station_id"""


_SQL: str | None = None


def _execute(params: dict) -> tuple | None:
    """Run the admission statement: prepared once per connection on PostgreSQL
    (``core.statements``; planning it costs about 1 ms of database time, running it a tenth
    of that)."""
    global _SQL
    if _SQL is None:
        _SQL = _admission_sql()
    # (PostgreSQL takes the datetime as it is; SQLite gets the text Django would send.)
    adapted = {**params, "now": connection.ops.adapt_datetimefield_value(params["now"])}
    return statements.fetch_one(_SQL, adapted)


class PrintingLists:
    """The ids of the lists that print badges, loaded once per ``VARCO_DEVICE_CACHE_SECONDS``
    per process (one small query), so an admission at a list that prints nothing costs the
    scan a set look-up, not a statement. Changing a list's printing clears this process's copy
    at once (``stations.set_list_printing``); other processes follow within the TTL, like the
    door devices' cache (``checkin.devices``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: frozenset[int] = frozenset()
        self._expires = 0.0

    def __contains__(self, list_id: int) -> bool:
        if time.monotonic() >= self._expires:
            ids = frozenset(ListPrinting.objects.values_list("checkin_list_id", flat=True))
            with self._lock:
                self._ids = ids
                self._expires = time.monotonic() + settings.VARCO_DEVICE_CACHE_SECONDS
        return list_id in self._ids

    def clear(self) -> None:
        with self._lock:
            self._expires = 0.0


printing_lists = PrintingLists()


def queue_for_admission(*, scan_log_id: int, ticket_id: int, list_id: int, event_id: int,
                        device_id: int | None) -> int | None:
    """Queue the badge of an admitted entry; the new job's id, or None (the list prints no
    badges, no station for that gate, or the ticket already has its badge job).

    Called after the scan's commit (``receivers``): one statement in autocommit, then a
    wake-up for the station."""
    if list_id not in printing_lists:
        return None
    row = _execute({"event": event_id, "ticket": ticket_id, "log": scan_log_id,
                    "now": timezone.now(), "device": device_id, "list": list_id})
    if row is None:
        return None
    job_id, station_id = row
    wakeup.notify(station_id)
    return job_id


def _clean_reason(reason: object) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ServiceError("reason", "Say why the badge is printed again (e.g. 'lost').")
    if len(reason.strip()) > MAX_REASON or "\x00" in reason:
        raise ServiceError("reason", f"At most {MAX_REASON} characters, no NUL.")
    return reason.strip()


def _layout_for_reprint(ticket: Ticket, previous: PrintJob | None) -> BadgeLayout:
    if previous is not None:
        return previous.layout
    configured = (ListPrinting.objects.filter(checkin_list__event_id=ticket.event_id)
                  .select_related("layout").order_by("checkin_list__position", "id").first())
    if configured is not None:
        return configured.layout
    layout = (BadgeLayout.objects.filter(event_id=ticket.event_id, ticket_type=ticket.ticket_type)
              .first() or BadgeLayout.objects.filter(event_id=ticket.event_id,
                                                     ticket_type__isnull=True).first())
    if layout is None:
        raise ServiceError("ticket", "The event has no badge layout to print on.")
    return layout


def reprint(ticket: Ticket, reason: object, station: PrintStation | None = None, *,
            user=None) -> PrintJob:
    """Print ``ticket``'s badge again (a lost badge), with a reason; audited.

    ``station``: where (default: the station of the ticket's latest badge); the layout is
    that badge's (else the event's first list's that prints badges, else the ticket type's or
    the event's default layout).
    """
    reason = _clean_reason(reason)
    if ticket.status != Ticket.Status.VALID:
        raise ServiceError("ticket", "A revoked ticket's badge is not printed.")
    previous = (PrintJob.objects.filter(ticket=ticket).select_related("layout", "station")
                .order_by("-id").first())
    if station is None:
        if previous is None or previous.station.is_revoked:
            raise ServiceError("station", "Choose the print station.")
        station = previous.station
    if station.event_id != ticket.event_id or station.is_revoked:
        raise ServiceError("station", "Not a print station of this event.")
    layout = _layout_for_reprint(ticket, previous)
    event = ticket.event
    with transaction.atomic():
        job = PrintJob.objects.create(
            event_id=ticket.event_id, station=station, ticket=ticket, layout=layout,
            gate=previous.gate if previous is not None else "", reprint=True, reason=reason,
            created_by=user if user is not None and user.is_authenticated else None)
        audit.record("print_job.reprinted", organiser_id=event.organiser_id,
                     event_id=event.pk, attendee_id=ticket.attendee_id, target=job,
                     target_label=f"{ticket.attendee.name} ({ticket.reference})",
                     data={"reason": reason, "station": station.name, "job": job.pk})
        transaction.on_commit(lambda: wakeup.notify(station.pk))
    return job


def cancel_for_ticket(ticket_id: int) -> int:
    """Cancel a revoked ticket's badges not yet sent to a printer; how many."""
    return PrintJob.objects.filter(
        ticket_id=ticket_id, state__in=[JobState.QUEUED, JobState.CLAIMED]
    ).update(state=JobState.CANCELLED, last_error="The ticket was revoked.",
             updated_at=timezone.now())


def backoff_seconds(attempt: int) -> float:
    """The wait before a failed badge is tried again: doubling from the base, capped at 5 min."""
    return float(min(settings.VARCO_PRINT_RETRY_BASE_SECONDS * 2 ** max(attempt - 1, 0), 300))
