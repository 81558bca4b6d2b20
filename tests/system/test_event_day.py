"""The convegno day drill, small and compressed: ``python manage.py simulate_day`` as a
script runs it (its own gunicorn, ``python -m worker`` and SMTP relay), once in the embedded
mode (SQLite, no Redis) and once on this run's PostgreSQL + Redis; both must reconcile.

120 people rush for 110 places, 20 guests are imported, 2 gates, 1 offline minute, 2 s
per simulated hour, the relay down for 3 s and the worker SIGKILLed once (docs/event-day.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from django.core.management import CommandError, call_command

from backend.eventday.dashboards import Dashboard
from backend.eventday.doors import Answer, Gate
from backend.eventday.reconcile import Facts, reconcile
from tests.support import worker_process

ROOT = Path(__file__).resolve().parents[2]
SMALL_DAY = ["--attendees", "120", "--invited", "20", "--capacity", "110", "--gates", "2",
             "--seconds-per-hour", "2", "--offline-minutes", "1", "--smtp-outage", "3",
             "--smtp-per-connection", "15", "--concurrency", "16"]


def _run_day(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "day.json"
    report = tmp_path / "day.html"
    process = subprocess.run(
        [sys.executable, "manage.py", "simulate_day", *SMALL_DAY, "--var-dir",
         str(tmp_path / "runs"), "--json-out", str(out), "--html-out", str(report)],
        cwd=ROOT, env={**env, "VARCO_VAR_DIR": str(tmp_path / "var")},
        capture_output=True, text=True, timeout=240,
    )
    assert out.exists(), process.stdout[-3000:] + process.stderr[-3000:]
    assert "<svg" in report.read_text()
    return process, json.loads(out.read_text())


def _check(process: subprocess.CompletedProcess, day: dict, mode: str) -> None:
    assert day["mismatches"] == [], day["mismatches"]
    assert process.returncode == 0, process.stderr[-3000:]
    assert "The day reconciles." in process.stdout
    assert day["mode"] == mode
    for key in ("registered", "delivered", "checked_in", "inside", "entries", "exits",
                "mismatches", "scan_latency_ms"):
        assert key in day
    assert set(day["scan_latency_ms"]) == {"p50", "p99", "max"}
    assert day["places_sold"] == 110 == day["capacity"]  # more buyers than places: sold out
    assert day["registration"]["server_errors"] == 0
    assert day["registration"]["refused"]["400 sold_out"] >= 10
    assert day["registered"] == 110 + 20 == day["imported"] + day["places_sold"]
    # Three recipients refused for good by the relay (550); every other ticket arrived.
    assert day["delivery_failed"] == 3 and day["delivered"] == day["registered"] - 3
    assert day["inside"] == day["entries"] - day["exits"] and day["exits"] > 0
    assert 0 < day["checked_in"] <= day["delivered"]
    plan = day["answers_by_plan"]
    assert plan["revoked_old:rejected:revoked"] == 2 and plan["reissued:ok:"] == 1
    assert plan["forged:rejected:invalid"] >= 4
    assert plan["other_event:rejected:wrong_event"] == 3
    assert day["offline_scans"] >= 4 and day["conflicts"] >= 1  # planned, however small
    assert any("SIGKILL" in line for line in day["incidents"])
    relay = day["smtp_relay"]  # its session limit was reached, and reconnected past
    assert relay["sessions_ended_at_the_limit"] > 0 and relay["auth_failures"] == 0
    for board in day["dashboards"].values():
        assert board["checked_in"] == day["checked_in"] and board["updates"] > 1


@pytest.mark.e2e
@pytest.mark.single_pass  # the embedded mode whatever DATABASE_URL/REDIS_URL say
@pytest.mark.timeout(300)
def test_small_day_reconciles_in_the_embedded_mode(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL") and not k.startswith("VARCO_")}
    process, day = _run_day(tmp_path, env)
    _check(process, day, "embedded")


@pytest.mark.e2e
@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(300)
@pytest.mark.django_db(transaction=True)
def test_small_day_reconciles_on_postgresql_and_redis(tmp_path):
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VARCO_")}
    # This run's test database (flushed after the test).
    env["DATABASE_URL"] = worker_process.test_database_url()
    try:
        process, day = _run_day(tmp_path, env)
    finally:
        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
        worker_process.wait_until(worker_process.no_other_sessions, timeout=15)
    _check(process, day, "postgresql+redis")


# --- the reconciliation itself: it must see what does not add up ------------------------------


def _facts(**changes):

    gate = Gate(0, "Porta A", 1, http=None, list_id=1)
    gate.answers = [
        Answer("Porta A", "CODE1", "entry", "n1", "ok", None, "Giulia Rossi", 555.0, 1.0, 12.0,
               "online", tag="entry"),
        Answer("Porta A", "CODE1", "exit", "n2", "ok", None, "Giulia Rossi", 780.0, 2.0, 9.0,
               "online", tag="lunch-out"),
        Answer("Porta A", "CODE2", "entry", "n3", "ok", None, "Marco Bianchi", 560.0, 1.5, 15.0,
               "online", tag="entry"),
    ]
    figures = {"registered": 2, "checked_in": 2, "inside": 1,
               "by_gate": [{"gate": "Porta A", "entries": 2, "exits": 1}],
               "conflicts": {"count": 0}}
    board = Dashboard("dashboard-1", 0, 1, "")
    board.updates = [(0.5, {**figures, "checked_in": 0, "by_gate": []}), (3.0, figures)]
    delivery = {"state": "sent", "last_error": "", "in_doubt_count": 0}
    facts = dict(
        capacity=2, rush={"registered": 2, "server_errors": 0, "unexpected": []}, imported=0,
        tickets={1: {"status": "valid", "version": 1, "delivery": dict(delivery)},
                 2: {"status": "valid", "version": 1, "delivery": dict(delivery)}},
        people_by_ticket={1: {"name": "Giulia Rossi", "email": "g@example.org"},
                          2: {"name": "Marco Bianchi", "email": "m@example.org"}},
        inbox_copies={"1.1": 1, "2.1": 1}, inbox_message_ids={"1.1": {"<a>"}, "2.1": {"<b>"}},
        inbox_recipients={"1.1": "g@example.org", "2.1": "m@example.org"},
        codes={"1.1": "CODE1", "2.1": "CODE2"}, bad_pdfs=[], refused_addresses={},
        gates=[gate], scan_log=[{"id": i, "nonce": n, "conflict": False}
                                for i, n in enumerate(["n1", "n2", "n3"])],
        attendance=figures, dashboards=[board], revoked_key=None,
    )
    facts.update(changes)
    return Facts(**facts)


def test_a_consistent_day_reconciles():
    day = reconcile(_facts())
    assert day["mismatches"] == []
    assert (day["checked_in"], day["inside"], day["entries"], day["exits"]) == (2, 1, 2, 1)
    assert day["scan_latency_ms"] == {"p50": 12.0, "p99": 15.0, "max": 15.0}


def test_every_disagreement_is_a_mismatch():
    facts = _facts(
        # the scan log lost an admitted scan and holds one no device sent
        scan_log=[{"id": 1, "nonce": "n1", "conflict": False},
                  {"id": 2, "nonce": "n2", "conflict": False},
                  {"id": 9, "nonce": "forged-by-nobody", "conflict": False}],
        # ticket 2's e-mail arrived twice with two Message-IDs, outside the in-doubt rule
        inbox_copies={"1.1": 1, "2.1": 2}, inbox_message_ids={"1.1": {"<a>"},
                                                             "2.1": {"<b>", "<c>"}},
        attendance={"registered": 2, "checked_in": 2, "inside": 2, "conflicts": {"count": 0},
                    "by_gate": [{"gate": "Porta A", "entries": 2, "exits": 0}]},
    )
    found = "\n".join(reconcile(facts)["mismatches"])
    assert "ok answer n3 is 0 times in the scan log" in found
    assert "1 scan log rows no device sent" in found
    assert "ticket 2: 2 copies" in found
    assert "inside: devices/clients say 1, the server 2" in found
    assert "exits: devices/clients say 1, the server 0" in found
    assert "dashboard dashboard-1: inside 1, the server 2" in found


def test_a_refused_recipient_must_end_failed_with_the_relays_answer():
    answer = "550 5.1.1 <m@example.org>: Recipient address rejected"
    facts = _facts(refused_addresses={"m@example.org": answer})
    found = "\n".join(reconcile(facts)["mismatches"])
    assert "ticket 2: refused by the relay but delivery is sent" in found
    assert "ticket 2: refused recipient yet received" in found
    facts.tickets[2]["delivery"] = {"state": "failed", "last_error": answer}
    facts.inbox_copies = {"1.1": 1}
    assert not any("ticket 2" in m for m in reconcile(facts)["mismatches"])


@pytest.mark.parametrize("arguments", [
    ["--attendees", "5"], ["--gates", "0"], ["--gates", "27"], ["--seconds-per-hour", "0"],
    ["--offline-minutes", "61"], ["--invited", "-1"],
])
def test_the_command_refuses_a_day_it_cannot_play(arguments):
    with pytest.raises(CommandError, match="--attendees 10-100000"):
        call_command("simulate_day", *arguments)
