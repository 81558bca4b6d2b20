"""Debian's ``pgbouncer`` in transaction mode in front of a PostgreSQL server, started by a test
(or ``benchmarks/bench_checkin.py --pooler``) and stopped for sure. ``make pgbouncer`` (part of
``make system-packages``) installs it; docs/shared-state.md. No Django in here: the benchmark
imports it outside any Django process."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Bouncer:
    port: int
    log_path: Path

    def url(self, database: str, user: str = "postgres") -> str:
        return f"postgres://{user}@127.0.0.1:{self.port}/{database}"


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
        return True
    return False


@contextlib.contextmanager
def pgbouncer(listen_port: int, *, host: str = "127.0.0.1", port: int = 5432,
              user: str = "postgres", pool_size: int = 3) -> Iterator[Bouncer]:
    """A transaction-mode pool of ``pool_size`` server connections per database and user in
    front of ``host:port`` (trusting its clients, as the test server trusts 127.0.0.1)."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    assert Path(binary).exists(), "this needs Debian's pgbouncer (make pgbouncer)"
    # Its own directory, world-writable: PgBouncer refuses to run as root, so as root it runs
    # as nobody, which must write its log and pid file there.
    workdir = Path(tempfile.mkdtemp(prefix="varco-pgbouncer-"))
    workdir.chmod(0o777)
    command = [binary, "-u", "nobody"] if os.geteuid() == 0 else [binary]
    log_path = workdir / "pgbouncer.log"
    (workdir / "userlist.txt").write_text(f'"{user}" ""\n')
    (workdir / "pgbouncer.ini").write_text(f"""
[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen_port}
unix_socket_dir =
auth_type = trust
auth_file = {workdir / "userlist.txt"}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 500
logfile = {log_path}
pidfile = {workdir / "pgbouncer.pid"}
""")
    for name in ("userlist.txt", "pgbouncer.ini"):
        (workdir / name).chmod(0o644)
    process = subprocess.Popen([*command, str(workdir / "pgbouncer.ini")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while not _accepts(listen_port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(log_path.read_text() if log_path.exists()
                                     else "pgbouncer did not start")
            time.sleep(0.1)
        yield Bouncer(listen_port, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
