"""A station's side of a job: claim (with a long poll), the badge's PDF, handed, printed,
failed, and resolving a badge in doubt. Every write after the claim is a conditional UPDATE
on the job's claim token (and station), so a station that lost its claim changes nothing."""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from audit import services as audit
from badges import selectors as badge_selectors
from badges.documents.badge import render_badge
from badges.jobs import queue, wakeup
from badges.models import JobState, PrintJob, PrintStation
from core.errors import VarcoError
from tickets.models import Ticket

log = logging.getLogger(__name__)

MAX_WAIT = 25
MAX_ERROR = 1000
MAX_PRINTER_JOB = 200
CANDIDATES = 5  # due jobs tried per claim round (others' conditional UPDATEs may win some)


class ClaimLost(VarcoError):
    """The job is no longer this claim's (requeued, cancelled, claimed again)."""

    code = "claim_lost"
    http_status = 409


class JobNotFound(VarcoError):
    code = "not_found"
    http_status = 404


@dataclass(frozen=True)
class Claimed:
    job: PrintJob
    claim: str


def _requeue_own(station: PrintStation, now: dt.datetime) -> None:
    """This station's claimed jobs never reached the printer (it claims again after a restart,
    or its earlier answer was lost): back to the queue, or given up after too many claims."""
    mine = PrintJob.objects.filter(station=station, state=JobState.CLAIMED)
    limit = settings.VARCO_PRINT_MAX_ATTEMPTS
    mine.filter(attempt__gte=limit).update(
        state=JobState.FAILED, claim_token=None, updated_at=now,
        last_error=f"Claimed {limit} times and never sent to the printer.")
    mine.filter(attempt__lt=limit).update(state=JobState.QUEUED, claim_token=None,
                                          updated_at=now)


def claim(station: PrintStation, *, requeue_own: bool = True) -> Claimed | None:
    """Claim this station's oldest due job, or None. Exactly one claimer can win a job: the
    UPDATE is conditional on the job still being queued (PostgreSQL re-checks the condition
    on the row's newest version after waiting for a concurrent claimer's lock).

    ``requeue_own``: first return the station's earlier unhanded claims to the queue (the
    contract: a station claims one job at a time; False only for tests of the claim itself)."""
    now = timezone.now()
    if requeue_own:
        _requeue_own(station, now)
    while True:
        due = list(PrintJob.objects.filter(
            station=station, state=JobState.QUEUED, next_attempt_at__lte=now,
        ).order_by("next_attempt_at", "id").values_list("pk", flat=True)[:CANDIDATES])
        if not due:
            return None
        for pk in due:
            token = uuid.uuid4().hex
            won = PrintJob.objects.filter(pk=pk, state=JobState.QUEUED).update(
                state=JobState.CLAIMED, claim_token=token, claimed_at=now,
                attempt=F("attempt") + 1, handed_at=None, updated_at=now)
            if not won:
                continue
            job = (PrintJob.objects.select_related("ticket__attendee", "layout", "event")
                   .get(pk=pk))
            if job.ticket.status != Ticket.Status.VALID:
                # Revoked between the queueing and now (the receiver cancels too; this is the
                # belt to its braces).
                PrintJob.objects.filter(pk=pk, claim_token=token).update(
                    state=JobState.CANCELLED, last_error="The ticket was revoked.",
                    updated_at=now)
                continue
            return Claimed(job, token)




def claim_waiting(station: PrintStation, wait: float) -> Claimed | None:
    """Claim, waiting up to ``wait`` seconds (at most 25) for a job to be queued. Between
    looks the thread sleeps on a wake-up (``wakeup``), with a database look at least every
    ``wakeup.poll_seconds()``; no transaction is held while waiting. When this process
    already serves its share of waiters, it answers at once."""
    wait = max(0.0, min(float(wait), MAX_WAIT))
    if wait <= 0 or not wakeup.slots.take():
        return claim(station)
    try:
        deadline = time.monotonic() + wait
        first = True
        while True:
            seen = wakeup.version(station.pk)
            # (The station's earlier claims are returned once, at the start of this claim.)
            found = claim(station, requeue_own=first)
            first = False
            remaining = deadline - time.monotonic()
            if found is not None or remaining <= 0:
                return found
            wakeup.wait(station.pk, seen, min(remaining, wakeup.poll_seconds()))
    finally:
        wakeup.slots.give_back()


def _job(station: PrintStation, job_id: int) -> PrintJob:
    job = PrintJob.objects.filter(pk=job_id, station=station).first()
    if job is None:
        raise JobNotFound("No such print job for this station.")
    return job


def _lost(job: PrintJob) -> ClaimLost:
    return ClaimLost(f"This claim no longer holds print job {job.pk} (now {job.state}).")


def badge_pdf(station: PrintStation, job_id: int, claim_token: str) -> tuple[PrintJob, bytes]:
    """The badge of a job this station holds with ``claim_token`` (claimed or handed)."""
    job = _job(station, job_id)
    if job.claim_token != claim_token or job.state not in (JobState.CLAIMED, JobState.HANDED):
        raise _lost(job)
    job = (PrintJob.objects.select_related("ticket__attendee", "ticket__ticket_type",
                                           "ticket__event", "layout").get(pk=job.pk))
    layout = job.layout
    data = badge_selectors.badge_for(job.ticket, layout.language)
    return job, render_badge(layout, job.ticket.event, data)


def handed(station: PrintStation, job_id: int, claim_token: str) -> PrintJob:
    """Committed before the badge's bytes go to the printer: from now on, a lost station
    leaves the job in doubt (never printed again by itself)."""
    job = _job(station, job_id)
    now = timezone.now()
    updated = PrintJob.objects.filter(
        pk=job.pk, station=station, claim_token=claim_token, state=JobState.CLAIMED,
    ).update(state=JobState.HANDED, handed_at=now, updated_at=now,
             layout_version=job.layout.version)
    job.refresh_from_db()
    if not updated and not (job.state == JobState.HANDED and job.claim_token == claim_token):
        raise _lost(job)
    return job


def printed(station: PrintStation, job_id: int, claim_token: str,
            printer_job: str | None = None) -> PrintJob:
    """The printer took the badge (``printer_job``: its job id, e.g. CUPS's). Also accepted
    for a job the sweep already put in doubt with this claim (the answer came late)."""
    job = _job(station, job_id)
    now = timezone.now()
    updated = PrintJob.objects.filter(
        pk=job.pk, station=station, claim_token=claim_token,
        state__in=[JobState.HANDED, JobState.IN_DOUBT],
    ).update(state=JobState.PRINTED, printed_at=now, updated_at=now,
             printer_job=(printer_job or "")[:MAX_PRINTER_JOB])
    job.refresh_from_db()
    if updated or (job.state == JobState.PRINTED and job.claim_token == claim_token):
        return job
    if job.state == JobState.CLAIMED and job.claim_token == claim_token:
        raise ClaimLost("Report 'handed' before the badge goes to the printer.",
                        code="not_handed")
    raise _lost(job)


def failed(station: PrintStation, job_id: int, claim_token: str, error: str,
           retry: bool) -> PrintJob:
    """The printer (or the agent) refused the badge: tried again later with a growing delay
    when ``retry`` and claims are left, else failed for good (shown to staff)."""
    job = _job(station, job_id)
    now = timezone.now()
    error = error[:MAX_ERROR]
    held = PrintJob.objects.filter(pk=job.pk, station=station, claim_token=claim_token,
                                   state__in=[JobState.CLAIMED, JobState.HANDED])
    if retry and job.attempt < settings.VARCO_PRINT_MAX_ATTEMPTS:
        due = now + dt.timedelta(seconds=queue.backoff_seconds(job.attempt))
        updated = held.update(state=JobState.QUEUED, claim_token=None, handed_at=None,
                              next_attempt_at=due, last_error=error, updated_at=now)
    else:
        if retry:
            error = f"{error} (gave up after {job.attempt} attempts)"[:MAX_ERROR]
        updated = held.update(state=JobState.FAILED, last_error=error, updated_at=now)
    job.refresh_from_db()
    if not updated and not (job.state == JobState.FAILED and job.claim_token == claim_token):
        raise _lost(job)
    return job


def _again_or_give_up(job_filter, now: dt.datetime, error: str) -> int:
    limit = settings.VARCO_PRINT_MAX_ATTEMPTS
    given_up = job_filter.filter(attempt__gte=limit).update(
        state=JobState.FAILED, updated_at=now,
        last_error=f"{error} (gave up after {limit} attempts)"[:MAX_ERROR])
    return given_up + job_filter.filter(attempt__lt=limit).update(
        state=JobState.QUEUED, claim_token=None, handed_at=None, next_attempt_at=now,
        last_error=error[:MAX_ERROR], updated_at=now)


def resolve_by_station(station: PrintStation, job_id: int, did_print: bool) -> PrintJob:
    """The station found out whether a badge in doubt (or handed before it restarted) came
    out: e.g. the agent found (or did not find) ``varco-<id>-<attempt>`` in the CUPS queue's
    history. Not printed: queued again."""
    job = _job(station, job_id)
    now = timezone.now()
    pending = PrintJob.objects.filter(pk=job.pk, station=station,
                                      state__in=[JobState.IN_DOUBT, JobState.HANDED])
    if did_print:
        updated = pending.update(state=JobState.PRINTED, printed_at=now, updated_at=now)
    else:
        updated = _again_or_give_up(pending, now, "The station found it was not printed.")
        if updated:
            wakeup.notify(station.pk)
    job.refresh_from_db()
    if not updated:
        raise ClaimLost(f"Print job {job.pk} is not in doubt (now {job.state}).",
                        code="not_in_doubt")
    return job


def resolve_in_doubt(job: PrintJob, did_print: bool, *, user=None) -> PrintJob:
    """Staff answered "did badge X come out?": yes (printed) or no (print it again); audited."""
    now = timezone.now()
    pending = PrintJob.objects.filter(pk=job.pk, state=JobState.IN_DOUBT)
    if did_print:
        updated = pending.update(state=JobState.PRINTED, printed_at=now, updated_at=now)
    else:
        updated = _again_or_give_up(pending, now, "Staff found it was not printed.")
    job.refresh_from_db()
    if not updated:
        raise ClaimLost(f"Print job {job.pk} is not in doubt (now {job.state}).",
                        code="not_in_doubt")
    if not did_print:
        wakeup.notify(job.station_id)
    ticket = job.ticket
    audit.record("print_job.resolved", organiser_id=job.event.organiser_id,
                 event_id=job.event_id, attendee_id=ticket.attendee_id, target=job,
                 target_label=f"{ticket.attendee.name} ({ticket.reference})",
                 data={"printed": did_print, "job": job.pk})
    return job

