"""The engines under Varco, each a real process on loopback: a PostgreSQL primary and its
synchronous standby (clusters of their own in the run's directory, on free ports), PgBouncer
in transaction mode, HAProxy, Redis. Configured from the reference deployment's files in
``deploy/`` (copied into the run and included, or rendered with the run's addresses), so the
drill proves the files people deploy.

PostgreSQL and PgBouncer refuse to run as root: as root, they run as the ``postgres`` user
(``runuser``), in a directory that user owns.
"""

from __future__ import annotations

import configparser
import contextlib
import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PG_BIN = Path(os.environ.get("VARCO_PG_BIN", "/usr/lib/postgresql/15/bin"))
DATABASE = "varco"
STANDBY_NAME = "standby1"  # deploy/postgresql/primary.conf waits for this name


def free_port(host: str = "127.0.0.1", *, also: tuple[str, ...] = ()) -> int:
    """A port free now on ``host`` (and on every address of ``also``: the web hosts share one
    port number on 127.0.0.2-4)."""
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if all(_bindable(h, port) for h in also):
            return port
    raise RuntimeError(f"no port free on {host} and {also}")


def _bindable(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout):
        return True
    return False


def wait_until(predicate, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def _as_service_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _give_to_service_user(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def _run(cmd: list[str], log: Path, timeout: float = 120) -> None:
    with open(log, "ab") as out:
        result = subprocess.run(_as_service_user(cmd), stdout=out, stderr=subprocess.STDOUT,
                                timeout=timeout, cwd="/")
    if result.returncode:
        tail = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{' '.join(cmd[:2])} failed ({result.returncode}):\n{tail}")


@dataclass
class Cluster:
    """One PostgreSQL cluster: ``primary`` (initdb) or ``standby`` (pg_basebackup of one)."""

    name: str
    root: Path
    port: int = 0
    role: str = "primary"
    label: str = "varco-drill"  # in the process titles, with the name

    @property
    def data(self) -> Path:
        return self.root / self.name

    @property
    def log(self) -> Path:
        return self.root / f"{self.name}.log"

    @property
    def server_log(self) -> Path:
        """The server's own log (written by the postgres user; ``log`` is the commands')."""
        return self.root / f"{self.name}-server.log"

    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def bootstrap_conf(self) -> Path:
        return self.root / f"{self.name}-bootstrap.conf"

    def _configure(self, include: str, extra: dict[str, str]) -> None:
        copy = self.root / f"{self.name}-{include}"
        shutil.copy(DEPLOY / "postgresql" / include, copy)
        _give_to_service_user(copy)
        # Until its standby is attached, a primary configured for synchronous replication
        # would wait for it at every commit (CREATE DATABASE included): set-up overrides it.
        self.bootstrap_conf.write_text("synchronous_standby_names = ''\n")
        _give_to_service_user(self.bootstrap_conf)
        lines = [f"include '{copy}'", f"include '{self.bootstrap_conf}'",
                 f"port = {self.port}", "listen_addresses = '127.0.0.1'",
                 # In every process title ("postgres: varco-drill-primary: ..."): a
                 # benchmark counts these clusters' CPU apart from any other PostgreSQL.
                 f"cluster_name = '{self.label}-{self.name}'",
                 f"unix_socket_directories = '{self.root}'",
                 # Small: two clusters and six Varco processes share a 2-core machine.
                 "shared_buffers = 64MB", "max_connections = 100",
                 *(f"{k} = {v}" for k, v in extra.items())]
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n# varco scale drill\n" + "\n".join(lines) + "\n")

    def init_primary(self) -> None:
        _run([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
              "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"], self.log)
        with open(self.data / "pg_hba.conf", "a") as hba:  # loopback only, as initdb's
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        self._configure("primary.conf", {})
        self.start()
        with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
            conn.execute(f"ALTER DATABASE {DATABASE} SET timezone TO 'UTC'")
            conn.execute("SELECT pg_create_physical_replication_slot(%s)", [STANDBY_NAME])

    def init_standby(self, primary: Cluster) -> None:
        _run([str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
              "-U", "postgres", "-D", str(self.data), "-R", "-X", "stream",
              "-S", STANDBY_NAME, "--checkpoint=fast", "--no-sync"], self.log, timeout=300)
        self.role = "standby"
        self._configure("standby.conf", {})
        # pg_basebackup -R wrote primary_conninfo into postgresql.auto.conf, which overrides
        # postgresql.conf: the name the primary waits for goes there, after it.
        with open(self.data / "postgresql.auto.conf", "a") as auto:
            auto.write(f"primary_conninfo = 'host=127.0.0.1 port={primary.port} "
                       f"user=postgres application_name={STANDBY_NAME}'\n")
        self.start()

    def end_bootstrap(self) -> None:
        """The deployed file's settings from now on (synchronous replication)."""
        self.bootstrap_conf.write_text("")
        self.query("SELECT pg_reload_conf()", dbname="postgres")

    def admin_dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def start(self) -> None:
        _run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.server_log), "-w",
              "-t", "60", "start"], self.log)

    def stop(self, mode: str = "fast") -> None:
        """``immediate``: every server process is killed at once, no shutdown checkpoint (a
        crash, as far as the clients and the data directory can tell)."""
        with contextlib.suppress(RuntimeError):
            _run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"],
                 self.log)

    def promote(self) -> None:
        _run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "promote"], self.log)
        self.role = "primary"

    def query(self, sql: str, params: list | None = None, dbname: str = DATABASE) -> list:
        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname} connect_timeout=5"
        with psycopg.connect(dsn, autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description is not None else []

    def synchronous_standby(self) -> str | None:
        rows = self.query("SELECT application_name FROM pg_stat_replication "
                          "WHERE sync_state = 'sync' AND state = 'streaming'", dbname="postgres")
        return rows[0][0] if rows else None


@dataclass
class PgBouncer:
    """PgBouncer with ``deploy/pgbouncer/pgbouncer.ini``'s pool settings; the addresses, the
    authentication (trust, on loopback) and the paths are the run's."""

    root: Path
    port: int = 0
    process: subprocess.Popen | None = None
    target: int = 0  # the PostgreSQL port [databases] points at

    @property
    def ini(self) -> Path:
        return self.root / "pgbouncer.ini"

    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def write_config(self, postgres_port: int) -> None:
        config = configparser.ConfigParser(interpolation=None, comment_prefixes=(";", "#"),
                                           inline_comment_prefixes=None)
        config.optionxform = str  # PgBouncer's keys are case-sensitive
        config.read(DEPLOY / "pgbouncer" / "pgbouncer.ini")
        self.target = postgres_port
        config["databases"] = {
            DATABASE: f"host=127.0.0.1 port={postgres_port} dbname={DATABASE} user=postgres"}
        users = self.root / "pgbouncer-users.txt"
        users.write_text('"postgres" ""\n')
        _give_to_service_user(users)
        config["pgbouncer"].update({
            "listen_addr": "127.0.0.1", "listen_port": str(self.port),
            "unix_socket_dir": "", "auth_type": "trust", "auth_file": str(users),
            "admin_users": "postgres", "stats_users": "postgres",
            "logfile": str(self.root / "pgbouncer.log"), "pidfile": "",
        })
        with open(self.ini, "w") as out:
            config.write(out)
        _give_to_service_user(self.ini)

    def start(self, postgres_port: int) -> None:
        self.port = self.port or free_port()
        self.write_config(postgres_port)
        self.process = subprocess.Popen(
            _as_service_user(["pgbouncer", str(self.ini)]), cwd="/",
            stdout=subprocess.DEVNULL, stderr=open(self.root / "pgbouncer.err", "ab"),  # noqa: SIM115
            start_new_session=True)
        if not wait_until(lambda: accepts("127.0.0.1", self.port), 15):
            raise RuntimeError(f"PgBouncer did not start: {self.root / 'pgbouncer.log'}")

    def repoint(self, postgres_port: int) -> None:
        """Failover: [databases] to the new primary, then RELOAD (SIGHUP): new server
        connections go there; clients keep their connections to PgBouncer."""
        self.write_config(postgres_port)
        self.admin("RELOAD")

    def admin(self, command: str) -> list[list[str]]:
        """A command of PgBouncer's admin console (simple query protocol only, hence psql)."""
        result = subprocess.run(
            [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", "pgbouncer", "-AtF", "\t", "-c", command],
            capture_output=True, text=True, timeout=15)
        if result.returncode:
            raise RuntimeError(f"pgbouncer {command}: {result.stderr.strip()}")
        return [line.split("\t") for line in result.stdout.splitlines() if line]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)


@dataclass
class HAProxy:
    """HAProxy running ``deploy/haproxy/haproxy.cfg`` itself, with the run's environment."""

    root: Path
    port: int = 0
    process: subprocess.Popen | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def socket_path(self) -> Path:
        return self.root / "haproxy.sock"

    def start(self, web: list[str], health_host: str) -> None:
        self.port = self.port or free_port()
        self.env = {**os.environ, "VARCO_LB_BIND": f"127.0.0.1:{self.port}",
                    "VARCO_HEALTH_HOST": health_host,
                    "VARCO_LB_STATS_SOCKET": str(self.socket_path), "VARCO_LB_LOG": "stdout",
                    **{f"VARCO_WEB{i + 1}": address for i, address in enumerate(web)}}
        log = open(self.root / "haproxy.log", "ab")  # noqa: SIM115  (the process holds it)
        self.process = subprocess.Popen(
            # -L (the local peer name, unused here) tells this HAProxy's process apart.
            ["haproxy", "-db", "-L", f"varco-{self.port}", "-f",
             str(DEPLOY / "haproxy" / "haproxy.cfg")], env=self.env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_until(lambda: accepts("127.0.0.1", self.port), 15):
            raise RuntimeError(f"HAProxy did not start: {self.root / 'haproxy.log'}")

    def stats(self) -> dict[str, dict[str, str]]:
        """``show stat`` of the web backend: a row per server (and ``BACKEND``)."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.socket_path))
            sock.sendall(b"show stat\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        rows = csv.DictReader(io.StringIO(data.decode().lstrip("# ")))
        return {row["svname"]: row for row in rows if row["pxname"] == "web"}

    def servers(self) -> dict[str, str]:
        """Each server's state as HAProxy sees it (``UP``, ``DOWN``, ``no check``, ...)."""
        return {name: row["status"] for name, row in self.stats().items()
                if name not in ("BACKEND", "FRONTEND")}

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)


@dataclass
class Redis:
    """A redis-server of the run's own, without persistence: a restart loses everything it
    held (queued tasks, the flood buckets), the worst case."""

    root: Path
    port: int = 0
    process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.port = self.port or free_port()
        log = open(self.root / "redis.log", "ab")  # noqa: SIM115  (the process holds it)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.root)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_until(lambda: accepts("127.0.0.1", self.port), 10):
            raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        if self.process is not None and self.process.poll() is None:
            self.kill()
