"""The scale drill (docs/scaling.md): its small version end to end, and its counts catching
what they must catch.

The small drill runs ``python manage.py drill_scale`` as a script: its own HAProxy, three
gunicorn hosts, two workers, a scheduler, PgBouncer, a PostgreSQL 15 primary with a
synchronous standby (temporary clusters on free ports), Redis and an SMTP sink; a web host and
a worker SIGKILLed, the standby promoted, Redis restarted, under a scan wave from 20 devices.
It needs neither the run's database nor its Redis, but takes a few minutes: it runs in the
PostgreSQL + Redis pass of ``.ci/run`` (marker ``postgres``) and with ``make drills``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from backend.eventday.http import Http
from backend.scaledrill import checks
from backend.scaledrill.wave import Device, Scan, Wave

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--attendees", "400", "--devices", "20", "--rate", "20", "--registrations", "60",
         "--web-workers", "1", "--settle", "3"]


@pytest.mark.drills
@pytest.mark.postgres
def test_the_small_drill_holds(tmp_path):
    out = tmp_path / "drill.json"
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL") and not k.startswith("VARCO_")}
    process = subprocess.run(
        [sys.executable, "manage.py", "drill_scale", *SMALL, "--var-dir", str(tmp_path / "runs"),
         "--json-out", str(out)],
        cwd=ROOT, env={**env, "VARCO_VAR_DIR": str(tmp_path / "var")},
        capture_output=True, text=True, timeout=540,
    )
    print(process.stdout[-6000:])
    assert process.returncode == 0, process.stdout[-4000:] + process.stderr[-4000:]
    result = json.loads(out.read_text())
    assert result["mismatches"] == []
    scans = result["scans"]
    assert scans["sent"] == scans["answered"] > 200
    assert scans["ok"] == 400  # every ticket admitted once, then re-scans are refused
    steps = result["steps"]
    # Each fault really happened and was felt by the devices, then recovered from.
    assert steps["web_host_killed"]["out_of_rotation_after_s"] < 10
    assert steps["worker_killed"]["killed_after_messages"] >= 20
    assert steps["worker_killed"]["messages"] >= 60
    assert steps["failover"]["scans_retried"] > 0
    assert 0 < steps["failover"]["write_downtime_s"] < 30
    assert steps["redis_restarted"]["flood_after"]["limited"] > 0


# -- the counts catch what they must --------------------------------------------------------


class _Db:
    def __init__(self, log_rows, over_one=0, checked_in=None):
        self.log_rows = log_rows
        self.over_one = over_one
        self.checked_in = checked_in

    def query(self, sql, params=None):
        if "FROM checkin_scanlog" in sql:
            return self.log_rows
        if "entries > 1" in sql:
            return [(self.over_one,)]
        return [(self.checked_in,)]


def _wave(*scans: Scan) -> Wave:
    device = Device(1, "token", 1, [], Http(1))
    device.scans.extend(scans)
    return Wave([device], rate=1)


def _scan(nonce: str, status: str = "ok", answered: bool = True) -> Scan:
    return Scan(1, f"code-{nonce}", nonce, 0.0, 1.0 if answered else None,
                status if answered else None)


def _failed(results: list[tuple[str, bool]]) -> list[str]:
    return [line for line, ok in results if not ok]


def test_the_scan_counts_pass_when_log_and_answers_agree():
    wave = _wave(_scan("a"), _scan("b", "rejected"))
    db = _Db([(1, "a", "ok", None, 10), (1, "b", "rejected", "already_checked_in", 10)],
             checked_in=1)
    assert _failed(checks.scans(wave, db, {"checked_in": 1})) == []


def test_an_acknowledged_scan_missing_from_the_log_is_a_mismatch():
    wave = _wave(_scan("a"), _scan("b"))
    db = _Db([(1, "a", "ok", None, 10)], checked_in=1)
    failed = _failed(checks.scans(wave, db, {"checked_in": 1}))
    assert any("no acknowledged scan lost: 1 of 2" in line for line in failed)


def test_a_ticket_admitted_twice_and_a_row_nobody_was_told_are_mismatches():
    wave = _wave(_scan("a"), _scan("b"))
    db = _Db([(1, "a", "ok", None, 10), (1, "b", "ok", None, 10), (1, "c", "ok", None, 11)],
             over_one=1, checked_in=2)
    failed = _failed(checks.scans(wave, db, {"checked_in": 2}))
    assert any(line.startswith("no double entry: 1 tickets") for line in failed)
    assert any(line == "no log row without an answer: 1" for line in failed)


def test_a_scan_never_answered_is_a_mismatch():
    wave = _wave(_scan("a"), _scan("b", answered=False))
    db = _Db([(1, "a", "ok", None, 10)], checked_in=1)
    failed = _failed(checks.scans(wave, db, {"checked_in": 1}))
    assert any("1 never answered" in line for line in failed)


class _Sink:
    def __init__(self, copies):
        self.handler = type("H", (), {"per_ticket": lambda _self: Counter(copies)})()


def test_a_second_copy_is_allowed_only_under_the_in_doubt_rule():
    rows = [(1, 1, 5, "sent", 0), (2, 1, 5, "sent", 1)]
    sale = {"id": 5, "registered": {0: {}, 1: {}}}
    assert _failed(checks.deliveries(sale, _Sink({"1.1": 1, "2.1": 2}), _RowsDb(rows))) == []
    failed = _failed(checks.deliveries(sale, _Sink({"1.1": 2, "2.1": 1}), _RowsDb(rows)))
    assert any(line.startswith("exactly once: 1 tickets") for line in failed)


def test_a_ticket_never_e_mailed_is_a_mismatch():
    rows = [(1, 1, 5, "sent", 0), (2, 1, 5, "queued", 0)]
    sale = {"id": 5, "registered": {0: {}, 1: {}}}
    failed = _failed(checks.deliveries(sale, _Sink({"1.1": 1}), _RowsDb(rows)))
    assert any("1 without a message, 1 deliveries not 'sent'" in line for line in failed)


def test_a_sale_that_lost_an_acknowledged_registration_is_a_mismatch():
    rows = [(1, 1, 5, "sent", 0)]
    sale = {"id": 5, "registered": {0: {}, 1: {}}}
    failed = _failed(checks.deliveries(sale, _Sink({"1.1": 1}), _RowsDb(rows)))
    assert failed == ["tickets sold = registrations acknowledged: 1 = 2"]


class _RowsDb:
    def __init__(self, rows):
        self.rows = rows

    def query(self, sql, params=None):
        return self.rows
