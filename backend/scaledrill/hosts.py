"""Varco's own processes as separate "hosts": gunicorn on 127.0.0.2-4 (one port number, three
addresses), ``python -m worker`` twice and one ``celery beat``, each with a ``var/`` of its
own (hosts share no disk), all through PgBouncer and one Redis; and the SMTP sink the workers
deliver to. Every one is started and killed like a machine: its own process group."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from cryptography.fernet import Fernet

from backend.eventday.relay import RelayHandler
from backend.scaledrill.engines import ROOT, free_port, wait_until
from backend.scaledrill.metrics import HostFigures, scrape

WEB_ADDRESSES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")


class Sink:
    """An aiosmtpd server on 127.0.0.1 keeping every message (the event-day relay's handler,
    without TLS or AUTH): the count per ticket is the exactly-once check."""

    def __init__(self) -> None:
        self.handler = RelayHandler("", "")
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     data_size_limit=10_000_000)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


@dataclass
class Varco:
    run_dir: Path
    database_url: str  # through PgBouncer
    redis_url: str
    smtp_port: int
    site_url: str
    web_workers: int = 2
    worker_concurrency: int = 2
    base_env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    web_port: int = 0
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    starts: dict[str, int] = field(default_factory=dict)
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(50))
    encryption_key: str = field(default_factory=lambda: Fernet.generate_key().decode())
    metrics_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    _logs: list = field(default_factory=list)

    def env(self, host: str, **extra: str) -> dict[str, str]:
        """What a host gets: the deployment's settings, the same keys on every host (sessions,
        signing keys), its own var/."""
        env = {k: v for k, v in self.base_env.items()
               if not k.startswith(("VARCO_", "GUNICORN_", "EMAIL_", "CELERY_"))
               and k not in ("DATABASE_URL", "REDIS_URL")}
        var = self.run_dir / host / "var"
        var.mkdir(parents=True, exist_ok=True)
        env.update(
            DJANGO_SETTINGS_MODULE="backend.settings", VARCO_VAR_DIR=str(var),
            DATABASE_URL=self.database_url, REDIS_URL=self.redis_url,
            SECRET_KEY=self.secret_key, VARCO_ENCRYPTION_KEYS=self.encryption_key,
            SITE_URL=self.site_url, ALLOWED_HOSTS="127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4",
            # Behind HAProxy, which appends the client's address (deploy/haproxy/haproxy.cfg).
            VARCO_NUM_PROXIES="1",
            # PgBouncer 1.18 in transaction mode keeps no prepared statements
            # (deploy/pgbouncer/pgbouncer.ini).
            DB_TRANSACTION_POOLING="true", VARCO_METRICS_TOKEN=self.metrics_token,
            EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(self.smtp_port), EMAIL_TIMEOUT="5",
            # One scheduler for the whole deployment: the workers do not embed beat.
            VARCO_SEPARATE_BEAT="true",
            # The drill is compressed: the delivery clocks too (production 30 s, 90 s, 30 s).
            VARCO_DELIVERY_SWEEP_SECONDS="2", VARCO_DELIVERY_STALE_SECONDS="4",
            VARCO_DELIVERY_RETRY_BASE_SECONDS="1", VARCO_DELIVERY_BATCH_SIZE="25",
            # Every simulated client comes from loopback: the per-address limits are off; the
            # per-device flood limit stays (the drill checks it).
            VARCO_REGISTRATION_RATE="off", VARCO_API_RATE="off", VARCO_IMPORT_RATE="off",
            VARCO_LIVE_STREAMS_PER_PROCESS="4", VARCO_LIVE_STREAMS_PER_ORGANISER="4",
            VARCO_LIVE_STREAMS_PER_USER="4", VARCO_LIVE_HEARTBEAT_SECONDS="2",
            LOG_LEVEL=self.base_env.get("LOG_LEVEL", "WARNING"), PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def _log(self, name: str):
        handle = open(self.run_dir / f"{name}.log", "ab")  # noqa: SIM115  (closed in stop_all)
        self._logs.append(handle)
        return handle

    def manage(self, *args: str, database_url: str | None = None, timeout: float = 600,
               **extra: str) -> str:
        """``manage.py`` as the operator runs it (migrations straight to the primary)."""
        env = self.env("operator", **extra)
        if database_url:
            env["DATABASE_URL"] = database_url
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)}: {result.stderr[-2000:]}")
        return result.stdout

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> None:
        self.starts[name] = self.starts.get(name, 0) + 1
        self.processes[name] = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=self._log(name), stderr=subprocess.STDOUT,
            start_new_session=True)

    def web_hosts(self) -> list[str]:
        return [f"web{i + 1}" for i in range(len(WEB_ADDRESSES))]

    def address(self, host: str) -> str:
        return WEB_ADDRESSES[int(host.removeprefix("web")) - 1]

    def start_web(self, host: str) -> None:
        if not self.web_port:
            self.web_port = free_port(WEB_ADDRESSES[0], also=WEB_ADDRESSES[1:])
        env = self.env(host, GUNICORN_WORKERS=str(self.web_workers))
        self._spawn(host, [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
                           "--bind", f"{self.address(host)}:{self.web_port}", "backend.wsgi"],
                    env)

    def metrics(self, host: str) -> HostFigures | None:
        """The host's own /metrics, as the operators' Prometheus scrapes it."""
        return scrape(f"http://{self.address(host)}:{self.web_port}", self.metrics_token)

    def healthy(self, host: str) -> bool:
        """The host's own /healthz (database through PgBouncer, Redis) answers 200."""
        url = f"http://{self.address(host)}:{self.web_port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def wait_web(self, host: str, timeout: float = 60) -> None:
        if not wait_until(lambda: self.healthy(host) or not self.alive(host), timeout, 0.2) \
                or not self.alive(host):
            raise RuntimeError(f"{host} did not start (see {self.run_dir / host}.log)")

    def start_worker(self, host: str, queues: str | None = None) -> None:
        cmd = [sys.executable, "-m", "worker", "--concurrency", str(self.worker_concurrency),
               "--without-gossip", "--without-mingle", "-n", f"{host}@%h"]
        if queues:  # the last --queues given wins over the wrapper's "every queue"
            cmd += ["--queues", queues]
        self._spawn(host, cmd, self.env(host))

    def start_scheduler(self) -> None:
        schedule = self.run_dir / "scheduler" / "var" / "celerybeat-schedule"
        self._spawn("scheduler", [sys.executable, "-m", "celery", "-A", "backend", "beat",
                                  "--schedule", str(schedule), "--loglevel", "WARNING"],
                    self.env("scheduler"))

    def alive(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def kill(self, name: str) -> None:
        """SIGKILL the host's whole process group at once, like a machine that lost power."""
        process = self.processes.get(name)
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def stop_all(self) -> None:
        running = [p for p in self.processes.values() if p.poll() is None]
        for process in running:  # told at once: their graceful exits overlap
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
        for process in self.processes.values():  # children that outlived their parent
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        for handle in self._logs:
            handle.close()
