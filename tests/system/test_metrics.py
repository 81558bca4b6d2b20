"""GET /metrics (backend/metrics.py, core/metrics.py): who may read it, that it parses as
Prometheus text, and that its figures move with the work — in one process, and summed over a
real gunicorn's workers (multiprocess mode, gunicorn.conf.py)."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from checkin.attendance.stream import slots
from tests.support.checkin import Door, make_device, make_list
from tests.support.web_process import clean_env, gunicorn
from tickets import onboarding, services
from tickets.models import Delivery

pytestmark = pytest.mark.django_db


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    """name, sorted labels -> value, from the exposition text (parsed by prometheus_client)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def superuser_token(db) -> str:
    user = get_user_model().objects.create_superuser("root", "root@example.org", "pw")
    return onboarding.issue_api_token(user)


def _scrape(client: Client, token: str) -> dict:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return _samples(response.content.decode())


def test_only_superusers_and_the_metrics_token_may_read(client, staff, superuser_token,
                                                         settings):
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "not_authenticated"
    organiser_staff = client.get("/metrics", HTTP_AUTHORIZATION=f"Token {staff.api_token}")
    assert organiser_staff.status_code == 403
    assert organiser_staff.json()["error"] == "permission_denied"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer guessed").status_code == 401
    settings.VARCO_METRICS_TOKEN = "s3cret-scraper-token"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics",
                      HTTP_AUTHORIZATION="Bearer s3cret-scraper-token").status_code == 200
    assert client.get("/metrics",
                      HTTP_AUTHORIZATION=f"Token {superuser_token}").status_code == 200
    assert client.post("/metrics",
                       HTTP_AUTHORIZATION=f"Token {superuser_token}").status_code == 405


def test_scans_rejections_latency_streams_and_deliveries_move(client, event, register,
                                                              superuser_token):
    door_list = make_list(event)
    door = Door(make_device(event, [door_list])[1], door_list)
    ticket = register()
    before = _scrape(client, superuser_token)

    assert door.scan(services.ticket_code(ticket))["status"] == "ok"
    assert door.scan(services.ticket_code(ticket))["reason"] == "already_checked_in"
    assert door.scan("GARBAGE")["reason"] == "invalid"
    unauthenticated = door.post("/api/v1/checkin/scan/", {"code": "x", "list": door_list.pk},
                                token="vd_nobody")
    assert unauthenticated.status_code == 401
    assert slots.take((("organiser", event.organiser_id),))
    queued = Delivery.objects.filter(ticket=ticket).first() or Delivery.objects.create(
        ticket=ticket, version=ticket.version, reason="issued",
        recipient=ticket.attendee.email, message_id=f"<{uuid.uuid4()}@test>")
    Delivery.objects.filter(pk=queued.pk).update(
        state="queued", queued_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
    try:
        after = _scrape(client, superuser_token)
    finally:
        slots.give_back((("organiser", event.organiser_id),))

    def moved(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert moved("varco_scans_total", status="200", result="ok", reason="") == 1
    assert moved("varco_scans_total", status="200", result="rejected",
                 reason="already_checked_in") == 1
    assert moved("varco_scans_total", status="200", result="rejected", reason="invalid") == 1
    assert moved("varco_scans_total", status="401", result="not_authenticated", reason="") == 1
    assert moved("varco_scan_seconds_count") == 4
    assert moved("varco_scan_seconds_bucket", le="+Inf") == 4
    assert moved("varco_live_streams_open") == 1
    assert _value(after, "varco_deliveries", state="queued") >= 1
    assert _value(after, "varco_delivery_oldest_seconds", state="queued") >= 300
    assert _value(after, "varco_metrics_database_up") == 1


def test_requests_over_the_threshold_are_counted_by_kind(client, event, superuser_token,
                                                         monkeypatch):
    from core import metrics

    door_list = make_list(event)
    door = Door(make_device(event, [door_list])[1], door_list)
    before = _scrape(client, superuser_token)
    monkeypatch.setattr(metrics, "SLOW_SECONDS", 0.0)  # every request is "slow"
    door.scan("GARBAGE")
    client.get("/healthz")
    monkeypatch.setattr(metrics, "SLOW_SECONDS", 1.0)
    after = _scrape(client, superuser_token)
    for kind in ("scan", "other"):
        assert (_value(after, "varco_slow_requests_total", kind=kind)
                - _value(before, "varco_slow_requests_total", kind=kind)) >= 1


def _http(url: str, *, token: str, body: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode() if body is not None else None,
        method="POST" if body is not None else "GET",
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_gunicorn_workers_are_summed_in_every_scrape(event, register, superuser_token,
                                                    tmp_path):
    """Two gunicorn workers, scans spread over them: every scrape (answered by either
    worker) counts all of them, and the database's connections appear per client host."""
    door_list = make_list(event)
    token = make_device(event, [door_list])[1]
    codes = [services.ticket_code(register(name=f"P {i}", email=f"p{i}@example.org"))
             for i in range(12)]
    db = connection.settings_dict
    url = (f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}"
           f":{db['PORT'] or 5432}/{db['NAME']}")
    env = clean_env(GUNICORN_WORKERS="2", GUNICORN_THREADS="4", DATABASE_URL=url)
    with gunicorn(tmp_path, env) as server:
        base = server.base
        status, text = _http(f"{base}/metrics", token=superuser_token)
        assert status == 200, text
        before = _samples(text.decode())
        for code in [*codes, "GARBAGE-1", "GARBAGE-2"]:
            status, _ = _http(f"{base}/api/v1/checkin/scan/", token=token, body={
                "code": code, "list": door_list.pk, "nonce": str(uuid.uuid4())})
            assert status == 200
        for _ in range(4):  # new connections: both workers answer some of these
            status, text = _http(f"{base}/metrics", token=superuser_token)
            after = _samples(text.decode())
            assert _value(after, "varco_scans_total", status="200", result="ok",
                          reason="") - _value(before, "varco_scans_total", status="200",
                                              result="ok", reason="") == 12
            assert _value(after, "varco_scans_total", status="200", result="rejected",
                          reason="invalid") - _value(
                before, "varco_scans_total", status="200", result="rejected",
                reason="invalid") == 2
            assert _value(after, "varco_scan_seconds_count") - _value(
                before, "varco_scan_seconds_count") == 14
            assert any(name == "varco_db_connections" for name, _ in after)
            assert _value(after, "varco_live_streams_open") == 0
