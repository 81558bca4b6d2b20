"""The scan path through PgBouncer in transaction mode (Debian's 1.18), as deployed: a real
gunicorn whose DATABASE_URL is the pooler, more web threads than server connections, so that
consecutive transactions of one web thread run on different server connections
(``DB_TRANSACTION_POOLING``, backend/settings.py; docs/shared-state.md)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid

import pytest
from django.db import connection

from checkin.models import Presence, ScanLog
from tests.support.checkin import make_device, make_list
from tests.support.pgbouncer import pgbouncer
from tests.support.smtp_sink import free_port
from tests.support.web_process import clean_env, gunicorn
from tickets import services

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SCAN = "/api/v1/checkin/scan/"


def _post(base: str, token: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        base + SCAN, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _at_once(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def target(index: int) -> None:
        barrier.wait(timeout=30)
        results[index] = work(index)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    return results


@pytest.fixture
def pooled_web(tmp_path):
    """gunicorn (2 processes x 8 threads) -> pgbouncer (transaction mode, 3 server
    connections) -> the test database."""
    settings_dict = connection.settings_dict
    with pgbouncer(free_port(), host=settings_dict["HOST"] or "127.0.0.1",
                   port=int(settings_dict["PORT"] or 5432),
                   user=settings_dict["USER"] or "postgres", pool_size=3) as bouncer:
        env = clean_env(DATABASE_URL=bouncer.url(settings_dict["NAME"]),
                        DB_TRANSACTION_POOLING="true", GUNICORN_WORKERS="2",
                        GUNICORN_THREADS="8", VARCO_INVALID_SCAN_FLUSH_SECONDS="0.2")
        with gunicorn(tmp_path, env) as server:
            yield server


def test_fifty_devices_one_ticket_through_pgbouncer_admit_it_once(event, register,
                                                                  pooled_web):
    door_list = make_list(event)
    tokens = [make_device(event, [door_list], name=f"D{i}")[1] for i in range(50)]
    code = services.ticket_code(register())

    answers = _at_once(50, lambda i: _post(pooled_web.base, tokens[i], {
        "code": code, "list": door_list.pk, "nonce": str(uuid.uuid4())}))

    assert [status for status, _ in answers] == [200] * 50, (answers, pooled_web.log())
    statuses = sorted(body["status"] for _, body in answers)
    assert statuses.count("ok") == 1
    assert {b["reason"] for _, b in answers if b["status"] == "rejected"} == {
        "already_checked_in"}
    assert ScanLog.objects.filter(result="ok").count() == 1
    assert ScanLog.objects.count() == 50
    presence = Presence.objects.get()
    assert (presence.entries, presence.inside) == (1, True)


def test_retries_and_many_tickets_through_pgbouncer_exactly_once(event, register, staff,
                                                                 pooled_web):
    """Each of 30 tickets scanned by a device that retries the same request at once (same
    nonce) from two threads: one log row and one entry each, both answers the same. The
    attendance figures, whose aggregate reads tickets with ``QuerySet.iterator()`` (a WITH
    HOLD server-side cursor unless turned off), count them through the pooler too."""
    door_list = make_list(event)
    token = make_device(event, [door_list])[1]
    codes = [services.ticket_code(register(name=f"Persona {i}", email=f"p{i}@example.org"))
             for i in range(30)]
    nonces = [str(uuid.uuid4()) for _ in codes]

    answers = _at_once(60, lambda i: _post(pooled_web.base, token, {
        "code": codes[i // 2], "list": door_list.pk, "nonce": nonces[i // 2]}))

    assert [status for status, _ in answers] == [200] * 60, (answers, pooled_web.log())
    for index in range(30):
        first, second = answers[2 * index][1], answers[2 * index + 1][1]
        assert first["status"] == second["status"] == "ok"
        assert first["checked_in_at"] == second["checked_in_at"]
    assert ScanLog.objects.count() == 30
    assert Presence.objects.filter(entries=1).count() == 30

    request = urllib.request.Request(
        f"{pooled_web.base}/api/v1/events/{event.pk}/attendance/",
        headers={"Authorization": f"Token {staff.api_token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        figures = json.loads(response.read())
    assert (figures["registered"], figures["checked_in"], figures["inside"]) == (30, 30, 30)
