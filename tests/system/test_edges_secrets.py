"""Issue 10, secrets and deployment: no published key signs anything, a network-facing server
needs a real key, weak keys and debug are refused in production, organiser tokens are stored
hashed and event keys encrypted, /healthz keeps its details for staff, the compose stack is
reached only through its proxy, and exported credentials are readable by their owner only.

Settings are read once per process, so start-up cases run in subprocesses with their own
environment and var/ folder.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import logging
import multiprocessing
import os
import secrets
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from cryptography.fernet import Fernet
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core import signing as django_signing
from django.core.management import call_command
from django.db import OperationalError, connection
from rest_framework.test import APIClient

from backend import keys
from core import encryption
from tickets import links, onboarding, services, signing
from tickets.models import ApiToken, EventKey
from tickets.services import keys as service_keys
from tickets.signing import keyring, verify_code

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED_KEY = "varco-insecure-embedded-default-change-me"  # main's built-in SECRET_KEY
MIGRATION = importlib.import_module(
    "tickets.migrations.0005_encrypted_keys_hashed_tokens"
)
# The data migrations use only the schema editor's connection (SQLite cannot open a real
# schema editor inside the test's transaction).
EDITOR = SimpleNamespace(connection=connection)
_OWN = ("VARCO_", "SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "GUNICORN_",
        "DJANGO_SETTINGS_MODULE", "ALLOWED_HOSTS", "SITE_URL", "CSRF_TRUSTED_ORIGINS")


# A test of a subprocess started with clean_env (no DATABASE_URL/REDIS_URL) does the same in
# both CI passes: .ci/run runs it in one.
SUBPROCESS_ONLY = pytest.mark.single_pass


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No configuration at all (the embedded mode), var/ in ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN)}
    env.update(VARCO_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="backend.settings")
    env.update(extra)
    return env


def settings_of(env: dict[str, str], *names: str) -> subprocess.CompletedProcess:
    code = ("import django, json; django.setup(); from django.conf import settings; "
            f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}))")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- 1. the embedded mode makes its own key; no published key ever signs ---------------------


@SUBPROCESS_ONLY
def test_embedded_mode_makes_its_own_secret_key_and_keeps_it(tmp_path):
    env = clean_env(tmp_path)
    first = settings_of(env, "SECRET_KEY", "VARCO_ENCRYPTION_KEYS")
    assert first.returncode == 0, first.stderr
    seen = json.loads(first.stdout.strip().splitlines()[-1])
    assert seen["SECRET_KEY"] != PUBLISHED_KEY
    assert keys.secret_key_weakness(seen["SECRET_KEY"]) is None
    key_file = tmp_path / "var" / "secret_key"
    assert key_file.read_text().strip() == seen["SECRET_KEY"]
    assert mode(key_file) == 0o600
    assert mode(tmp_path / "var" / "encryption_key") == 0o600
    again = settings_of(env, "SECRET_KEY", "VARCO_ENCRYPTION_KEYS")
    assert json.loads(again.stdout.strip().splitlines()[-1]) == seen  # kept across starts
    other = settings_of(clean_env(tmp_path / "elsewhere"), "SECRET_KEY")
    assert json.loads(other.stdout.strip().splitlines()[-1])["SECRET_KEY"] != seen["SECRET_KEY"]


def test_a_ticket_link_signed_with_the_published_key_is_refused(client, register):
    ticket = register()
    forged = django_signing.Signer(key=PUBLISHED_KEY, salt=links.SALT).sign_object(
        [ticket.pk, ticket.version]
    )
    assert client.get(f"/t/{forged}/").status_code == 404
    assert client.get(f"/t/{forged}/ticket.pdf").status_code == 404
    assert client.get(f"/t/{links.ticket_token(ticket)}/").status_code == 200


@SUBPROCESS_ONLY
def test_the_published_key_is_refused_even_outside_production(tmp_path):
    result = settings_of(clean_env(tmp_path, SECRET_KEY=PUBLISHED_KEY), "SECRET_KEY")
    assert result.returncode != 0
    assert "SECRET_KEY is refused: it is published in Varco's source" in result.stderr


def _first_start(path: str, barrier, results) -> None:
    barrier.wait()
    results.put(keys.embedded_key(Path(path), lambda: secrets.token_urlsafe(50)))


@SUBPROCESS_ONLY
def test_concurrent_first_starts_agree_on_one_key(tmp_path):
    path = tmp_path / "var" / "secret_key"
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(8), context.Queue()
    workers = [context.Process(target=_first_start, args=(str(path), barrier, results))
               for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    seen = {results.get(timeout=5) for _ in workers}
    assert seen == {path.read_text().strip()}
    assert mode(path) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret_key"]  # no leftovers


# --- 1b. a network-facing gunicorn refuses to start without a real key -----------------------


def _gunicorn(env: dict[str, str], bind: str) -> subprocess.Popen:
    env = {**env, "GUNICORN_WORKERS": "1", "GUNICORN_THREADS": "1"}
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py",
         "--bind", bind, "backend.wsgi"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


def _outcome(process: subprocess.Popen) -> tuple[str, str]:
    """("exited", log) or ("serving", log) once a worker boots; never waits past a minute."""
    log = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                process.wait(10)
                return "exited", "".join(log)
            log.append(line)
            if "Booting worker" in line:
                return "serving", "".join(log)
        return "hung", "".join(log)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(20)


@SUBPROCESS_ONLY
def test_gunicorn_refuses_a_network_facing_start_without_a_secret_key(tmp_path):
    process = _gunicorn(clean_env(tmp_path), "0.0.0.0:0")
    outcome, log = _outcome(process)
    assert outcome == "exited", log
    assert process.returncode == 1
    assert "Refusing to serve on 0.0.0.0:0 (not loopback) without a real SECRET_KEY" in log


@SUBPROCESS_ONLY
def test_gunicorn_serves_loopback_without_a_key_and_anywhere_with_one(tmp_path):
    outcome, log = _outcome(_gunicorn(clean_env(tmp_path), "127.0.0.1:0"))
    assert outcome == "serving", log  # `make run`: no configuration needed
    env = clean_env(tmp_path, SECRET_KEY=secrets.token_urlsafe(50),
                    VARCO_ENCRYPTION_KEYS=Fernet.generate_key().decode())
    outcome, log = _outcome(_gunicorn(env, "0.0.0.0:0"))
    assert outcome == "serving", log


REAL = {"SECRET_KEY": "real-" + secrets.token_urlsafe(40),
        "VARCO_ENCRYPTION_KEYS": Fernet.generate_key().decode()}


@pytest.mark.parametrize(("addresses", "env", "refused"), [
    ([("127.0.0.1", 8000)], {}, False),
    ([("::1", 8000)], {}, False),
    ([("localhost", 8000)], {}, False),
    ([("0.0.0.0", 8000)], {}, True),
    ([("::", 8000)], {}, True),
    ([("127.0.0.1", 8000), ("192.168.1.5", 8000)], {}, True),
    (["/run/varco.sock"], {}, True),  # a UNIX socket faces whatever proxy connects to it
    ([("0.0.0.0", 8000)], {**REAL, "SECRET_KEY": PUBLISHED_KEY}, True),
    ([("0.0.0.0", 8000)], {**REAL, "SECRET_KEY": "a" * 40}, True),
    ([("0.0.0.0", 8000)], {"SECRET_KEY": REAL["SECRET_KEY"]}, True),  # no encryption key
    ([("0.0.0.0", 8000)], REAL, False),
])
def test_what_counts_as_network_facing(addresses, env, refused):
    refusal = keys.network_start_refusal(addresses, env)
    assert (refusal is not None) == refused, refusal


# --- 3. production refuses weak keys and debug --------------------------------------------------


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return clean_env(tmp_path, **{
        "VARCO_PRODUCTION": "true", "ALLOWED_HOSTS": "tickets.example.org",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "VARCO_ENCRYPTION_KEYS": Fernet.generate_key().decode(), **extra,
    })


@SUBPROCESS_ONLY
@pytest.mark.parametrize(("extra", "message"), [
    ({"SECRET_KEY": "a" * 32}, "fewer than 10 distinct characters"),
    ({"SECRET_KEY": "abcd" * 16}, "fewer than 10 distinct characters"),
    ({"SECRET_KEY": "django-insecure-" + secrets.token_urlsafe(40)}, "django-insecure-"),
    ({"SECRET_KEY": "build-only"}, "published in Varco's source"),
    ({"DEBUG": "true"}, "DEBUG=true is refused with VARCO_PRODUCTION=true"),
    ({"VARCO_ENCRYPTION_KEYS": ""}, "VARCO_ENCRYPTION_KEYS is missing"),
    ({"VARCO_ENCRYPTION_KEYS": "not-a-fernet-key"}, "key 1 is not a Fernet key"),
])
def test_production_refuses_weak_secrets_and_debug(tmp_path, extra, message):
    result = settings_of(production_env(tmp_path, **extra), "SECRET_KEY")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr
    assert not (tmp_path / "var" / "secret_key").exists()  # nothing was made up instead


@SUBPROCESS_ONLY
def test_production_starts_with_real_secrets(tmp_path):
    result = settings_of(production_env(tmp_path), "DEBUG", "PRODUCTION")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "DEBUG": False, "PRODUCTION": True
    }


# --- 2. organiser tokens hashed, event keys encrypted at rest ----------------------------------


def _database_text() -> str:
    out = io.StringIO()
    call_command("dumpdata", "--all", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_no_plaintext_secret_is_stored(organiser, event):
    _, _, token = onboarding.create_staff_user(organiser, "anna", "anna@example.org", "pw")
    dump = _database_text()
    assert token not in dump
    assert ApiToken.objects.get(user__username="anna").token_hash == hashlib.sha256(
        token.encode()).hexdigest()
    key = EventKey.objects.get(event=event)
    raw_private = signing._b64(services.signing_key(key).private_bytes_raw())
    assert raw_private not in dump and encryption.is_encrypted(key.private_key)
    # the stored form is useless without VARCO_ENCRYPTION_KEYS
    with pytest.raises(encryption.InvalidToken):
        Fernet(Fernet.generate_key()).decrypt(key.private_key.encode())


@pytest.mark.django_db
def test_a_hashed_token_authenticates_and_nothing_else_does(staff, event):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {staff.api_token}")
    assert client.get("/api/v1/events/").status_code == 200
    stored = ApiToken.objects.get(user=staff).token_hash
    client.credentials(HTTP_AUTHORIZATION=f"Token {stored}")  # the hash is not a token
    assert client.get("/api/v1/events/").status_code == 401
    staff.is_active = False
    staff.save()
    client.credentials(HTTP_AUTHORIZATION=f"Token {staff.api_token}")
    assert client.get("/api/v1/events/").status_code == 401


@pytest.mark.django_db
def test_migration_keeps_existing_tokens_working_and_empties_the_plaintext_table(organiser):
    user = get_user_model().objects.create_user("legacy", password="pw", is_staff=True)
    organiser.members.add(user)
    legacy_key = secrets.token_hex(20)  # DRF's format
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
                       "created timestamp, user_id integer NOT NULL)")
        cursor.execute("INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s)",
                       [legacy_key, "2026-01-01 00:00:00", user.pk])
    try:
        MIGRATION.hash_authtoken_tokens(apps, EDITOR)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM authtoken_token")
            assert cursor.fetchone()[0] == 0
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE authtoken_token")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {legacy_key}")
    response = client.get("/api/v1/organisers/")
    assert response.status_code == 200 and response.json()["count"] == 1


@pytest.mark.django_db
def test_migration_encrypts_existing_private_keys(register, event):
    ticket = register()
    key = EventKey.objects.get(event=event)
    plaintext = signing._b64(services.signing_key(key).private_bytes_raw())
    EventKey.objects.filter(pk=key.pk).update(private_key=plaintext)  # as stored before
    MIGRATION.encrypt_private_keys(apps, EDITOR)
    key.refresh_from_db()
    assert encryption.is_encrypted(key.private_key) and plaintext not in key.private_key
    assert encryption.decrypt(key.private_key) == plaintext
    assert verify_code(services.ticket_code(ticket), keyring.get).ticket_id == ticket.pk


@pytest.mark.django_db
def test_rotating_the_encryption_key(settings, register, event):
    old, new = settings.VARCO_ENCRYPTION_KEYS[0], Fernet.generate_key().decode()
    ticket = register()
    settings.VARCO_ENCRYPTION_KEYS = [new, old]
    out = io.StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "1 event key(s) re-encrypted" in out.getvalue()
    settings.VARCO_ENCRYPTION_KEYS = [new]  # the old key dropped
    key = EventKey.objects.get(event=event)
    code = services.ticket_code(ticket, key)
    assert verify_code(code, keyring.get).ticket_id == ticket.pk
    settings.VARCO_ENCRYPTION_KEYS = [old]
    with pytest.raises(encryption.InvalidToken):
        services.signing_key(key)


@pytest.mark.django_db
def test_rotation_without_the_old_key_is_refused_cleanly(settings, event):
    settings.VARCO_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="opens with none of VARCO_ENCRYPTION_KEYS"):
        call_command("rotate_encryption_keys", stdout=io.StringIO())


@pytest.mark.django_db
def test_the_private_key_is_decrypted_once_per_process(register, event, monkeypatch):
    tickets = [register(email=f"p{i}@example.org") for i in range(20)]
    calls = []
    real = encryption.decrypt
    monkeypatch.setattr(encryption, "decrypt", lambda token: calls.append(1) or real(token))
    service_keys._private_keys.clear()
    key = EventKey.objects.get(event=event)
    for ticket in tickets:
        services.ticket_code(ticket, key)
    assert len(calls) == 1


# --- 4. /healthz: details for staff and the log only -----------------------------------------

LEAK = 'connection to server at "10.9.8.7", port 5432 failed: FATAL: role "varco_prod" denied'


def _database_down():
    raise OperationalError(LEAK)


@pytest.mark.django_db
def test_healthz_tells_anonymous_callers_only_ok_or_error(client, monkeypatch, caplog):
    healthy = client.get("/healthz")
    assert healthy.status_code == 200
    assert healthy.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}
    monkeypatch.setattr("backend.health._check_database", _database_down)
    with caplog.at_level(logging.ERROR, logger="backend.health"):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "checks": {"database": "error", "broker": "ok"}}
    assert "10.9.8.7" not in response.content.decode()
    assert "10.9.8.7" in caplog.text  # the operator still learns why


@pytest.mark.django_db
def test_healthz_shows_the_details_to_staff(client, staff, monkeypatch):
    client.force_login(staff)
    assert client.get("/healthz").json()["checks"]["database"].startswith("ok (")
    monkeypatch.setattr("backend.health._check_database", _database_down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "10.9.8.7" in response.json()["checks"]["database"]


# --- 5. the compose stack: the app is reached only through the proxy -------------------------


def test_compose_publishes_web_on_loopback_only_when_it_trusts_a_proxy():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services_ = compose["services"]
    num_proxies = services_["web"]["environment"]["VARCO_NUM_PROXIES"]
    assert num_proxies.startswith("${VARCO_NUM_PROXIES:-1}")  # X-Forwarded-For trusted...
    for port in services_["web"]["ports"]:
        host = str(port).split(":")[0]
        assert host == "127.0.0.1", port  # ...so nobody but the proxy on the host may connect
    for name in ("postgres", "redis", "worker", "scheduler"):
        assert "ports" not in services_[name], name
    env = services_["web"]["environment"]
    assert env["VARCO_ENCRYPTION_KEYS"].startswith("${VARCO_ENCRYPTION_KEYS:?")


# --- 6. exported credentials: 0600 ------------------------------------------------------------


@pytest.fixture
def world_readable_umask():
    previous = os.umask(0o022)  # the usual umask: what main's exports were made with
    yield
    os.umask(previous)


@pytest.mark.django_db
def test_exports_are_readable_by_their_owner_only(tmp_path, world_readable_umask, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    export = tmp_path / "demo"
    export.mkdir()
    (export / "organiser.json").write_text("{}")  # an old export, 0644
    call_command("seed_demo", attendees=2, export=str(export), stdout=io.StringIO())
    for name in ("organiser.json", "device.json", "codes.txt"):
        assert mode(export / name) == 0o600, name
    assert sorted(p.name for p in export.iterdir()) == [
        "codes.txt", "device.json", "organiser.json"]  # no temporary file left behind
    team = tmp_path / "team.json"
    call_command("create_organiser", "Coop", user="mario", email="m@example.org",
                 export=str(team), stdout=io.StringIO())
    assert mode(team) == 0o600
