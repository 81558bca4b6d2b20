"""The stack the day runs on: migrations, the organiser's onboarding, gunicorn as deployed,
``python -m worker`` (killable), and the SMTP relay — each a real process or server on
127.0.0.1, configured only through the environment, as in production."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from backend.eventday.relay import Relay
from backend.eventday.tls import make_test_ca

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port the kernel says is free now (loopback only)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    var_dir: Path
    smtp_per_connection: int = 20
    web_workers: int = 2
    worker_concurrency: int = 2
    base_env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    relay: Relay | None = None
    web: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None
    web_port: int = 0
    worker_starts: int = 0
    _logs: list = field(default_factory=list)

    @property
    def mode(self) -> str:
        if self.base_env.get("DATABASE_URL"):
            return "postgresql+redis" if self.base_env.get("REDIS_URL") else "postgresql"
        return "embedded"

    def env(self) -> dict[str, str]:
        """What every process of the stack gets: the deployment's settings, the relay's."""
        assert self.relay is not None
        env = {k: v for k, v in self.base_env.items()
               if not k.startswith(("EMAIL_", "GUNICORN_"))}
        env.update(
            DJANGO_SETTINGS_MODULE="backend.settings",
            VARCO_VAR_DIR=str(self.var_dir / "var"),
            EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(self.relay.port), EMAIL_USE_TLS="1",
            EMAIL_HOST_USER=self.relay.handler.username,
            EMAIL_HOST_PASSWORD=self.relay.handler.password,
            EMAIL_SSL_CAFILE=str(self.relay.ca.ca_file), EMAIL_TIMEOUT="5",
            # The day is compressed: the worker's clocks too (production: 30 s, 90 s, 30 s).
            VARCO_DELIVERY_SWEEP_SECONDS="2", VARCO_DELIVERY_STALE_SECONDS="4",
            VARCO_DELIVERY_RETRY_BASE_SECONDS="1",
            # One client address registers everybody here (the rush comes from loopback).
            VARCO_REGISTRATION_RATE="off", VARCO_API_RATE="off", VARCO_IMPORT_RATE="off",
            # Two organisers' dashboards on the same account, for the whole day.
            VARCO_LIVE_STREAMS_PER_PROCESS="4", VARCO_LIVE_STREAMS_PER_ORGANISER="4",
            VARCO_LIVE_STREAMS_PER_USER="4", VARCO_LIVE_HEARTBEAT_SECONDS="2",
            LOG_LEVEL=self.base_env.get("LOG_LEVEL", "WARNING"), PYTHONUNBUFFERED="1",
        )
        return env

    def _log(self, name: str):
        handle = open(self.var_dir / f"{name}.log", "ab")  # noqa: SIM115  (closed in stop())
        self._logs.append(handle)
        return handle

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env(),
            capture_output=True, text=True, timeout=600,
        )
        if result.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)}: {result.stderr[-2000:]}")
        return result.stdout

    def start(self) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        ca = make_test_ca(self.var_dir / "ca")
        self.relay = Relay(ca, free_port(), "varco-relay", secrets.token_urlsafe(12),
                           self.smtp_per_connection)
        self.relay.up()
        self.manage("migrate", "--no-input", "-v0")
        self.start_web()
        self.start_worker()

    def onboard(self, name: str) -> dict:
        """A new organiser team, user and API token, by the operator's command."""
        path = self.var_dir / "organiser.json"
        user = f"day-{secrets.token_hex(4)}"
        self.manage("create_organiser", name, "--user", user, "--email",
                    f"{user}@example.org", "--export", str(path))
        return json.loads(path.read_text())

    def start_web(self) -> None:
        self.web_port = free_port()
        env = {**self.env(), "GUNICORN_WORKERS": str(self.web_workers)}
        self.web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
             "--bind", f"127.0.0.1:{self.web_port}", "backend.wsgi"],
            cwd=ROOT, env=env, stdout=self._log("gunicorn"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.web_port), timeout=1):
                return
            if self.web.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not start (see {self.var_dir / 'gunicorn.log'})")

    def start_worker(self) -> None:
        self.worker_starts += 1
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "worker", "--concurrency", str(self.worker_concurrency),
             "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=self.env(), stdout=self._log("worker"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill_worker(self) -> None:
        """SIGKILL the worker and its pool at once, like a machine that lost power."""
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(timeout=10)

    def stop(self) -> None:
        processes = [p for p in (self.worker, self.web) if p is not None]
        for process in processes:  # both told at once: their graceful exits overlap
            with contextlib.suppress(ProcessLookupError):
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
            with contextlib.suppress(ProcessLookupError):  # pool children that outlived it
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        if self.relay is not None:
            self.relay.down()
        for handle in self._logs:
            handle.close()
