"""Benchmark: live attendance under a scan load (``make bench-attendance``; not part of CI).

What it does, in one run against PostgreSQL and the production web server (gunicorn with
``gunicorn.conf.py``):

1. a database with the demo event and ``--tickets`` attendees (seeded once, then reused: the
   check-in tables are emptied at each run), the demo device's token and every QR code;
2. scan throughput with **no dashboard** open: ``scanload.py`` (``../shared/tools``, unique
   codes, concurrency ``--concurrency``) — the floor of this run;
3. the same load with ``--dashboards`` dashboards connected by Server-Sent Events (or polling,
   when a process has no stream left), each logging when every update arrives;
4. the no-dashboard load again (the machine's drift between phases shows here);
5. a steady ``--rate`` scans/s for ``--seconds`` with the dashboards connected.

Scan-to-dashboard latency: for every scan-log row and every dashboard, the time from the row's
``received_at`` (taken by the server when the scan arrived) to the first update whose ``seq``
covers it. Same machine, same clock.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
# Run as a script (make bench-attendance): the project's packages are imported from the root.
sys.path.insert(0, str(ROOT))
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/varco_bench_attendance"
SEQ = re.compile(rb'"seq":(\d+)')


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--database", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE),
                   help="PostgreSQL URL of a database the benchmark may empty and fill")
    p.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 8450)))
    p.add_argument("--tickets", type=int, default=20_000)
    p.add_argument("--dashboards", type=int, default=4)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--requests", type=int, default=3_000, help="scans per throughput phase")
    p.add_argument("--rounds", type=int, default=2,
                   help="throughput phases alternate: no dashboard, dashboards, ... no dashboard")
    p.add_argument("--rate", type=float, default=50.0, help="steady phase: scans per second")
    p.add_argument("--seconds", type=float, default=30.0, help="steady phase: duration")
    p.add_argument("--scanload", default=os.environ.get(
        "SCANLOAD", str(ROOT / "benchmarks" / "scanload.py")))
    p.add_argument("--json-out", default=str(ROOT / "var" / "bench" / "attendance.json"))
    return p.parse_args(argv)


# --- set-up ------------------------------------------------------------------------------------


def _env(args, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL",)}
    env.update({
        "DATABASE_URL": args.database,
        "VARCO_VAR_DIR": str(var_dir),
        "SITE_URL": f"http://127.0.0.1:{args.port}",
        "DJANGO_SETTINGS_MODULE": "backend.settings",
    })
    return env


def _manage(env, *command, quiet=False) -> None:
    subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL if quiet else None)


def prepare(args, env, export: Path) -> dict:
    """Seed (once) and reset the bench database; return the demo's organiser.json."""
    import psycopg

    if not args.database.startswith("postgres"):
        sys.exit("the attendance benchmark runs on PostgreSQL (--database postgres://...)")
    parts = urlsplit(args.database)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    _manage(env, "migrate", "--no-input", "-v0")
    with psycopg.connect(args.database, autocommit=True) as conn:
        have = conn.execute(
            "SELECT count(*) FROM tickets_ticket WHERE status = 'valid'"
        ).fetchone()[0]
    if have < args.tickets:
        print(f"seeding the demo with {args.tickets} attendees (once; a few minutes)…", flush=True)
    # Idempotent: adds what is missing, rotates the demo device's token, writes every code.
    _manage(env, "seed_demo", "--attendees", str(args.tickets), "--export", str(export),
            quiet=True)
    with psycopg.connect(args.database, autocommit=True) as conn:
        # Statistics first (the seeded tickets; the check-in tables as the last run left them),
        # then empty the check-in tables. Not the other way round: statistics saying "empty"
        # make the planner, and the scan statement's prepared plan, choose sequential scans that
        # get slower with every scan of the run.
        conn.execute("ANALYZE")
        conn.execute("TRUNCATE checkin_scanlog, checkin_presence")
    return json.loads((export / "organiser.json").read_text())


def session_cookie(env, username: str) -> str:
    """A logged-in session for the demo organiser (what the browser would hold)."""
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "VARCO_VAR_DIR",
                                           "DJANGO_SETTINGS_MODULE")})
    import django

    django.setup()
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore

    user = get_user_model().objects.get(username=username)
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return store.session_key


def start_server(args, env, log_path: Path) -> subprocess.Popen:
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    log = open(log_path, "w")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [gunicorn, "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{args.port}", "backend.wsgi"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    import urllib.request

    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{args.port}/admin/login/", timeout=2)
            return process
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                sys.exit(f"gunicorn did not start; see {log_path}")
            time.sleep(0.2)


# --- load and dashboards -----------------------------------------------------------------------


async def scanload(args, device: dict, codes: Path, offset: int, label: str) -> dict:
    out = Path(tempfile.mkdtemp()) / "scanload.json"
    command = [
        sys.executable, args.scanload, "--url", f"http://127.0.0.1:{args.port}/api/v1/checkin/scan/",
        "-H", f"Authorization: Token {device['token']}",
        "--body", json.dumps({"code": "{secret}", "list": device["list"], "nonce": "{uuid}"}),
        "--secrets", str(codes), "--offset", str(offset), "--mode", "unique",
        "--concurrency", str(args.concurrency), "--requests", str(args.requests),
        "--warmup", "200", "--field", "status", "--success-field", "status=ok",
        # This run's processes only (other servers may share the machine): the gunicorn
        # bound to our port and the database backends of our database.
        "--cpu-group", f"app=gunicorn.*127\\.0\\.0\\.1:{args.port}",
        "--cpu-group", f"db=^postgres: .* {urlsplit(args.database).path.lstrip('/')} ",
        "--label", label,
        "--json-out", str(out), "--quiet",
    ]
    process = await asyncio.create_subprocess_exec(*command)
    await process.wait()
    if process.returncode:
        sys.exit(f"scanload failed ({process.returncode})")
    return json.loads(out.read_text())


class Dashboard:
    """A dashboard client: holds a stream (or polls when refused) and logs (time, seq)."""

    def __init__(self, base: str, event_id: int, cookie: str) -> None:
        self.stream_url = f"{base}/events/{event_id}/dashboard/stream/"
        self.poll_url = f"{base}/events/{event_id}/dashboard/live/"
        self.cookies = {"sessionid": cookie}
        self.updates: list[tuple[float, int]] = []
        self.bytes = 0
        self.mode = "connecting"

    async def run(self, aiohttp, stop: asyncio.Event) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
        # A new connection per attempt: a refused stream is retried on whichever gunicorn
        # worker accepts next, not on the busy one a kept-alive connection would return to.
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(cookies=self.cookies, timeout=timeout,
                                         connector=connector, read_bufsize=1 << 20) as session:
            refused = 0
            while not stop.is_set():
                if refused >= 20:
                    await self._poll(session, stop)
                    return
                async with session.get(self.stream_url) as response:
                    if response.status == 503:
                        refused += 1
                        await asyncio.sleep(0.3)
                        continue
                    response.raise_for_status()
                    self.mode = "stream"
                    async for line in response.content:
                        if line.startswith(b"data: "):
                            self._record(line)
                        if stop.is_set():
                            break

    async def _poll(self, session, stop: asyncio.Event) -> None:
        self.mode = "polling"
        etag = ""
        while not stop.is_set():
            async with session.get(self.poll_url, params={"since": etag}) as response:
                body = await response.read()
            if b'"unchanged"' not in body:
                self._record(body)
                etag = json.loads(body)["etag"]
            await asyncio.sleep(1.0)

    def _record(self, data: bytes) -> None:
        found = SEQ.search(data)
        if found:
            self.updates.append((time.time(), int(found.group(1))))
            self.bytes += len(data)


async def steady(args, device: dict, codes: list[str], aiohttp) -> list[float]:
    """``--rate`` scans per second (open loop) for ``--seconds``; return their latencies."""
    url = f"http://127.0.0.1:{args.port}/api/v1/checkin/scan/"
    headers = {"Authorization": f"Token {device['token']}"}
    latencies: list[float] = []
    count = int(args.rate * args.seconds)

    async with aiohttp.ClientSession(headers=headers) as session:
        async def one(code: str) -> None:
            started = time.perf_counter()
            async with session.post(url, json={"code": code, "list": device["list"],
                                               "nonce": str(uuid.uuid4())}) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"scan answered {response.status}")
            latencies.append(time.perf_counter() - started)

        start = time.perf_counter()
        tasks = []
        for i, code in enumerate(codes[:count]):
            delay = start + i / args.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(code)))
        await asyncio.gather(*tasks)
    return latencies


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def dashboard_latency(dashboards: list[Dashboard], rows: list[tuple[int, float]]) -> list[float]:
    """Seconds from each row's arrival at the server to each dashboard's update covering it."""
    latencies = []
    for board in dashboards:
        times, seqs, top = [], [], 0
        for at, seq in board.updates:
            top = max(top, seq)
            times.append(at)
            seqs.append(top)
        for row_id, received in rows:
            k = bisect.bisect_left(seqs, row_id)
            if k < len(times):
                latencies.append(times[k] - received)
    return latencies


def rows_between(low: int, high: int) -> list[tuple[int, float]]:
    from checkin.models import ScanLog

    return [(pk, at.timestamp()) for pk, at in ScanLog.objects.filter(
        id__gt=low, id__lte=high).values_list("id", "received_at")]


def max_id() -> int:
    from django.db.models import Max

    from checkin.models import ScanLog

    return ScanLog.objects.aggregate(m=Max("id"))["m"] or 0


# --- the run -----------------------------------------------------------------------------------


class Boards:
    """``--dashboards`` dashboard clients, connected and disconnected as a group."""

    def __init__(self, args, base: str, event_id: int, cookie: str) -> None:
        self.boards = [Dashboard(base, event_id, cookie) for _ in range(args.dashboards)]
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task] = []

    async def __aenter__(self) -> Boards:
        import aiohttp

        self.tasks = [asyncio.create_task(b.run(aiohttp, self.stop)) for b in self.boards]
        deadline = time.monotonic() + 30
        while any(b.mode == "connecting" for b in self.boards) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)  # every process has built its aggregate
        return self

    async def __aexit__(self, *exc) -> None:
        self.stop.set()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    @property
    def modes(self) -> list[str]:
        return [b.mode for b in self.boards]


def _summary(latencies: list[float]) -> dict:
    return {"p50": round(1000 * _pct(latencies, 50)), "p99": round(1000 * _pct(latencies, 99)),
            "max": round(1000 * max(latencies)) if latencies else None, "n": len(latencies)}


async def run(args, env, organiser: dict, device: dict, codes_path: Path, cookie: str) -> dict:
    import aiohttp
    from asgiref.sync import sync_to_async

    codes = codes_path.read_text().split()
    phases = 2 * args.rounds + 1
    need = phases * (args.requests + 200) + int(args.rate * args.seconds)
    if len(codes) < need:
        sys.exit(f"{len(codes)} codes, the run needs {need}: raise --tickets or lower --requests")
    base = f"http://127.0.0.1:{args.port}"
    db = sync_to_async(lambda f, *a: f(*a), thread_sensitive=True)
    result: dict = {"tickets": len(codes), "dashboards": args.dashboards,
                    "concurrency": args.concurrency, "without": [], "with": []}
    offset = 0
    loaded: list[float] = []
    updates = 0.0
    sizes = []
    for phase in range(phases):
        if phase % 2 == 0:
            print(f"phase {phase + 1}/{phases}: scans, no dashboard", flush=True)
            result["without"].append(
                await scanload(args, device, codes_path, offset, "no dashboards"))
        else:
            async with Boards(args, base, organiser["event_id"], cookie) as boards:
                print(f"phase {phase + 1}/{phases}: scans, {args.dashboards} dashboards "
                      f"({', '.join(boards.modes)})", flush=True)
                result["modes"] = boards.modes
                low = await db(max_id)
                marks = [len(b.updates) for b in boards.boards]
                run_ = await scanload(args, device, codes_path, offset, "dashboards")
                result["with"].append(run_)
                await asyncio.sleep(2)
                rows = await db(rows_between, low, await db(max_id))
                loaded += dashboard_latency(boards.boards, rows)
                pushes = sum(len(b.updates) - m for b, m in zip(boards.boards, marks,
                                                                  strict=True))
                updates += pushes / args.dashboards / run_["wall_s"] / args.rounds
                sizes += [b.bytes / max(1, len(b.updates)) for b in boards.boards]
        offset += args.requests + 200
    result["max_load_dashboard_latency_ms"] = _summary(loaded)
    result["updates_per_dashboard_per_s"] = round(updates, 2)
    result["bytes_per_update"] = round(statistics.mean(sizes))

    async with Boards(args, base, organiser["event_id"], cookie) as boards:
        print(f"steady: {args.rate:g} scans/s for {args.seconds:g}s with {args.dashboards} "
              f"dashboards ({', '.join(boards.modes)})", flush=True)
        low = await db(max_id)
        scan_latency = await steady(args, device, codes[offset:], aiohttp)
        await asyncio.sleep(2)
        rows = await db(rows_between, low, await db(max_id))
        live = dashboard_latency(boards.boards, rows)
    result["steady"] = {
        "rate": args.rate, "seconds": args.seconds, "scans": len(scan_latency),
        "scan_latency_ms": {"p50": round(1000 * _pct(scan_latency, 50), 1),
                            "p99": round(1000 * _pct(scan_latency, 99), 1)},
        "dashboard_latency_ms": _summary(live),
        "covered": f"{len(rows)} rows x {args.dashboards} dashboards",
    }
    return result


def report(result: dict) -> None:
    def line(name: str, r: dict) -> str:
        lat = r["latency_ms"]
        cpu = (r.get("cpu") or {}).get("groups") or {}
        app = cpu.get("app", {}).get("ms_per_req")
        db = cpu.get("db", {}).get("ms_per_req")
        return (f"  {name:<26} {r['throughput_rps']:7.1f} scans/s   p50 {lat['p50']:6.1f}  "
                f"p99 {lat['p99']:6.1f} ms   CPU-ms/scan app {app} db {db}   "
                f"ok {r['success']}/{r['completed']}")

    def mean(runs: list[dict], key) -> float:
        return statistics.mean(key(r) for r in runs)

    print()
    print(f"Attendance benchmark: {result['tickets']} tickets, unique scans at concurrency "
          f"{result['concurrency']}, {result['dashboards']} dashboards "
          f"({', '.join(result['modes'])})")
    ordered = []
    for k, r in enumerate(result["without"]):
        ordered.append(("no dashboard", r))
        if k < len(result["with"]):
            ordered.append((f"{result['dashboards']} dashboards connected", result["with"][k]))
    for name, r in ordered:
        print(line(name, r))
    floor = mean(result["without"], lambda r: r["throughput_rps"])
    loaded = mean(result["with"], lambda r: r["throughput_rps"])
    change = 100 * (loaded - floor) / floor

    def cpu(group: str):
        return lambda r: r["cpu"]["groups"][group]["ms_per_req"]

    app0, app1 = mean(result["without"], cpu("app")), mean(result["with"], cpu("app"))
    db0, db1 = mean(result["without"], cpu("db")), mean(result["with"], cpu("db"))
    # The scans saturate the CPU, so what the dashboards add to each scan's CPU (web server
    # and database) is what they take from the throughput; unlike req/s, it does not move
    # with whatever else the machine is doing.
    cpu_change = 100 * ((app1 + db1) / (app0 + db0) - 1)
    print(f"  mean throughput: {floor:.1f} scans/s without dashboards, {loaded:.1f} with "
          f"({change:+.1f}%)")
    print(f"  CPU per scan (web + database): {app0:.2f} + {db0:.2f} -> {app1:.2f} + {db1:.2f} ms "
          f"({cpu_change:+.1f}%, i.e. {100 * (1 - 1 / (1 + cpu_change / 100)):.1f}% fewer "
          f"scans/s on a saturated machine)")
    result["cpu_per_scan_change_pct"] = round(cpu_change, 1)
    m = result["max_load_dashboard_latency_ms"]
    print(f"  scan-to-dashboard at full load: p50 {m['p50']} ms, p99 {m['p99']} ms, max "
          f"{m['max']} ms ({m['n']} row x dashboard pairs); "
          f"{result['updates_per_dashboard_per_s']} updates/s per dashboard, "
          f"{result['bytes_per_update']} bytes each")
    steady = result["steady"]
    s = steady["dashboard_latency_ms"]
    print(f"  steady {steady['rate']:g} scans/s for {steady['seconds']:g}s: scan p50 "
          f"{steady['scan_latency_ms']['p50']} ms, p99 {steady['scan_latency_ms']['p99']} ms; "
          f"scan-to-dashboard p50 {s['p50']} ms, p99 {s['p99']} ms, max {s['max']} ms "
          f"({steady['covered']})")
    result["throughput_change_pct"] = round(change, 1)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not Path(args.scanload).exists():
        sys.exit(f"scanload.py not found at {args.scanload} (set SCANLOAD=...)")
    work = Path(tempfile.mkdtemp(prefix="varco-bench-attendance-"))
    env = _env(args, work / "var")
    export = work / "demo"
    organiser = prepare(args, env, export)
    device = json.loads((export / "device.json").read_text())
    cookie = session_cookie(env, organiser["username"])
    server = start_server(args, env, work / "gunicorn.log")
    try:
        result = asyncio.run(run(args, env, organiser, device, export / "codes.txt", cookie))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    report(result)
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"  (details: {out}; server log: {work / 'gunicorn.log'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
