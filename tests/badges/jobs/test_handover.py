"""The badge's statement off the scan's path (badges.jobs.handover) and the sweep's backfill:
a badge handed to the thread is queued once; an admission whose hand-over was lost (the
process died after the scan's commit) is queued by the next sweep, once; nothing else is."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from badges.jobs import handover
from badges.jobs.sweep import sweep
from badges.models import JobState, ListPrinting, PrintJob
from checkin.models import ScanLog
from tests.support.checkin import Door
from tickets import services

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def threaded(settings):
    settings.VARCO_PRINT_QUEUE_INLINE = False


def _admit(printing, ticket, **extra):
    answer = Door(printing.token_a, printing.checkin_list).scan(services.ticket_code(ticket),
                                                                 **extra)
    assert answer["status"] == "ok"


def test_the_thread_queues_the_badge(threaded, printing, register):
    _admit(printing, register(name="Giulia Rossi"))
    assert handover.drain(20)
    job = PrintJob.objects.get()
    assert (job.station_id, job.state) == (printing.station_a.pk, JobState.QUEUED)


def test_a_lost_hand_over_is_backfilled_by_the_sweep_once(threaded, printing, register,
                                                          monkeypatch):
    monkeypatch.setattr(handover._handover, "put", lambda admission: None)  # "process died"
    lost = register(name="Giulia Rossi")
    _admit(printing, lost)
    _admit(printing, lost, type="exit")
    revoked = register(name="Marco Bianchi", email="marco@example.org")
    _admit(printing, revoked)
    services.revoke_ticket(revoked)
    assert not PrintJob.objects.exists()
    # too recent: still the thread's (the grace period)
    assert sweep().backfilled == 0
    ScanLog.objects.update(received_at=timezone.now() - dt.timedelta(seconds=30))
    ListPrinting.objects.update(created_at=timezone.now() - dt.timedelta(hours=1))
    result = sweep()
    assert result.backfilled == 1 and result.woken >= 1
    job = PrintJob.objects.get()
    assert (job.ticket_id, job.station_id, job.gate, job.state) == (
        lost.pk, printing.station_a.pk, "A", JobState.QUEUED)
    assert sweep().backfilled == 0
    assert PrintJob.objects.count() == 1


def test_the_backfill_leaves_entries_from_before_printing_and_old_ones(threaded, printing,
                                                                       register, monkeypatch):
    monkeypatch.setattr(handover._handover, "put", lambda admission: None)
    _admit(printing, register(name="Giulia Rossi"))
    now = timezone.now()
    ScanLog.objects.update(received_at=now - dt.timedelta(seconds=30))
    ListPrinting.objects.update(created_at=now - dt.timedelta(seconds=10))  # configured after
    assert sweep().backfilled == 0
    ListPrinting.objects.update(created_at=now - dt.timedelta(hours=1))
    ScanLog.objects.update(received_at=now - dt.timedelta(minutes=30))  # outside the window
    assert sweep().backfilled == 0
    assert not PrintJob.objects.exists()
