"""Exactly once under real concurrency (PostgreSQL, one connection per thread): many claimers
never win one job twice; racing receivers queue one badge; a station's claimers that steal
each other's claims (its restart rule) still print every badge exactly once."""

from __future__ import annotations

from collections import Counter

import pytest

from badges.jobs import claims, queue
from badges.models import JobState, PrintJob
from checkin.models import ScanLog
from tests.support.checkin import Door
from tests.support.threads import run_in_threads
from tickets import services

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 16



def _queue_many(printing, register, count: int) -> list[int]:
    """``count`` queued badges for station A (reprints of one ticket: the only jobs a ticket
    may have many of, and quick to make)."""
    ticket = register(name="Giulia Rossi")
    PrintJob.objects.bulk_create([
        PrintJob(event_id=ticket.event_id, station=printing.station_a, ticket=ticket,
                 layout=printing.layout, reprint=True, reason=f"copy {index}")
        for index in range(count)])
    return list(PrintJob.objects.values_list("pk", flat=True))


def test_many_claimers_never_claim_one_job_twice(printing, register):
    ids = _queue_many(printing, register, 120)
    station = printing.station_a

    def claimer(_index: int) -> list[tuple[int, str]]:
        won = []
        while (found := claims.claim(station, requeue_own=False)) is not None:
            won.append((found.job.pk, found.claim))
        return won

    results = run_in_threads(THREADS, claimer, join_timeout=120)
    claimed = [job_id for won in results for job_id, _ in won]
    assert Counter(claimed).most_common(1)[0][1] == 1, "a job was claimed twice"
    assert sorted(claimed) == sorted(ids)
    assert sum(1 for won in results if won) > 1, "only one thread claimed: no race happened"
    stored = dict(PrintJob.objects.values_list("pk", "claim_token"))
    assert all(stored[job_id] == token for won in results for job_id, token in won)
    assert set(PrintJob.objects.values_list("attempt", flat=True)) == {1}


def test_claimers_stealing_each_others_claims_print_each_badge_once(printing, register,
                                                                    settings):
    """Every thread is "the station restarting": its claim returns the others' unhanded
    claims to the queue. Fenced by the claim token, each badge is still handed (sent to the
    printer) exactly once, and every badge is printed."""
    settings.VARCO_PRINT_MAX_ATTEMPTS = 10_000
    ids = _queue_many(printing, register, 20)
    station = printing.station_a

    def station_process(_index: int) -> list[int]:
        printed = []
        while (found := claims.claim(station)) is not None:
            try:
                claims.handed(station, found.job.pk, found.claim)
            except claims.ClaimLost:
                continue  # another claimer took it back before we sent anything: fine
            printed.append(found.job.pk)  # "the bytes went to the printer"
            claims.printed(station, found.job.pk, found.claim)
        return printed

    results = run_in_threads(3, station_process, join_timeout=120)
    handed = [job_id for printed in results for job_id in printed]
    assert Counter(handed).most_common(1)[0][1] == 1, "a badge went to the printer twice"
    assert sorted(handed) == sorted(ids)
    assert set(PrintJob.objects.values_list("state", flat=True)) == {JobState.PRINTED}


def test_racing_receivers_queue_one_badge(printing, register):
    ticket = register(name="Giulia Rossi")
    assert Door(printing.token_a, printing.checkin_list).scan(
        services.ticket_code(ticket))["status"] == "ok"
    PrintJob.objects.all().delete()
    log = ScanLog.objects.get(result="ok")

    def receiver(_index: int) -> int | None:
        return queue.queue_for_admission(
            scan_log_id=log.pk, ticket_id=ticket.pk, list_id=printing.checkin_list.pk,
            event_id=ticket.event_id, device_id=printing.device_a.pk)

    results = run_in_threads(THREADS, receiver, join_timeout=120)
    assert len([r for r in results if r is not None]) == 1
    assert PrintJob.objects.count() == 1
