"""The sweep runs on the worker's beat: a real ``python -m worker`` (beat embedded) on
PostgreSQL and Redis returns a stale claim to the queue and puts a lost hand-over in doubt,
and a station claiming afterwards gets the first and never the second."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from badges.jobs import claims
from badges.models import JobState, PrintJob
from tests.support.checkin import Door
from tests.support.smtp_sink import free_port
from tests.support.worker_process import Worker, no_other_sessions, wait_until, worker_env
from tickets import services

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis,
              pytest.mark.django_db(transaction=True)]


def test_the_workers_beat_sweeps_print_jobs(printing, register, tmp_path):
    for name in ("Uno", "Due"):
        ticket = register(name=name, email=f"{name.lower()}@example.org")
        assert Door(printing.token_a, printing.checkin_list).scan(
            services.ticket_code(ticket))["status"] == "ok"
    station = printing.station_a
    stale = claims.claim(station)
    lost = claims.claim(station, requeue_own=False)
    claims.handed(station, lost.job.pk, lost.claim)
    past = timezone.now() - dt.timedelta(minutes=5)
    PrintJob.objects.filter(pk=stale.job.pk).update(claimed_at=past)
    PrintJob.objects.filter(pk=lost.job.pk).update(claimed_at=past, handed_at=past)

    env = worker_env(free_port(), tmp_path / "var", VARCO_PRINT_SWEEP_SECONDS="1",
                     VARCO_PRINT_STALE_SECONDS="60")
    worker = Worker(env, tmp_path / "worker.log", concurrency=1)
    try:
        def swept() -> bool:
            states = dict(PrintJob.objects.values_list("pk", "state"))
            return (states[stale.job.pk], states[lost.job.pk]) == (JobState.QUEUED,
                                                                    JobState.IN_DOUBT)

        assert wait_until(swept, timeout=90), worker.log_tail()
    finally:
        worker.stop()
    assert wait_until(no_other_sessions, timeout=30)
    again = claims.claim(station)
    assert again is not None and again.job.pk == stale.job.pk
    assert claims.claim(station, requeue_own=False) is None  # the badge in doubt is not
    assert PrintJob.objects.get(pk=lost.job.pk).state == JobState.IN_DOUBT
