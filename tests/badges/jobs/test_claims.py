"""The station's side of a job (badges.jobs.claims): claims fenced by their token, a
station's own lost claims returned at its next claim, cancelled work refused, the sweep's
stale claims and lost hand-overs, and a badge in doubt never printed again by itself."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from audit.models import AuditEntry
from badges.jobs import claims, queue, stations
from badges.jobs.sweep import sweep
from badges.models import JobState, PrintJob
from core.errors import ServiceError
from tests.support.checkin import Door
from tickets import services

pytestmark = pytest.mark.django_db(transaction=True)


def _admit(printing, ticket):
    assert Door(printing.token_a, printing.checkin_list).scan(
        services.ticket_code(ticket))["status"] == "ok"


def _age(job_id: int, seconds: int, *fields: str) -> None:
    past = timezone.now() - dt.timedelta(seconds=seconds)
    PrintJob.objects.filter(pk=job_id).update(**dict.fromkeys(fields, past))


def test_a_claim_lost_to_the_sweep_changes_nothing(printing, register, settings):
    """Fencing: the first claim went stale and was requeued and claimed again; every write
    with the first token is refused, the second claim's go through."""
    settings.VARCO_PRINT_STALE_SECONDS = 60
    _admit(printing, register(name="Giulia Rossi"))
    station = printing.station_a
    first = claims.claim(station)
    _age(first.job.pk, 120, "claimed_at")
    assert sweep().requeued == 1
    second = claims.claim(station)
    assert (second.job.pk, second.job.attempt) == (first.job.pk, 2)
    assert second.claim != first.claim
    for call in (lambda: claims.handed(station, first.job.pk, first.claim),
                 lambda: claims.badge_pdf(station, first.job.pk, first.claim),
                 lambda: claims.failed(station, first.job.pk, first.claim, "x", True)):
        with pytest.raises(claims.ClaimLost):
            call()
    claims.handed(station, second.job.pk, second.claim)
    with pytest.raises(claims.ClaimLost):
        claims.printed(station, first.job.pk, first.claim)
    assert claims.printed(station, second.job.pk, second.claim, "17").state == JobState.PRINTED


def test_claiming_again_returns_the_stations_own_unhanded_claims(printing, register):
    """A station that restarted (or lost the answer to its claim) gets its job back at once,
    without waiting for the sweep; a handed job is not touched (it may be in the tray)."""
    _admit(printing, register(name="Uno", email="uno@example.org"))
    _admit(printing, register(name="Due", email="due@example.org"))
    station = printing.station_a
    lost = claims.claim(station)
    again = claims.claim(station)
    assert again.job.pk == lost.job.pk and again.job.attempt == 2
    claims.handed(station, again.job.pk, again.claim)
    third = claims.claim(station)
    assert third.job.pk != again.job.pk
    assert PrintJob.objects.get(pk=again.job.pk).state == JobState.HANDED


def test_a_handed_badge_whose_station_died_is_in_doubt_and_never_reprinted(
        printing, register, settings, staff):
    settings.VARCO_PRINT_STALE_SECONDS = 60
    ticket = register(name="Giulia Rossi")
    _admit(printing, ticket)
    station = printing.station_a
    held = claims.claim(station)
    claims.handed(station, held.job.pk, held.claim)
    _age(held.job.pk, 120, "handed_at", "claimed_at")
    result = sweep()
    assert (result.in_doubt, result.requeued) == (1, 0)
    job = PrintJob.objects.get()
    assert job.state == JobState.IN_DOUBT and "never said it printed" in job.last_error
    # later sweeps and claims leave it alone: nothing prints it again by itself
    sweep()
    assert claims.claim(station) is None
    assert PrintJob.objects.get().state == JobState.IN_DOUBT
    # staff: "did it come out?" — no: queued again, audited; the station prints it
    claims.resolve_in_doubt(job, False, user=staff)
    entry = AuditEntry.objects.get(action="print_job.resolved")
    assert entry.data["printed"] is False and entry.attendee_id == ticket.attendee_id
    again = claims.claim(station)
    assert (again.job.pk, again.job.attempt) == (job.pk, 2)


def test_a_late_printed_answer_resolves_the_doubt(printing, register, settings):
    settings.VARCO_PRINT_STALE_SECONDS = 60
    _admit(printing, register(name="Giulia Rossi"))
    station = printing.station_a
    held = claims.claim(station)
    claims.handed(station, held.job.pk, held.claim)
    _age(held.job.pk, 120, "handed_at")
    sweep()
    assert claims.printed(station, held.job.pk, held.claim, "cups-9").state == JobState.PRINTED


def test_stale_claims_are_given_up_after_the_maximum(printing, register, settings):
    settings.VARCO_PRINT_STALE_SECONDS = 60
    settings.VARCO_PRINT_MAX_ATTEMPTS = 2
    _admit(printing, register(name="Giulia Rossi"))
    for _ in range(2):
        held = claims.claim(printing.station_a)
        _age(held.job.pk, 120, "claimed_at")
        sweep()
    job = PrintJob.objects.get()
    assert job.state == JobState.FAILED and "never sent to the printer" in job.last_error


def test_a_failed_badge_waits_for_its_backoff(printing, register, settings):
    settings.VARCO_PRINT_RETRY_BASE_SECONDS = 30
    _admit(printing, register(name="Giulia Rossi"))
    station = printing.station_a
    held = claims.claim(station)
    job = claims.failed(station, held.job.pk, held.claim, "out of labels", True)
    assert job.state == JobState.QUEUED and job.claim_token is None
    assert 25 <= (job.next_attempt_at - timezone.now()).total_seconds() <= 31
    assert claims.claim(station) is None
    PrintJob.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())
    assert claims.claim(station).job.attempt == 2


def test_a_badge_revoked_while_claimed_is_not_printed(printing, register):
    ticket = register(name="Giulia Rossi")
    _admit(printing, ticket)
    station = printing.station_a
    held = claims.claim(station)
    services.revoke_ticket(ticket)
    with pytest.raises(claims.ClaimLost):
        claims.badge_pdf(station, held.job.pk, held.claim)
    with pytest.raises(claims.ClaimLost):
        claims.handed(station, held.job.pk, held.claim)
    assert PrintJob.objects.get().state == JobState.CANCELLED


def test_revoking_a_station_frees_its_gates_and_cancels_its_queue(printing, register, event):
    _admit(printing, register(name="Giulia Rossi"))
    stations.revoke_station(printing.station_a)
    assert PrintJob.objects.get().state == JobState.CANCELLED
    assert stations.authenticate(f"Token {printing.station_token_a}") is None
    replacement, _ = stations.create_station(event, "Stampante A2", ["A"])
    _admit(printing, register(name="Marco Bianchi", email="marco@example.org"))
    assert PrintJob.objects.filter(station=replacement).count() == 1


def test_a_gate_has_one_station(printing, event):
    with pytest.raises(ServiceError) as refused:
        stations.create_station(event, "Altra", ["B"])
    assert refused.value.field == "gates" and "Stampante B" in refused.value.message


def test_reprint_needs_a_reason_and_is_audited(printing, register, staff):
    ticket = register(name="Giulia Rossi")
    _admit(printing, ticket)
    for reason in ("", "   ", "x" * 501, None):
        with pytest.raises(ServiceError):
            queue.reprint(ticket, reason)
    job = queue.reprint(ticket, "  lost on the stairs ", user=staff)
    assert (job.reprint, job.reason, job.station_id, job.layout_id, job.gate) == (
        True, "lost on the stairs", printing.station_a.pk, printing.layout.pk, "A")
    entry = AuditEntry.objects.get(action="print_job.reprinted")
    assert entry.data["reason"] == "lost on the stairs"
    assert job.created_by_id == staff.pk
    assert PrintJob.objects.filter(ticket=ticket).count() == 2
    services.revoke_ticket(ticket)
    with pytest.raises(ServiceError):
        queue.reprint(ticket, "again")
