"""The browser station's stream as deployed: a real gunicorn (2 processes), a scan posted over
HTTP, the ``job`` event read from a stream held open on another connection — usually served
by the other process, so the wake-up crosses processes: through Redis pub/sub on PostgreSQL +
Redis, through the short database poll in the embedded mode (SQLite, no Redis). Each
latency is printed; the contract is well under a second."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.web_process import clean_env, gunicorn
from tests.support.worker_process import ROOT, shared_keys
from tests.support.worker_process import test_database_url as database_url

SCANS = 8
WARM_UP = 2  # the first scans also load each cold process's code and caches: not counted

SETUP = """
import json
from django.utils import timezone
import datetime as dt
from badges import services as badge_services
from badges.jobs import stations
from checkin import services as checkin_services
from tickets import services
from tickets.models import TicketType
organiser = services.create_organiser("Fondazione Stampa", "fondazione-stampa")
now = timezone.now()
event = services.create_event(
    organiser, name="Stampa", slug="stampa", venue="Teatro", address="Via Roma 1, Milano",
    start=now - dt.timedelta(hours=1), end=now + dt.timedelta(hours=6), languages=["it"],
    capacity=None)
kind = TicketType.objects.create(event=event, name="Ingresso")
door_list = checkin_services.create_list(event, "Ingresso")
_, device = checkin_services.create_device(event, "Porta A", "A", lists=[door_list])
_, station = stations.create_station(event, "Stampante A", ["A"])
stations.set_list_printing(door_list, badge_services.create_layout(event, name="Badge"))
codes = [services.ticket_code(services.register(event, services.Registration(
    f"Persona {i}", f"p{i}@example.org", "", "it", ticket_type_id=kind.pk)))
    for i in range(%(count)d)]
print(json.dumps({"device": device, "station": station, "list": door_list.pk,
                  "codes": codes}))
""".replace("%(count)d", str(SCANS))


def _setup(env: dict[str, str]) -> dict:
    made = subprocess.run([sys.executable, "manage.py", "shell", "-c", SETUP], cwd=ROOT,
                          env=env, check=True, capture_output=True, text=True, timeout=120)
    return json.loads(made.stdout.strip().splitlines()[-1])


class Stream:
    """``GET /api/v1/badges/station/stream/`` over a raw socket; a thread notes when each
    ``event: job`` arrives (keyed by the newest job id it announces)."""

    def __init__(self, port: int, token: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.sendall(
            b"GET /api/v1/badges/station/stream/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Accept: text/event-stream\r\nAuthorization: Token " + token.encode()
            + b"\r\n\r\n")
        self.jobs: dict[int, float] = {}
        self.status = b""
        self.opened = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            if not self.status:
                self.status = buffer.split(b"\r\n", 1)[0]
            if b"retry: " in buffer:
                self.opened.set()
            while b"event: job\n" in buffer:
                start = buffer.index(b"event: job\n")
                end = buffer.find(b"\n\n", start)
                if end < 0:
                    break
                block = buffer[start:end].decode()
                data = json.loads(block.split("data: ", 1)[1].splitlines()[0])
                self.jobs.setdefault(data["id"], time.monotonic())
                buffer = buffer[end + 2:]

    def close(self) -> None:
        self.sock.close()


def _scan(base: str, token: str, list_id: int, code: str) -> dict:
    request = urllib.request.Request(
        base + "/api/v1/checkin/scan/", method="POST",
        data=json.dumps({"code": code, "list": list_id}).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json",
                 "Connection": "close"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def _latencies(tmp_path: Path, env: dict[str, str]) -> list[float]:
    world = _setup(env)
    with gunicorn(tmp_path, env) as server:
        stream = Stream(server.port, world["station"])
        try:
            assert stream.opened.wait(30), stream.status
            latencies = []
            for code in world["codes"]:
                before = set(stream.jobs)
                started = time.monotonic()
                assert _scan(server.base, world["device"], world["list"], code)["status"] == "ok"
                deadline = started + 5
                while set(stream.jobs) == before and time.monotonic() < deadline:
                    time.sleep(0.005)
                new = set(stream.jobs) - before
                assert new, f"no job event within 5 s\n{server.log()[-3000:]}"
                latencies.append(stream.jobs[max(new)] - started)
        finally:
            stream.close()
    print(f"\nscan → job event (ms): {', '.join(f'{s * 1000:.0f}' for s in latencies)} "
          f"(the first {WARM_UP} warm the processes up); "
          f"max after them {max(latencies[WARM_UP:]) * 1000:.0f}")
    return latencies[WARM_UP:]


@pytest.mark.e2e
def test_embedded_mode_streams_a_job_within_a_second(tmp_path):
    env = clean_env(drop_services=True, VARCO_VAR_DIR=str(tmp_path / "var"),
                    DATABASE_URL=f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
                    LOG_LEVEL="WARNING", GUNICORN_WORKERS="2", GUNICORN_THREADS="4")
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT,
                   env=env, check=True, capture_output=True, timeout=300)
    assert max(_latencies(tmp_path, env)) < 1.0


@pytest.mark.e2e
@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_postgres_and_redis_stream_a_job_within_a_second(tmp_path):
    env = clean_env(DATABASE_URL=database_url(), VARCO_VAR_DIR=str(tmp_path / "var"),
                    LOG_LEVEL="WARNING", GUNICORN_WORKERS="2", GUNICORN_THREADS="4",
                    **shared_keys())
    assert max(_latencies(tmp_path, env)) < 1.0
