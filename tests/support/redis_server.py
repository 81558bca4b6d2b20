"""Our own ``redis-server`` (Debian's), without persistence, for tests that kill and restart
Redis: the shared one (``REDIS_URL``) serves every other test and session."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import redis

from tests.support.smtp_sink import free_port
from tests.support.worker_process import wait_until


class RedisServer:
    """A restart loses everything it held (no RDB, no AOF), as a crashed cache would."""

    def __init__(self, port: int | None, workdir: Path) -> None:
        self.port, self.workdir = port or free_port(), workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "this test needs redis-server (Debian's redis-server package)"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        client = redis.Redis.from_url(self.url)
        assert wait_until(lambda: pings(client), timeout=10), "redis-server did not start"

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


def pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
