"""A real gunicorn (``gunicorn -c gunicorn.conf.py``) started by a test, and stopped for sure.

The drills, the serving replay and the batch writer's SIGTERM test all need the web server as
deployed, not Django's test client: one owner for starting it (own process group, log file,
waiting until it answers) and for stopping it (SIGTERM, then SIGKILL if it hangs).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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
