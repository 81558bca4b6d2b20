"""The sweep (Celery beat, every ``VARCO_PRINT_SWEEP_SECONDS``): work whose station was lost.

- claimed more than ``VARCO_PRINT_STALE_SECONDS`` ago and never handed: back to the queue
  (nothing went to a printer), or failed after ``VARCO_PRINT_MAX_ATTEMPTS`` claims;
- handed that long ago and never reported: **in doubt**, never printed again by itself (the
  badge may be in the tray); the station (``resolve``) or staff decide;
- queued jobs that are due (a retry's delay ended): their stations are woken;
- **backfill**: an admitted entry of the last ``BACKFILL_SECONDS`` at a list that prints
  badges whose badge was never queued (the process died between the scan's commit and the
  hand-over thread's statement, ``handover``) gets it now — the same idempotent INSERT, so a
  badge already queued (or printed, or cancelled) is never queued twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils import timezone

from badges.jobs import wakeup
from badges.models import JobState, ListPrinting, PrintJob, PrintStation, PrintStationGate
from checkin.models import Device, ScanLog
from tickets.models import Ticket

BACKFILL_SECONDS = 600
# An entry younger than this is still the hand-over thread's (milliseconds, normally).
BACKFILL_GRACE_SECONDS = 5


@dataclass
class SweepResult:
    requeued: int = 0
    given_up: int = 0
    in_doubt: int = 0
    woken: int = 0
    backfilled: int = 0


def _backfill_sql() -> str:
    job, lp = PrintJob._meta.db_table, ListPrinting._meta.db_table
    gate, station = PrintStationGate._meta.db_table, PrintStation._meta.db_table
    device, log, ticket = Device._meta.db_table, ScanLog._meta.db_table, Ticket._meta.db_table
    # (By list and time: the scan log's (list, received_at) index. WHERE before ON CONFLICT:
    # SQLite's upsert after a SELECT needs it.)
    return f"""
        INSERT INTO {job} (event_id, station_id, ticket_id, layout_id, gate, scan_log_id,
                           state, attempt, next_attempt_at, printer_job, last_error, reprint,
                           reason, created_at, updated_at)
        SELECT l.event_id, s.id, l.ticket_id, lp.layout_id, COALESCE(d.gate, ''), l.id,
               'queued', 0, %(now)s, '', '', FALSE, '', %(now)s, %(now)s
          FROM {lp} lp
          JOIN {log} l ON l.list_id = lp.checkin_list_id
               AND l.received_at >= %(since)s AND l.received_at < %(until)s
               AND l.received_at >= lp.created_at
          JOIN {ticket} t ON t.id = l.ticket_id AND t.status = 'valid'
          LEFT JOIN {device} d ON d.id = l.device_id
          JOIN {station} s ON s.revoked_at IS NULL AND s.event_id = l.event_id
               AND s.id = COALESCE((SELECT g.station_id FROM {gate} g
                                     WHERE g.event_id = l.event_id AND g.gate = d.gate),
                                   lp.default_station_id)
         WHERE l.result = 'ok' AND l.direction = 'entry'
           AND NOT EXISTS (SELECT 1 FROM {job} j WHERE j.ticket_id = l.ticket_id
                            AND j.layout_id = lp.layout_id AND j.reprint = FALSE)
        ON CONFLICT DO NOTHING
        RETURNING id, station_id"""


def backfill(now: dt.datetime) -> list[tuple[int, int]]:
    """Queue the badges of recent admitted entries that have none: (job, station) each."""
    adapt = connection.ops.adapt_datetimefield_value
    params = {"now": adapt(now),
              "since": adapt(now - dt.timedelta(seconds=BACKFILL_SECONDS)),
              "until": adapt(now - dt.timedelta(seconds=BACKFILL_GRACE_SECONDS))}
    with connection.cursor() as cursor:
        cursor.execute(_backfill_sql(), params)
        return [tuple(row) for row in cursor.fetchall()]


def sweep(now: dt.datetime | None = None) -> SweepResult:
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.VARCO_PRINT_STALE_SECONDS)
    limit = settings.VARCO_PRINT_MAX_ATTEMPTS
    result = SweepResult()
    stale = PrintJob.objects.filter(state=JobState.CLAIMED, claimed_at__lt=cutoff)
    result.given_up = stale.filter(attempt__gte=limit).update(
        state=JobState.FAILED, claim_token=None, updated_at=now,
        last_error=f"Claimed {limit} times and never sent to the printer.")
    requeued_stations = set(stale.filter(attempt__lt=limit).values_list("station_id",
                                                                        flat=True))
    result.requeued = stale.filter(attempt__lt=limit).update(
        state=JobState.QUEUED, claim_token=None, updated_at=now,
        last_error="The station did not send it to the printer in time; queued again.")
    result.in_doubt = PrintJob.objects.filter(
        state=JobState.HANDED, handed_at__lt=cutoff,
    ).update(state=JobState.IN_DOUBT, updated_at=now,
             last_error="Sent to the printer, but the station never said it printed.")
    made = backfill(now)
    result.backfilled = len(made)
    backfilled = {station_id for _job, station_id in made}
    due = set(PrintJob.objects.filter(state=JobState.QUEUED, next_attempt_at__lte=now)
              .values_list("station_id", flat=True).distinct())
    for station_id in due | requeued_stations | backfilled:
        wakeup.notify(station_id)
    result.woken = len(due | requeued_stations | backfilled)
    return result
