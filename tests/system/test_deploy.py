"""The reference multi-host deployment (``deploy/``, docs/scaling.md) says what the page promises.
No Docker engine runs here: the compose file is read; HAProxy checks its own configuration;
the drill (test_drill_scale.py) runs the HAProxy, PgBouncer and PostgreSQL files for real."""

from __future__ import annotations

import configparser
import os
import re
import subprocess
from pathlib import Path

import yaml

from backend.celery import app
from worker.__main__ import queues

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "compose.yml").read_text())
SERVICES = COMPOSE["services"]
VARCO = {name: s for name, s in SERVICES.items() if s.get("image") == "varco:latest"}


def test_every_component_is_a_service():
    assert {"haproxy", "web1", "web2", "web3", "worker-deliveries", "worker-housekeeping",
            "scheduler", "pgbouncer", "postgres-primary", "postgres-standby", "redis",
            "migrate"} <= set(SERVICES)


def test_the_haproxy_file_is_valid_and_checks_healthz():
    env = {**os.environ, "VARCO_LB_BIND": "127.0.0.1:18080", "VARCO_HEALTH_HOST": "example.org",
           "VARCO_LB_STATS_SOCKET": "/tmp/varco-deploy-test.sock", "VARCO_LB_LOG": "stdout",
           **{f"VARCO_WEB{i}": f"127.0.0.{i + 1}:8000" for i in (1, 2, 3)}}
    check = subprocess.run(["haproxy", "-c", "-f", str(DEPLOY / "haproxy" / "haproxy.cfg")],
                           env=env, capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    text = (DEPLOY / "haproxy" / "haproxy.cfg").read_text()
    assert "uri /healthz" in text and "http-check expect status 200" in text
    # Only refused connections are retried (never a request that reached a host).
    assert "retry-on" not in text
    # The compose service gives every variable the file uses.
    code = "\n".join(line.split("#")[0] for line in text.splitlines())
    used = set(re.findall(r"\$\{(\w+)\}", code))
    assert used <= set(SERVICES["haproxy"]["environment"])
    for i in (1, 2, 3):
        assert SERVICES["haproxy"]["environment"][f"VARCO_WEB{i}"] == f"web{i}:8000"


def test_pgbouncer_runs_in_transaction_mode_and_varco_knows_it():
    ini = configparser.ConfigParser(interpolation=None, comment_prefixes=(";",))
    ini.read(DEPLOY / "pgbouncer" / "pgbouncer.ini")
    assert ini["pgbouncer"]["pool_mode"] == "transaction"
    assert ini["pgbouncer"]["server_reset_query"] == ""
    assert "host=postgres-primary" in ini["databases"]["varco"]
    for name, service in VARCO.items():
        env = service["environment"]
        if name == "migrate":  # DDL and its transaction: straight to the primary
            assert "@postgres-primary:5432/" in env["DATABASE_URL"]
        else:
            assert "@pgbouncer:6432/" in env["DATABASE_URL"], name
        assert env["DB_TRANSACTION_POOLING"] == "true", name


def test_replication_is_synchronous_and_the_names_match():
    primary = (DEPLOY / "postgresql" / "primary.conf").read_text()
    standby = (DEPLOY / "postgresql" / "standby.conf").read_text()
    assert "synchronous_standby_names = 'FIRST 1 (standby1)'" in primary
    assert re.search(r"^synchronous_commit = on$", primary, re.M)
    assert "primary_slot_name = 'standby1'" in standby
    # Promoted, the standby must not wait for a standby of its own.
    assert "synchronous_standby_names = ''" in standby
    start = (DEPLOY / "postgresql" / "standby-start.sh").read_text()
    assert "application_name=standby1" in start and "-S standby1" in start


def test_workers_cover_every_queue_and_one_scheduler_runs():
    consumed = set()
    for name, service in VARCO.items():
        command = service["command"]
        if command[:3] == ["python", "-m", "worker"]:
            consumed |= set(command[command.index("--queues") + 1].split(","))
            assert service["environment"]["VARCO_SEPARATE_BEAT"] == "true", name
    assert consumed == set(queues(app))
    beats = [n for n, s in VARCO.items() if "beat" in s["command"]]
    assert beats == ["scheduler"]


def test_files_the_compose_file_mounts_exist_and_secrets_have_no_default():
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./") and not source.endswith("userlist.txt"):
                assert (DEPLOY / source).exists(), source
    assert (DEPLOY / "pgbouncer" / "userlist.txt.example").exists()
    env = VARCO["web1"]["environment"]
    assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]+\}", env["SECRET_KEY"])
    assert env["VARCO_PRODUCTION"] == "true" and env["VARCO_NUM_PROXIES"] == "1"


def test_the_plain_files_say_the_same_as_the_compose_file():
    example = dict(line.split("=", 1) for line in
                   (DEPLOY / "env" / "varco.env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    for key in ("DB_TRANSACTION_POOLING", "VARCO_SEPARATE_BEAT", "VARCO_NUM_PROXIES",
                "VARCO_PRODUCTION"):
        assert example[key] == VARCO["web1"]["environment"][key], key
    worker = (DEPLOY / "systemd" / "varco-worker@.service").read_text()
    assert "-m worker --concurrency 2 --queues %i" in worker
    web = (DEPLOY / "systemd" / "varco-web.service").read_text()
    assert "gunicorn -c gunicorn.conf.py backend.wsgi" in web
