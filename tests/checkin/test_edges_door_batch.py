"""The invalid-scan batch and the flood limit at the door's edges (issue 10).

- a row the database refuses is dropped with a warning; the rows around it, and every later
  batch, are written (it used to be put back and fail every second, for good);
- ``/sync/`` uploads have a per-device allowance of invalid codes (it used to have none: 5,000
  junk rows in 0.2 s), never limiting signed codes;
- a real gunicorn writes the pending batch when it gets SIGTERM.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.error
import urllib.request
import uuid

import pytest
from django.utils import timezone

from checkin.models import ScanLog
from checkin.scanning import invalid_log
from tests.support.checkin import SCAN_URL, WsgiClient, make_device, make_list
from tickets import services

pytestmark = pytest.mark.django_db
SYNC_URL = "/api/v1/checkin/sync/"


@pytest.fixture
def batched(settings):
    settings.VARCO_INVALID_SCAN_FLUSH_SECONDS = 3600  # the tests flush by hand
    invalid_log.buffer.flush()
    return invalid_log.buffer


@pytest.fixture
def door_list(event):
    return make_list(event)


def _row(door_list, nonce: str, **extra) -> dict:
    now = timezone.now()
    return {"event_id": door_list.event_id, "list_id": door_list.pk, "device_id": None,
            "direction": "entry", "source": "scan", "nonce": nonce, "scanned_at": now,
            "received_at": now, **extra}


def test_a_row_the_database_refuses_is_dropped_and_the_batch_keeps_working(
        batched, door_list, caplog):
    from django.db import connection

    if connection.vendor == "postgresql":
        poisoned = _row(door_list, "poi\x00son")  # PostgreSQL refuses NUL in text
    else:
        poisoned = _row(door_list, "poi\ud800son")  # SQLite: a lone surrogate cannot be sent
    batched.record(**_row(door_list, "before"))
    batched.record(**poisoned)
    batched.record(**_row(door_list, "after"))
    caplog.set_level(logging.WARNING, logger="checkin.invalid_log")
    assert batched.flush() == 2
    assert batched.pending() == 0
    assert set(ScanLog.objects.values_list("nonce", flat=True)) == {"before", "after"}
    assert any("refused" in r.getMessage() for r in caplog.records)
    # The next batches are written as usual.
    batched.record(**_row(door_list, "later"))
    assert batched.flush() == 1
    assert ScanLog.objects.filter(nonce="later").exists()


def test_a_lost_connection_still_keeps_the_batch_for_the_next_try(batched, door_list,
                                                                   monkeypatch):
    from django.db import OperationalError

    batched.record(**_row(door_list, "kept"))

    def down(rows):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(batched, "_write", down)
    with pytest.raises(OperationalError):
        batched.flush()
    assert batched.pending() == 1
    monkeypatch.undo()
    assert batched.flush() == 1
    assert ScanLog.objects.filter(nonce="kept").exists()


# --- the flood limit applies to uploads ------------------------------------------------------


@pytest.fixture
def limits(settings):
    settings.VARCO_SCAN_INVALID_RATE = 2
    settings.VARCO_SCAN_INVALID_BURST = 3
    settings.VARCO_SYNC_INVALID_BURST = 10
    return settings


def _sync(token: str, scans: list[dict]):
    return WsgiClient().post(SYNC_URL, data=json.dumps({"scans": scans}),
                             content_type="application/json",
                             HTTP_AUTHORIZATION=f"Token {token}")


def _offline(code: str, list_id: int, minutes_ago: int = 5, **extra) -> dict:
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
    return {"code": code, "list": list_id, "nonce": str(uuid.uuid4()),
            "scanned_at": at.isoformat(), **extra}


def test_an_upload_of_junk_is_limited_but_every_signed_code_is_recorded(
        event, door_list, register, limits, monkeypatch):
    # The buckets' clocks stand still: on a loaded machine (or with a Redis round trip per
    # code) half a second between the uploads would refill a code at 2/s.
    from checkin.scanning import flood

    monkeypatch.setattr(flood.time, "monotonic", lambda: 1000.0)
    monkeypatch.setattr(flood, "wall_clock", lambda: 1000.0)
    _, token = make_device(event, [door_list])
    tickets = [register(name=f"Ospite {i}", email=f"o{i}@example.org") for i in range(5)]
    junk = [_offline(f"GARBAGE-{i}", door_list.pk) for i in range(40)]
    valid = [_offline(services.ticket_code(t), door_list.pk) for t in tickets]
    response = _sync(token, junk[:20] + valid + junk[20:])
    assert response.status_code == 200, response.content
    body = response.json()
    results = {r["nonce"]: r for r in body["results"]}
    assert all(results[s["nonce"]]["status"] == "ok" for s in valid)
    assert all(results[s["nonce"]]["reason"] == "invalid" for s in junk)
    assert body["invalid_not_logged"] == 30
    assert ScanLog.objects.filter(reason="invalid").count() == 10
    assert ScanLog.objects.filter(result="ok").count() == 5
    # A second upload right away: the allowance is spent, the junk is only counted.
    again = _sync(token, [_offline(f"MORE-{i}", door_list.pk) for i in range(5)])
    assert again.json()["invalid_not_logged"] == 5
    assert ScanLog.objects.filter(reason="invalid").count() == 10


def test_an_honest_gates_queue_is_recorded_in_full(event, door_list, register, limits):
    """A gate back from offline with a queue of mostly valid scans and a few misreads (fewer
    than one upload's allowance): every row is logged, nothing is counted away."""
    _, token = make_device(event, [door_list])
    tickets = [register(name=f"Ospite {i}", email=f"o{i}@example.org") for i in range(8)]
    scans = [_offline(services.ticket_code(t), door_list.pk, minutes_ago=60 - i)
             for i, t in enumerate(tickets)]
    scans += [_offline(f"SMUDGED-{i}", door_list.pk, minutes_ago=30 + i) for i in range(6)]
    response = _sync(token, scans)
    assert response.status_code == 200, response.content
    assert "invalid_not_logged" not in response.json()
    assert ScanLog.objects.filter(result="ok").count() == 8
    assert ScanLog.objects.filter(reason="invalid").count() == 6


def test_upload_and_live_scan_allowances_are_separate(event, door_list, limits):
    """Junk in an upload does not make the live scanner's invalid codes 429, nor the other
    way round."""
    _, token = make_device(event, [door_list])
    assert _sync(token, [_offline(f"G-{i}", door_list.pk) for i in range(12)]).json()[
        "invalid_not_logged"] == 2
    live = WsgiClient().post(SCAN_URL, data=json.dumps({"code": "LIVE", "list": door_list.pk}),
                             content_type="application/json",
                             HTTP_AUTHORIZATION=f"Token {token}")
    assert live.status_code == 200, live.content


# --- a real gunicorn, SIGTERM ------------------------------------------------------------------


def _post(base: str, token: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        base + SCAN_URL, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_gunicorn_writes_the_pending_invalid_scans_on_sigterm(event, tmp_path):
    """Invalid scans answered within the batch interval are in the database once gunicorn
    has stopped on SIGTERM — also after a hostile scan (NUL in its nonce) that used to
    poison the batch of its worker for good."""
    from tests.support.web_process import clean_env, gunicorn
    from tests.support.worker_process import test_database_url

    door_list = make_list(event)
    _, token = make_device(event, [door_list])
    env = clean_env(DATABASE_URL=test_database_url(), VARCO_VAR_DIR=str(tmp_path / "var"),
                    GUNICORN_WORKERS="2", GUNICORN_THREADS="2", LOG_LEVEL="WARNING",
                    # far longer than the test: only the exit can write them
                    VARCO_INVALID_SCAN_FLUSH_SECONDS="600")
    with gunicorn(tmp_path, env, stop_timeout=20) as server:
        base, process, log_path = server.base, server.process, server.log_path
        status, _ = _post(base, token, {"code": "GARBAGE", "list": door_list.pk,
                                        "nonce": "poi\x00son"})
        assert status == 400
        nonces = [f"sigterm-{i}" for i in range(12)]
        for nonce in nonces:
            status, answer = _post(base, token, {"code": f"GARBAGE-{nonce}",
                                                 "list": door_list.pk, "nonce": nonce})
            assert (status, answer["reason"]) == (200, "invalid")
        assert not ScanLog.objects.filter(nonce__in=nonces).exists()  # still batched
    assert process.returncode == 0, log_path.read_text()
    logged = set(ScanLog.objects.filter(nonce__startswith="sigterm-")
                 .values_list("nonce", flat=True))
    assert logged == set(nonces), log_path.read_text()
