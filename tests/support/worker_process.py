"""Start real ``python -m worker`` processes against the test database, Redis and SMTP sink."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    """The URL of the database pytest-django created for this run (test_<name>)."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def shared_keys() -> dict[str, str]:
    """This test process's secrets, for a subprocess on the same database with another var/
    (it would make keys of its own there and could not read the events' signing keys)."""
    return {"SECRET_KEY": settings.SECRET_KEY,
            "VARCO_ENCRYPTION_KEYS": ",".join(settings.VARCO_ENCRYPTION_KEYS)}


def worker_env(smtp_port: int, var_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("VARCO_", "EMAIL_", "CELERY_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="backend.settings",
        DATABASE_URL=test_database_url(),
        REDIS_URL=os.environ["REDIS_URL"],
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        EMAIL_TIMEOUT="5",
        VARCO_VAR_DIR=str(var_dir),
        # Short clocks so that the sweep recovers lost work within seconds in the tests.
        VARCO_DELIVERY_SWEEP_SECONDS="2",
        VARCO_DELIVERY_STALE_SECONDS="4",
        VARCO_DELIVERY_RETRY_BASE_SECONDS="1",
        VARCO_DELIVERY_BATCH_SIZE="25",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        **shared_keys(),
    )
    env.update(extra)
    return env


class Worker:
    """``python -m worker`` in its own process group (so SIGKILL takes the whole pool)."""

    def __init__(self, env: dict[str, str], log_path: Path, concurrency: int = 2) -> None:
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115  (closed in stop())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "worker", "--concurrency", str(concurrency),
             "--without-gossip", "--without-mingle", "--pool", "prefork"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once, like a machine crash."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=10)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                self.kill()
        # Pool children of a killed parent may linger a moment; make sure none survive.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def wait_until(predicate, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def no_other_sessions() -> bool:
    """No other session on the test database: killed workers' sessions end a moment after
    them, and the test database cannot be flushed or dropped while they last."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                       " AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0] == 0
