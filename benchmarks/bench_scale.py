"""The scan endpoint through HAProxy and PgBouncer beside the direct path, in one run
(``make bench-scale``; docs/benchmarks.md, "Through the balancer and the pooler").

The scale drill's engines (``backend.scaledrill.engines``: a PostgreSQL 15 primary with a
synchronous streaming standby in a temporary directory, PgBouncer in transaction mode, HAProxy
with ``deploy/haproxy/haproxy.cfg``, Redis), the demo event seeded with ``--attendees``
tickets, and two gunicorns (``gunicorn.conf.py``) on the same code:

- ``direct`` on 127.0.0.2: straight to the primary, the scan statement prepared (the
  single-box deployment);
- ``pooled`` on 127.0.0.3: through PgBouncer, unprepared (``DB_TRANSACTION_POOLING=true``, as
  PgBouncer 1.18 in transaction mode requires), reached directly and through HAProxy.

``scanload.py`` posts unique codes at c=32 and c=8 to each path in turn (the machine's other
load drifts, so the paths alternate), then the direct path again with the standby made
asynchronous (the cost of synchronous replication). Printed per run: scans/s, p50/p90/p99/
max, CPU-ms per scan of gunicorn (``app``), both clusters (``db``: every process of theirs),
PgBouncer, HAProxy and the load generator. Then the database is checked for double entries.
Not a test; outside CI.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from bench_checkin import run, wait_for

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.scaledrill.engines import (  # noqa: E402  (the repository on the path first)
    Cluster,
    HAProxy,
    PgBouncer,
    Redis,
    free_port,
    wait_until,
)

SCANLOAD = ROOT / "benchmarks" / "scanload.py"
DIRECT, POOLED = "127.0.0.2", "127.0.0.3"
# (label, path, concurrency, requests, warm-up); "lb" = HAProxy -> pooled gunicorn.
RUNS = [
    ("direct (prepared, primary)", "direct", 32, 3000, 300),
    ("HAProxy + PgBouncer (unprepared)", "lb", 32, 3000, 300),
    ("PgBouncer, no balancer", "pooled", 32, 3000, 300),
    ("direct (prepared, primary)", "direct", 8, 2000, 200),
    ("HAProxy + PgBouncer (unprepared)", "lb", 8, 2000, 200),
    ("direct, standby asynchronous", "direct-async", 8, 2000, 200),
    ("HAProxy + PgBouncer (again)", "lb", 32, 3000, 300),
    ("direct (again)", "direct", 32, 3000, 300),
    # What every door page adds while online: it polls the changes feed every 2 s (here with
    # nothing new since the cursor: the cost of the poll itself).
    ("changes feed poll (HAProxy + PgBouncer)", "changes", 32, 3000, 300),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attendees", type=int, default=24000)
    parser.add_argument("--quick", action="store_true", help="a tenth of the requests")
    parser.add_argument("--requests", type=int, default=0,
                        help="measured requests of every run (default: 3000 at c=32, 2000 at "
                             "c=8); the warm-up is a tenth of it. Runs use distinct codes: "
                             "--attendees must cover them all")
    parser.add_argument("--out", default=str(ROOT / "var" / "bench-scale"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="varco-scale-bench-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    primary = Cluster("primary", root, free_port(), label="varco-bench")
    standby = Cluster("standby", root, free_port(), label="varco-bench")
    bouncer, redis, balancer = PgBouncer(root), Redis(root), HAProxy(root)
    servers: list[subprocess.Popen] = []
    try:
        primary.init_primary()
        redis.start()
        port = free_port(DIRECT, also=(POOLED,))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("VARCO_", "GUNICORN_")) and k not in ("DATABASE_URL",)}
        env.update(DJANGO_SETTINGS_MODULE="backend.settings", REDIS_URL=redis.url(),
                   VARCO_VAR_DIR=str(out / "var"), LOG_LEVEL="WARNING", DEBUG="false",
                   VARCO_SEND_ON_ISSUE="false", ALLOWED_HOSTS="127.0.0.1,127.0.0.2,127.0.0.3",
                   SITE_URL=f"http://{DIRECT}:{port}", DB_CONN_MAX_AGE="3600")
        direct_env = {**env, "DATABASE_URL": primary.url()}
        print(f"== seeding {args.attendees} tickets on a fresh primary", flush=True)
        run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], direct_env)
        run([sys.executable, "manage.py", "seed_demo", "--attendees", str(args.attendees),
             "--export", str(out)], direct_env, stdout=subprocess.DEVNULL)
        primary.query("VACUUM ANALYZE")
        standby.init_standby(primary)
        primary.end_bootstrap()
        assert wait_until(lambda: primary.synchronous_standby() is not None, 30)
        bouncer.start(primary.port)
        pooled_env = {**env, "DATABASE_URL": bouncer.url(), "DB_TRANSACTION_POOLING": "true"}
        for address, server_env in ((DIRECT, direct_env), (POOLED, pooled_env)):
            servers.append(subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind",
                 f"{address}:{port}", "backend.wsgi"], cwd=ROOT, env=server_env,
                start_new_session=True))
            wait_for(f"http://{address}:{port}/api/v1/checkin/ping/", 120)
        balancer.start([f"{POOLED}:{port}"] * 3, "127.0.0.1")
        assert wait_until(lambda: balancer.servers().get("web1", "").startswith("UP"), 30)
        device = json.loads((out / "device.json").read_text())
        results = _runs(args, out, device, port, balancer.port, primary, bouncer)
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        for engine in (balancer, bouncer, redis):
            engine.stop()
        for cluster in (primary, standby):
            cluster.stop("fast")
    doubles = results.pop()
    _print(results)
    print(f"\ndouble entries: {doubles} (tickets with two 'ok' rows or presences with "
          "entries > 1)")
    (out / "summary.json").write_text(json.dumps(results, indent=2))
    shutil.rmtree(root, ignore_errors=True)
    return 0 if doubles == 0 else 1


def _runs(args, out: Path, device: dict, port: int, lb_port: int, primary: Cluster,
          bouncer: PgBouncer) -> list:
    base = {"direct": f"http://{DIRECT}:{port}", "direct-async": f"http://{DIRECT}:{port}",
            "pooled": f"http://{POOLED}:{port}", "lb": f"http://127.0.0.1:{lb_port}"}
    # This run's processes only (a scale drill may run beside it on the same addresses).
    cpu = ["--cpu-group", f"app=gunicorn .*--bind 127.0.0.[23]:{port} ",
           "--cpu-group", "db=^postgres: varco-bench-",
           "--cpu-group", f"pgbouncer=^pgbouncer {bouncer.ini}",
           "--cpu-group", f"haproxy=^haproxy -db -L varco-{lb_port} "]
    codes = out / "codes.txt"
    offset, results = 0, []
    print(f"== load average before: {os.getloadavg()[0]:.2f}", flush=True)
    for index, (label, path, concurrency, requests, warmup) in enumerate(RUNS):
        if args.requests:
            requests, warmup = args.requests, args.requests // 10
        if args.quick:
            requests, warmup = requests // 10, warmup // 10
        if path == "direct-async":  # the standby still streams; commits stop waiting for it
            primary.query("ALTER SYSTEM SET synchronous_standby_names = ''", dbname="postgres")
            primary.query("SELECT pg_reload_conf()", dbname="postgres")
            time.sleep(1)
        json_out = out / f"{index}-{path}-c{concurrency}.json"
        print(f"-- {label}: c={concurrency}", flush=True)
        if path == "changes":
            run([sys.executable, str(SCANLOAD), "--quiet", "--mode", "invalid", "--method",
                 "GET", "--url", _changes_url(base["lb"], device), "-H",
                 f"Authorization: Token {device['token']}", "--field", "",
                 "--concurrency", str(concurrency), "--requests", str(requests),
                 "--warmup", str(warmup), *cpu, "--json-out", str(json_out), "--label", label],
                {**os.environ})
            results.append(json.loads(json_out.read_text()))
            continue
        run([sys.executable, str(SCANLOAD), "--quiet", "--mode", "unique",
             "--url", f"{base[path]}/api/v1/checkin/scan/",
             "-H", f"Authorization: Token {device['token']}",
             "--body", json.dumps({"code": "{secret}", "list": device["list"],
                                   "nonce": "{uuid}"}),
             "--field", "reason", "--secrets", str(codes), "--offset", str(offset),
             "--concurrency", str(concurrency), "--requests", str(requests),
             "--warmup", str(warmup), *cpu, "--json-out", str(json_out), "--label", label],
            {**os.environ})
        offset += requests + warmup
        if path == "direct-async":
            primary.query("ALTER SYSTEM RESET synchronous_standby_names", dbname="postgres")
            primary.query("SELECT pg_reload_conf()", dbname="postgres")
        result = json.loads(json_out.read_text())
        results.append(result)
    print(f"== load average after: {os.getloadavg()[0]:.2f}", flush=True)
    doubles = primary.query(
        "SELECT (SELECT count(*) FROM checkin_presence WHERE entries > 1) + (SELECT count(*) "
        "FROM (SELECT ticket_id FROM checkin_scanlog WHERE result = 'ok' GROUP BY ticket_id "
        "HAVING count(*) > 1) t)")[0][0]
    return [*results, doubles]


def _changes_url(base: str, device: dict) -> str:
    """The changes feed from a cursor of now (the snapshot's), as a door page polls it."""
    request = urllib.request.Request(f"{base}/api/v1/checkin/snapshot/",
                                     headers={"Authorization": f"Token {device['token']}"})
    with urllib.request.urlopen(request, timeout=120) as response:
        cursor = json.loads(response.read())["cursor"]
    return f"{base}/api/v1/checkin/changes/?since={urllib.parse.quote(str(cursor))}"


def _print(results: list[dict]) -> None:
    print("\n| run | c | scans/s | p50 ms | p90 ms | p99 ms | max ms | CPU-ms/scan app | db "
          "| pgbouncer | haproxy | loadgen | machine | answers |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        lat, cpu = r["latency_ms"], r.get("cpu", {})
        groups = cpu.get("groups", {})
        answers = ", ".join(f"{'ok' if k in ('None', 'null') else k}: {v}"
                            for k, v in r.get("field_values", {}).items()) or \
            ", ".join(f"{k}: {v}" for k, v in r.get("http_status", {}).items())
        cells = [groups.get(g, {}).get("ms_per_req", "-")
                 for g in ("app", "db", "pgbouncer", "haproxy")]
        print(f"| {r['label']} | {r['concurrency']} | {r['throughput_rps']:.0f} "
              f"| {lat['p50']:.1f} | {lat['p90']:.1f} | {lat['p99']:.1f} | {lat['max']:.1f} | "
              + " | ".join(str(c) for c in cells)
              + f" | {cpu.get('loadgen_ms_per_req', '-')} "
              f"| {cpu.get('machine_cpu_ms_per_req', '-')} | {answers} |")


if __name__ == "__main__":
    sys.exit(main())
