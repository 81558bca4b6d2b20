"""The scan_admitted receiver: one badge per admitted entry at a list that prints badges, at
the station of the device's gate; none for exits, rejections, re-entries, replays; offline
uploads print too; manual check-ins print at the list's default station only; a receiver
error never reaches the scan; a revoked ticket's badges are cancelled."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import pytest
from django.utils import timezone

from badges.jobs import queue, stations
from badges.models import JobState, PrintJob
from checkin import services as checkin_services
from checkin.devices import list_rule
from tests.support.checkin import Door, make_device
from tickets import services

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admitted_entry_queues_one_badge_at_its_gates_station(printing, register):
    ticket = register(name="Giulia Rossi")
    door = Door(printing.token_b, printing.checkin_list)
    code = services.ticket_code(ticket)
    nonce = str(uuid.uuid4())
    assert door.scan(code, nonce=nonce)["status"] == "ok"
    job = PrintJob.objects.get()
    assert (job.station_id, job.ticket_id, job.layout_id, job.gate, job.state, job.reprint) == (
        printing.station_b.pk, ticket.pk, printing.layout.pk, "B", JobState.QUEUED, False)
    # the same request again (a replay), an exit, a re-entry at the other gate: no new badge
    assert door.scan(code, nonce=nonce)["status"] == "ok"
    assert door.scan(code, type="exit")["status"] == "ok"
    assert Door(printing.token_a, printing.checkin_list).scan(code)["status"] == "ok"
    assert PrintJob.objects.count() == 1


def test_rejections_print_nothing(printing, register, event):
    ticket = register(name="Giulia Rossi")
    services.revoke_ticket(ticket)
    door = Door(printing.token_a, printing.checkin_list)
    assert door.scan(services.ticket_code(ticket))["reason"] == "revoked"
    assert door.scan("NOT-A-CODE")["reason"] == "invalid"
    assert not PrintJob.objects.exists()


def test_a_list_without_badge_printing_prints_nothing(printing, register, event):
    stations.set_list_printing(printing.checkin_list, None)
    ticket = register(name="Giulia Rossi")
    assert Door(printing.token_a, printing.checkin_list).scan(
        services.ticket_code(ticket))["status"] == "ok"
    assert not PrintJob.objects.exists()


def test_a_gate_without_station_prints_at_the_default_station_or_nowhere(printing, register,
                                                                        event):
    _device, token_c = make_device(event, [printing.checkin_list], name="Porta C", gate="C")
    first, second = register(name="Uno", email="uno@example.org"), register(
        name="Due", email="due@example.org")
    door_c = Door(token_c, printing.checkin_list)
    assert door_c.scan(services.ticket_code(first))["status"] == "ok"
    assert not PrintJob.objects.exists()
    stations.set_list_printing(printing.checkin_list, printing.layout, printing.station_a)
    assert door_c.scan(services.ticket_code(second))["status"] == "ok"
    job = PrintJob.objects.get()
    assert (job.ticket_id, job.station_id, job.gate) == (second.pk, printing.station_a.pk, "C")


def test_offline_uploads_print_once(printing, register):
    ticket = register(name="Giulia Rossi")
    door = Door(printing.token_a, printing.checkin_list)
    earlier = (timezone.now() - dt.timedelta(minutes=5)).isoformat()
    scan = {"code": services.ticket_code(ticket), "list": printing.checkin_list.pk,
            "nonce": "o-1", "scanned_at": earlier}
    # out and in again (a re-entry, allowed): one badge
    scans = [scan, {**scan, "nonce": "o-2", "type": "exit"}, {**scan, "nonce": "o-3"}]
    results = door.post("/api/v1/checkin/sync/", {"scans": scans}).json()["results"]
    assert [r["status"] for r in results] == ["ok", "ok", "ok"]
    door.post("/api/v1/checkin/sync/", {"scans": scans})  # the upload again: replays
    job = PrintJob.objects.get()
    assert (job.station_id, job.gate, job.ticket_id) == (printing.station_a.pk, "A", ticket.pk)


def test_manual_check_in_prints_only_at_a_default_station(printing, register, staff, event):
    first, second = register(name="Uno", email="uno@example.org"), register(
        name="Due", email="due@example.org")
    rule = list_rule(printing.checkin_list)
    assert checkin_services.manual_check_in(rule, first.pk, user_id=staff.pk).status == "ok"
    assert not PrintJob.objects.exists()
    stations.set_list_printing(printing.checkin_list, printing.layout, printing.station_b)
    assert checkin_services.manual_check_in(rule, second.pk, user_id=staff.pk).status == "ok"
    job = PrintJob.objects.get()
    assert (job.ticket_id, job.station_id, job.gate) == (second.pk, printing.station_b.pk, "")


def test_a_failing_receiver_never_reaches_the_scan(printing, register, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("printer room on fire")

    monkeypatch.setattr(queue, "queue_for_admission", broken)
    ticket = register(name="Giulia Rossi")
    with caplog.at_level(logging.ERROR, logger="badges.jobs.receivers"):
        answer = Door(printing.token_a, printing.checkin_list).scan(services.ticket_code(ticket))
    assert answer["status"] == "ok"
    assert "not queued" in caplog.text and "printer room on fire" in caplog.text


def test_revoking_a_ticket_cancels_its_badges_not_yet_printed(printing, register):
    ticket = register(name="Giulia Rossi")
    assert Door(printing.token_a, printing.checkin_list).scan(
        services.ticket_code(ticket))["status"] == "ok"
    services.revoke_ticket(ticket)
    job = PrintJob.objects.get()
    assert job.state == JobState.CANCELLED and "revoked" in job.last_error
