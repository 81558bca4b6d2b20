"""Fault drills: break one real component in the middle of real work, check nothing is lost or
doubled. Run them alone with ``make drills`` (``pytest -m drills -s``); they are also part of
``.ci/run``'s PostgreSQL + Redis pass. Each prints what it did and the counts it asserted.

- Celery worker SIGKILLed mid-batch: ``tests/tickets/delivery/test_worker.py::
  test_worker_killed_mid_batch_every_ticket_delivered_exactly_once`` (marked ``drills`` too).
- Redis (our own ``redis-server``, no persistence) killed and restarted mid-batch: the queued
  tasks are gone; the delivery sweep publishes the rows again; every ticket arrives once.
- The SMTP server down (connection refused) for a while, then back: retried, none lost, none
  doubled.
- PostgreSQL connections of a live gunicorn terminated during a burst of concurrent scans:
  every answer is a correct 200 or a 503 JSON, never a false "ok"; retrying each 503 with the
  same nonce lands it exactly once.
- A door device offline for an hour uploads 500 queued scans in batches through the sync
  endpoint: each ticket admitted once, conflicts flagged as documented, re-uploading changes
  nothing.

Production clocks are minutes (sweep 30 s, stale 90 s); here ``worker_env`` shortens them to
seconds (``VARCO_DELIVERY_SWEEP_SECONDS=2``, ``VARCO_DELIVERY_STALE_SECONDS=4``), and the
outages last ``VARCO_DRILL_OUTAGE_SECONDS`` (default 6) instead of "a minute".
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import redis
from django.db.models import Count

from tests.support.deliveries import register_many, sent_count
from tests.support.redis_server import RedisServer
from tests.support.smtp_sink import SMTPSink, free_port
from tests.support.worker_process import Worker, no_other_sessions, wait_until, worker_env
from tickets.delivery import queue
from tickets.models import Delivery

OUTAGE = float(os.environ.get("VARCO_DRILL_OUTAGE_SECONDS", "6"))

pytestmark = [
    pytest.mark.drills,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]


def report(drill: str, **counts) -> None:
    print(f"\n[drill] {drill}: " + ", ".join(f"{k.replace('_', ' ')}={v}"
                                            for k, v in counts.items()))


# --- e-mail delivery ---------------------------------------------------------------------------


@pytest.fixture
def worker_broker(settings):
    """The test process does not run tasks eagerly and never publishes on issue."""
    from backend.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    settings.VARCO_SEND_ON_ISSUE = False
    yield
    wait_until(no_other_sessions, timeout=15)


def _check_exactly_once(sink, event, tickets) -> tuple[int, int]:
    """Every ticket arrived, one Message-ID each; a repeat only where the in-doubt rule says.

    Returns (same-ID re-sends, in-doubt count)."""
    rows = {d.ticket_id: d for d in Delivery.objects.filter(ticket__event=event)}
    per_ticket = sink.per_ticket()
    message_ids: dict[str, set[str]] = defaultdict(set)
    for received in sink.messages:
        message_ids[received.ticket].add(received.message_id)
    assert set(per_ticket) == {f"{t.pk}.{t.version}" for t in tickets}
    for ticket in tickets:
        key = f"{ticket.pk}.{ticket.version}"
        row = rows[ticket.pk]
        assert row.state == Delivery.State.SENT, (key, row.state, row.last_error)
        assert message_ids[key] == {row.message_id}
        if per_ticket[key] > 1:
            assert row.in_doubt_count >= per_ticket[key] - 1, (key, row.last_error)
    assert not Delivery.objects.filter(ticket__event=event).values("ticket").annotate(
        n=Count("pk")).filter(n__gt=1).exists()
    duplicates = sum(n - 1 for n in per_ticket.values())
    in_doubt = sum(r.in_doubt_count for r in rows.values())
    assert duplicates <= in_doubt
    return duplicates, in_doubt


def test_drill_smtp_server_down_then_back(organiser, worker_broker, tmp_path):
    count = 120
    event, tickets = register_many(organiser, count, "drill-smtp-down")
    sink = SMTPSink().__enter__()
    handler, port = sink.handler, sink.port
    env = worker_env(port, tmp_path, VARCO_SEND_ON_ISSUE="0", REDIS_URL=os.environ["REDIS_URL"])
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    worker = None
    try:
        ids = queue.queue_unsent(event)  # published on commit (autocommit: at once)
        assert len(ids) == count
        worker = Worker(env, tmp_path / "worker.log")
        assert wait_until(lambda: handler.count() >= 25, timeout=60), worker.log_tail()
        sink.__exit__(None, None, None)  # the server goes away: connection refused
        down_at = handler.count()
        time.sleep(OUTAGE)
        during = handler.count()
        waiting = Delivery.objects.filter(ticket__event=event).exclude(
            state=Delivery.State.SENT)
        refused = waiting.filter(last_error__icontains="refused").count()
        assert refused > 0, list(waiting.values_list("state", "last_error")[:5])
        assert not Delivery.objects.filter(ticket__event=event,
                                           state=Delivery.State.FAILED).exists()
        # The same handler (so the same counts) answers again on the same port.
        sink = _restart_sink(handler, port)
        assert wait_until(lambda: sent_count(event) == count, timeout=90), (
            f"{sent_count(event)} of {count} sent\n{worker.log_tail()}")
        wait_until(lambda: False, timeout=2)  # a late duplicate would show up here
    finally:
        if worker:
            worker.stop()
        with contextlib.suppress(Exception):
            sink.__exit__(None, None, None)
    duplicates, in_doubt = _check_exactly_once(handler, event, tickets)
    retried = Delivery.objects.filter(ticket__event=event, attempts__gte=2).count()
    assert retried >= refused > 0
    report("SMTP down then back", tickets=count, received_before_outage=down_at,
           received_during_outage=during - down_at, outage_seconds=OUTAGE,
           refused_and_waiting=refused, retried=retried, delivered=sent_count(event),
           messages=handler.count(), in_doubt=in_doubt, same_id_resends=duplicates)
    assert during - down_at <= 1  # at most one whose final dot was in flight


def _restart_sink(handler, port: int) -> SMTPSink:
    """A new server on the same port with the same handler (so the counts go on)."""
    from aiosmtpd.controller import Controller

    sink = SMTPSink.__new__(SMTPSink)
    sink.handler, sink.port = handler, port
    sink.controller = Controller(handler, hostname="127.0.0.1", port=port,
                                 data_size_limit=10_000_000)
    return sink.__enter__()


def test_drill_redis_restarted_mid_batch_loses_queue_sweep_republishes(
    organiser, worker_broker, tmp_path, monkeypatch
):
    count = 300
    event, tickets = register_many(organiser, count, "drill-redis")
    server = RedisServer(free_port(), tmp_path)
    server.start()
    env = worker_env(0, tmp_path, VARCO_SEND_ON_ISSUE="0", REDIS_URL=server.url)
    worker = None
    with SMTPSink() as sink:
        handler = sink.handler
        env["EMAIL_PORT"] = str(sink.port)
        try:
            # Publish to the drill's Redis, as a web process configured with it would.
            from backend.celery import app
            from tickets.delivery.tasks import send_deliveries

            with monkeypatch.context() as patch:  # not to the suite's Redis
                patch.setattr(queue, "publish", lambda ids, countdown=None: None)
                ids = queue.queue_unsent(event)
            assert len(ids) == count
            size = int(env["VARCO_DELIVERY_BATCH_SIZE"])
            with app.connection_for_write(server.url) as conn:
                for start in range(0, count, size):
                    send_deliveries.apply_async((ids[start:start + size],), connection=conn)
            client = redis.Redis.from_url(server.url)
            queued = client.llen("deliveries") + client.llen("varco")
            worker = Worker(env, tmp_path / "worker.log")
            assert wait_until(lambda: handler.count() >= 60, timeout=60), worker.log_tail()
            lost_tasks = client.llen("deliveries") + client.llen("varco")
            server.kill()
            at_kill = handler.count()
            time.sleep(1)
            server.start()  # no RDB/AOF: it starts empty, the queued tasks are lost
            assert wait_until(lambda: sent_count(event) == count, timeout=120), (
                f"{sent_count(event)} of {count} sent\n{worker.log_tail()}")
            wait_until(lambda: False, timeout=2)
        finally:
            if worker:
                worker.stop()
            server.kill()
    duplicates, in_doubt = _check_exactly_once(handler, event, tickets)
    report("Redis restarted mid-batch", tickets=count, tasks_published=queued,
           tasks_still_queued_when_killed=lost_tasks, received_before_restart=at_kill,
           delivered=sent_count(event), messages=handler.count(), in_doubt=in_doubt,
           same_id_resends=duplicates)
    assert at_kill < count, "everything was sent before Redis went down"
    # Tasks were lost with Redis (only the sweep can have published those rows again).
    assert lost_tasks > 0


# --- check-in ------------------------------------------------------------------------------------


WEB_APP_NAME = "varco-drill-web"


@contextlib.contextmanager
def _gunicorn(tmp_path: Path, port: int):
    """gunicorn with gunicorn.conf.py (threaded workers, scan fast path) on the test database."""
    from tests.support.web_process import clean_env, gunicorn
    from tests.support.worker_process import shared_keys, test_database_url

    # Named, so that the drill terminates the web server's connections and nobody else's.
    env = clean_env(DATABASE_URL=f"{test_database_url()}?application_name={WEB_APP_NAME}",
                    VARCO_VAR_DIR=str(tmp_path / "var"), GUNICORN_WORKERS="2",
                    GUNICORN_THREADS="4", LOG_LEVEL="WARNING", VARCO_DEVICE_CACHE_SECONDS="5",
                    **shared_keys())
    with gunicorn(tmp_path, env, port=port) as server:
        yield server.base, server.log_path


def _post(base: str, path: str, token: str, body: dict) -> tuple[int, dict, dict]:
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = {"raw": raw[:200].decode(errors="replace")}
        return error.code, dict(error.headers), payload


@pytest.fixture
def no_mail(settings):
    """The check-in drills need tickets, not their e-mails."""
    settings.VARCO_SEND_ON_ISSUE = False


def test_drill_database_connections_dropped_during_scan_burst(organiser, no_mail, tmp_path):
    import threading

    import psycopg
    from django.conf import settings as django_settings

    from checkin.models import Presence, ScanLog
    from tests.support.checkin import SCAN_URL, make_device, make_list
    from tickets import services

    count = 150  # tickets; each is scanned at two doors at once
    event, tickets = register_many(organiser, count, "drill-db-drop")
    door_list = make_list(event)
    tokens = [make_device(event, [door_list], name=f"Porta {i}")[1] for i in range(2)]
    codes = [services.ticket_code(t) for t in tickets]
    # (ticket index, device, nonce): two devices per ticket, interleaved
    jobs = [(i, d, f"drill-{d}-{i}") for i in range(count) for d in range(2)]
    params = django_settings.DATABASES["default"]

    with _gunicorn(tmp_path, free_port()) as (base, log_path):
        answers: dict[str, tuple[int, dict, dict]] = {}
        lock = threading.Lock()
        cursor = iter(jobs)
        terminated: list[int] = []
        stop = threading.Event()

        def client() -> None:
            while True:
                with lock:
                    job = next(cursor, None)
                if job is None:
                    return
                i, device, nonce = job
                result = _post(base, SCAN_URL, tokens[device],
                               {"code": codes[i], "list": door_list.pk, "nonce": nonce})
                with lock:
                    answers[nonce] = result

        def killer() -> None:
            with psycopg.connect(host=params["HOST"], port=params["PORT"] or 5432,
                                 user=params["USER"], password=params["PASSWORD"],
                                 dbname=params["NAME"], autocommit=True) as admin:
                while not stop.is_set():
                    rows = admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND application_name = %s",
                        [WEB_APP_NAME]).fetchall()
                    terminated.append(sum(1 for (ok,) in rows if ok))
                    stop.wait(0.15)

        threads = [threading.Thread(target=client) for _ in range(8)]
        killing = threading.Thread(target=killer)
        started = time.monotonic()
        killing.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        stop.set()
        killing.join(timeout=10)
        burst_seconds = time.monotonic() - started

        statuses = Counter(status for status, _, _ in answers.values())
        assert len(answers) == len(jobs)
        assert set(statuses) <= {200, 503}, (statuses, log_path.read_text()[-3000:])
        failed = [nonce for nonce, (status, _, _) in answers.items() if status == 503]
        for nonce in failed:
            _, headers, body = answers[nonce]
            assert body["error"] == "unavailable" and headers.get("Retry-After") == "1", body
        # No false "ok": every ok answered during the burst is an ok row in the scan log.
        ok_nonces = {n for n, (s, _, b) in answers.items() if s == 200 and b["status"] == "ok"}
        logged_ok = set(ScanLog.objects.filter(nonce__in=ok_nonces, result="ok")
                        .values_list("nonce", flat=True))
        assert logged_ok == ok_nonces
        # A 503 may have been recorded after all (the commit went through, the answer not):
        recorded_anyway = ScanLog.objects.filter(nonce__in=failed).count()

        # The door retries every failed scan with the same nonce until it gets an answer.
        retries = 0
        for nonce in failed:
            i, device = int(nonce.rsplit("-", 1)[1]), int(nonce.split("-")[1])
            for _ in range(10):
                retries += 1
                status, _, body = _post(base, SCAN_URL, tokens[device],
                                        {"code": codes[i], "list": door_list.pk,
                                         "nonce": nonce})
                if status == 200:
                    answers[nonce] = (status, {}, body)
                    break
                assert status == 503, (status, body)
            else:
                pytest.fail(f"scan {nonce} still failing after 10 retries")
        # Each answer, replayed once more, is the same: the nonce was recorded once.
        for nonce in failed[:20]:
            i, device = int(nonce.rsplit("-", 1)[1]), int(nonce.split("-")[1])
            again = _post(base, SCAN_URL, tokens[device],
                          {"code": codes[i], "list": door_list.pk, "nonce": nonce})
            assert again[0] == 200 and again[2] == answers[nonce][2]
        server_errors = log_path.read_text().count("Traceback")

    wait_until(no_other_sessions, timeout=15)
    per_nonce = Counter(ScanLog.objects.filter(list=door_list).values_list("nonce", flat=True))
    assert set(per_nonce) == {nonce for _, _, nonce in jobs}
    assert set(per_nonce.values()) == {1}  # each scan exactly once
    for i in range(count):
        pair = sorted(answers[f"drill-{d}-{i}"][2]["status"] for d in range(2))
        assert pair == ["ok", "rejected"], (i, [answers[f"drill-{d}-{i}"] for d in range(2)])
    presences = Presence.objects.filter(list=door_list)
    assert presences.count() == count
    assert set(presences.values_list("entries", flat=True)) == {1}
    assert ScanLog.objects.filter(list=door_list, result="ok").count() == count
    report("database connections dropped during a scan burst", scans=len(jobs),
           tickets=count, seconds=round(burst_seconds, 1),
           backends_terminated=sum(terminated), answered_200=statuses[200],
           answered_503=statuses[503], recorded_despite_503=recorded_anyway,
           retry_requests=retries, scan_log_rows=sum(per_nonce.values()),
           admitted=presences.count(), server_tracebacks=server_errors)
    assert statuses[503] > 0, "no connection was dropped mid-scan: the drill did not bite"
    assert server_errors == 0  # every failure was the expected 503, none an unexpected 500


def test_drill_door_offline_for_an_hour_uploads_500_scans(organiser, no_mail):
    import datetime as dt
    import random

    from django.utils import timezone

    from checkin.models import Presence, ScanLog
    from tests.support.checkin import Door, make_device, make_list
    from tickets import services

    event, tickets = register_many(organiser, 450, "drill-offline")
    door_list = make_list(event)
    offline = Door(make_device(event, [door_list], name="Porta B (offline)")[1], door_list)
    online = Door(make_device(event, [door_list], name="Porta A")[1], door_list)
    codes = [services.ticket_code(t) for t in tickets]
    rng = random.Random(2017)
    now = timezone.now()
    start = now - dt.timedelta(hours=1)

    # While B is offline, A (online) admits tickets 0..39.
    for i in range(40):
        assert online.scan(codes[i], nonce=f"online-{i}")["status"] == "ok"
    # B's queue, made during the hour: tickets 0..439 once (0..39 were let in by B too, not
    # knowing A had: conflicts), and 60 repeats of tickets 100..159 that B itself refused
    # locally (already in, by its own copy): duplicates, no conflict.
    scans = []
    for i in range(440):
        at = start + dt.timedelta(seconds=rng.uniform(0, 3000))
        scans.append({"code": codes[i], "list": door_list.pk, "nonce": f"offline-{i}",
                      "scanned_at": at.isoformat(), "local_status": "ok", "_i": i})
    firsts = {s["_i"]: s for s in scans}
    for i in range(100, 160):
        at = dt.datetime.fromisoformat(firsts[i]["scanned_at"]) + dt.timedelta(
            seconds=rng.uniform(1, 550))
        scans.append({"code": codes[i], "list": door_list.pk, "nonce": f"offline-again-{i}",
                      "scanned_at": at.isoformat(), "local_status": "rejected", "_i": i})
    assert len(scans) == 500
    scans.sort(key=lambda s: s["scanned_at"])  # the device's queue, oldest first
    for scan in scans:
        del scan["_i"]
    batches = [scans[k:k + 100] for k in range(0, 500, 100)]
    for batch in batches:
        rng.shuffle(batch)  # order within a request does not matter: the server sorts

    def upload() -> dict[str, dict]:
        results = {}
        for batch in batches:
            response = offline.post("/api/v1/checkin/sync/", {"scans": batch})
            assert response.status_code == 200, response.content
            answer = response.json()["results"]
            assert len(answer) == len(batch)
            results.update({r["nonce"]: r for r in answer})
        return results

    first = upload()
    rows_after_first = ScanLog.objects.count()
    presence_after_first = sorted(Presence.objects.values_list("ticket", "entries", "inside"))
    again = upload()

    outcome = Counter((r["status"], r["reason"], r["conflict"]) for r in first.values())
    assert outcome == {("ok", None, False): 400,
                       ("rejected", "already_checked_in", True): 40,
                       ("rejected", "already_checked_in", False): 60}, outcome
    assert all(first[f"offline-{i}"]["conflict"] for i in range(40))
    assert all(first[f"offline-{i}"]["status"] == "ok" for i in range(40, 440))
    assert all(not first[f"offline-again-{i}"]["conflict"] for i in range(100, 160))
    presences = Presence.objects.filter(list=door_list)
    assert presences.count() == 440
    assert set(presences.values_list("entries", flat=True)) == {1}  # each admitted once
    # First entry is the time the door let them in, not the upload time.
    by_ticket = {p.ticket_id: p for p in presences}
    for i in range(40, 440):
        assert by_ticket[tickets[i].pk].first_entry_at == dt.datetime.fromisoformat(
            firsts[i]["scanned_at"])
    offline_rows = ScanLog.objects.filter(source="offline")
    assert offline_rows.count() == 500
    assert offline_rows.filter(conflict=True).count() == 40
    # The organiser sees exactly these conflicts in the API.
    from rest_framework.test import APIClient

    from tickets import onboarding
    _, _, token = onboarding.create_staff_user(organiser, "drill", "drill@example.org", "pw")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    listed = api.get(f"/api/v1/events/{event.pk}/scans/", {"conflict": "true", "limit": 1000})
    assert listed.status_code == 200
    listed_rows = listed.json()
    listed_rows = listed_rows.get("results", listed_rows)
    assert {r["nonce"] for r in listed_rows} == {f"offline-{i}" for i in range(40)}
    # Re-uploading (answers lost on the way back) changes nothing and answers the same.
    assert again == first
    assert ScanLog.objects.count() == rows_after_first == 540
    assert sorted(Presence.objects.values_list("ticket", "entries", "inside")) == \
        presence_after_first
    report("door offline for an hour", queued_scans=500, batches=len(batches),
           admitted_online_meanwhile=40, admitted_from_upload=outcome[("ok", None, False)],
           conflicts=outcome[("rejected", "already_checked_in", True)],
           local_repeats_not_conflicts=outcome[("rejected", "already_checked_in", False)],
           tickets_inside=presences.count(), scan_log_rows=rows_after_first,
           rows_added_by_reupload=ScanLog.objects.count() - rows_after_first)
