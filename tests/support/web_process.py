"""A real gunicorn (``gunicorn -c gunicorn.conf.py``) started by a test, and stopped for sure.

The drills, the serving replay and the batch writer's SIGTERM test all need the web server as
deployed, not Django's test client: one owner for starting it (own process group, log file,
waiting until it answers) and for stopping it (SIGTERM, then SIGKILL if it hangs).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from tests.support.smtp_sink import free_port
from tests.support.worker_process import ROOT, wait_until


def clean_env(*, drop_services: bool = False, **overrides: str) -> dict[str, str]:
    """This process's environment without Varco's and gunicorn's own settings (a test's
    ``settings`` fixture must not leak into the server), plus ``overrides``."""
    prefixes: tuple[str, ...] = ("VARCO_", "GUNICORN_")
    if drop_services:
        prefixes += ("DATABASE_URL", "REDIS_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(DJANGO_SETTINGS_MODULE="backend.settings", **overrides)
    return env


@dataclass
class WebServer:
    base: str
    port: int
    log_path: Path
    process: subprocess.Popen

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _answers_http(base: str, path: str) -> bool:
    try:
        urllib.request.urlopen(base + path, timeout=2).read()
        return True
    except OSError:
        return False


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
        return True
    return False


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM the server's process group; SIGKILL it if it has not stopped in ``timeout``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def gunicorn(tmp_path: Path, env: dict[str, str], *, port: int | None = None,
             ready_path: str | None = "/api/v1/checkin/ping/",
             stop_timeout: float = 15) -> Iterator[WebServer]:
    """Serve ``backend.wsgi`` with gunicorn.conf.py on 127.0.0.1; ready once ``ready_path``
    answers (or, with ``ready_path=None``, once the port accepts connections)."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py",
             "--bind", f"127.0.0.1:{port}", "backend.wsgi"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        server = WebServer(base, port, log_path, process)

        def up() -> bool:
            return _answers_http(base, ready_path) if ready_path else _accepts(port)

        try:
            assert wait_until(up, timeout=30) and process.poll() is None, server.log()
            yield server
        finally:
            stop(process, stop_timeout)


@contextlib.contextmanager
def throwaway_database(tmp_path: Path, suffix: str) -> Iterator[str]:
    """The URL of an empty database of the kind the suite runs on, dropped afterwards: a SQLite
    file in ``tmp_path``, or on PostgreSQL ``<DATABASE_URL's name>_<suffix>`` (outside the
    test database pytest-django manages, so a server process may migrate it from scratch)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield f"sqlite:///{tmp_path / f'{suffix}.sqlite3'}"
        return
    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'varco'}_{suffix}"
    # The maintenance database: the one DATABASE_URL names may not exist (pytest-django only
    # ever connects to test_<name>).
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def serve_demo(tmp_path: Path, *, database_url: str, attendees: int,
               **settings: str) -> Iterator[tuple[str, Path]]:
    """``make run``'s demo as a newcomer gets it: migrate, ``seed_demo --export``, then gunicorn
    with ``SITE_URL`` on its own port; yield (base URL, the export folder)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(drop_services=True, DATABASE_URL=database_url,
                    VARCO_VAR_DIR=str(tmp_path / "var"), SITE_URL=base, GUNICORN_WORKERS="1",
                    GUNICORN_THREADS="4", **settings)
    export = tmp_path / "demo"
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT,
                   env=env, check=True, timeout=180)
    subprocess.run([sys.executable, "manage.py", "seed_demo", "--attendees", str(attendees),
                    "--export", str(export)], cwd=ROOT, env=env, check=True, timeout=180,
                   stdout=subprocess.DEVNULL)
    with gunicorn(tmp_path, env, port=port, ready_path="/healthz") as server:
        yield server.base, export


def post_json(url: str, token: str, body: dict) -> dict:
    """POST ``body`` as JSON with a device's or organiser's token; the JSON answer."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)
