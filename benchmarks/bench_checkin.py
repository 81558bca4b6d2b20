"""Check-in benchmark (``make bench-checkin``): the scan endpoint under gunicorn on PostgreSQL.

Seeds the demo event with ``--attendees`` tickets in a dedicated PostgreSQL database, clears
earlier scans, starts gunicorn with ``gunicorn.conf.py`` and drives it with scanload.py:
a floor first (``/api/v1/checkin/ping/``, constant JSON from a plain Django view under the same
server), then unique scans at concurrency 1, 8 and 32, duplicate pairs at 16 and invalid codes
at 8. Prints req/s, p50/p90/p99 and CPU-ms per request (app = gunicorn, db = PostgreSQL
backends, loadgen = scanload itself), then checks the database for double entries.

Not a test: it prints figures for docs/benchmarks.md. Outside CI.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/varco_bench"
DEFAULT_SCANLOAD = ROOT / "benchmarks" / "scanload.py"

# (label, mode, concurrency, requests, warmup). The machine's other load drifts during a run,
# so runs that are compared stand next to each other, and the floor and the c=32 scans are
# measured twice, at the start and at the end.
RUNS = [
    ("floor (constant JSON view)", "floor", 32, 6000, 500),
    ("unique scans", "unique", 32, 5000, 500),
    ("floor (constant JSON view)", "floor", 8, 4000, 200),
    ("invalid codes", "invalid", 8, 6000, 500),
    ("unique scans", "unique", 8, 3000, 200),
    ("unique scans", "unique", 1, 1000, 100),
    ("duplicate pairs", "duplicate", 16, 3000, 0),
    ("unique scans (again)", "unique", 32, 5000, 500),
    ("floor (again)", "floor", 32, 6000, 500),
]
# --pooler: the same server started twice, straight on PostgreSQL and through PgBouncer in
# transaction mode (DB_TRANSACTION_POOLING: no prepared scan statement), phases alternating.
POOLER_RUNS = [  # 18,500 codes in all (the default 20,000 attendees)
    ("direct: unique scans", "unique", 8, 2000, 200, "direct"),
    ("pgbouncer: unique scans", "unique", 8, 2000, 200, "pooler"),
    ("direct: unique scans", "unique", 32, 2500, 250, "direct"),
    ("pgbouncer: unique scans", "unique", 32, 2500, 250, "pooler"),
    ("pgbouncer: unique scans", "unique", 1, 500, 50, "pooler"),
    ("direct: unique scans", "unique", 1, 500, 50, "direct"),
    ("pgbouncer: duplicate pairs", "duplicate", 16, 2000, 0, "pooler"),
    ("direct: duplicate pairs", "duplicate", 16, 2000, 0, "direct"),
    ("pgbouncer: unique scans (again)", "unique", 32, 2500, 250, "pooler"),
    ("direct: unique scans (again)", "unique", 32, 2500, 250, "direct"),
]


# run, ensure_database, wait_for: also the registration bench's (bench_registration.py).
def run(cmd: list[str], env: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, cwd=ROOT, check=True, **kwargs)


def _psql(env: dict, sql: str) -> str:
    code = (
        "import sys, django; django.setup();"
        "from django.db import connection;"
        "c = connection.cursor(); c.execute(sys.argv[1]);"
        "print(c.fetchone()[0] if c.description else '')"
    )
    out = run([sys.executable, "-c", code, sql], env, capture_output=True, text=True)
    return out.stdout.strip()


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server did not answer on {url}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                                 DEFAULT_DB))
    parser.add_argument("--attendees", type=int, default=20000)
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 8201)))
    parser.add_argument("--scanload", default=os.environ.get("SCANLOAD", str(DEFAULT_SCANLOAD)))
    parser.add_argument("--out", default=str(ROOT / "var" / "bench-checkin"))
    parser.add_argument("--quick", action="store_true", help="a tenth of the requests")
    parser.add_argument("--pooler", action="store_true",
                        help="scans straight to PostgreSQL and through PgBouncer (transaction "
                             "mode), alternating; the pooled server listens on --port + 1")
    parser.add_argument("--pool-size", type=int, default=20,
                        help="PgBouncer's server connections (--pooler)")
    args = parser.parse_args(argv)

    if not args.database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("the benchmark runs on PostgreSQL (BENCH_DATABASE_URL=postgres://...)")
    if not Path(args.scanload).exists():
        raise SystemExit(f"scanload.py not found at {args.scanload} (set SCANLOAD=...)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{args.port}"
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "SITE_URL": base,
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "backend.settings",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("REDIS_URL", None)
    # The invalid-code phase measures what answering a garbage code costs; the per-device flood
    # limit (checkin/scanning/flood.py) would answer most of them 429 instead (cheaper still).
    env["VARCO_SCAN_INVALID_RATE"] = "0"

    print(f"== preparing {args.database_url} with {args.attendees} attendees", flush=True)
    ensure_database(args.database_url)
    run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], env)
    run([sys.executable, "manage.py", "seed_demo", "--attendees", str(args.attendees),
          "--export", str(out)], env, stdout=subprocess.DEVNULL)
    _psql(env, "TRUNCATE checkin_presence, checkin_scanlog")
    _psql(env, "VACUUM ANALYZE")
    _psql(env, "SELECT pg_stat_reset()")
    device = json.loads((out / "device.json").read_text())
    codes = out / "codes.txt"
    n_codes = sum(1 for _ in codes.open())

    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    bind = f"127.0.0.1:{args.port}"
    print(f"== gunicorn -c gunicorn.conf.py --bind {bind} "
          f"(GUNICORN_WORKERS={os.environ.get('GUNICORN_WORKERS', 'default')}, "
          f"GUNICORN_THREADS={os.environ.get('GUNICORN_THREADS', 'default')}); "
          f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    server = subprocess.Popen([gunicorn, "-c", "gunicorn.conf.py", "--bind", bind,
                               "backend.wsgi"], cwd=ROOT, env=env, start_new_session=True)
    db_name = args.database_url.rsplit("/", 1)[1].split("?")[0]
    cpu_groups = ["--cpu-group", f"app=bin/gunicorn .*--bind {bind}",
                  "--cpu-group", f"db=^postgres: .* {db_name} "]
    runs = [(*run_, "direct") for run_ in RUNS]
    servers = {"direct": (server, base, cpu_groups)}
    stack = contextlib.ExitStack()
    if args.pooler:
        runs = POOLER_RUNS
        servers["pooler"] = _start_pooled(args, env, gunicorn, stack)
    results = []
    try:
        for _, url, _ in servers.values():
            wait_for(f"{url}/api/v1/checkin/ping/")
        offset = 0
        for index, (label, mode, concurrency, requests, warmup, via) in enumerate(runs):
            _, base, cpu_groups = servers[via]
            if args.quick:
                requests, warmup = max(100, requests // 10), warmup // 10
            cmd = [sys.executable, args.scanload, "--quiet", "--mode",
                   "invalid" if mode == "floor" else mode,
                   "--concurrency", str(concurrency), "--requests", str(requests),
                   "--warmup", str(warmup), *cpu_groups,
                   "--json-out", str(out / f"{index}-{mode}-c{concurrency}.json"),
                   "--label", label]
            if mode == "floor":
                cmd += ["--url", f"{base}/api/v1/checkin/ping/", "--body", '{"code": "{secret}"}']
            else:
                cmd += ["--url", device["scan_url"].replace(env["SITE_URL"], base),
                        "-H", f"Authorization: Token {device['token']}",
                        "--body", json.dumps({"code": "{secret}", "list": device["list"],
                                              "nonce": "{uuid}"}),
                        "--field", "reason"]
            if mode in ("unique", "duplicate"):
                needed = requests + warmup if mode == "unique" else (requests + warmup) // 2
                if offset + needed > n_codes:
                    raise SystemExit(f"not enough codes: need {offset + needed}, have {n_codes}"
                                     " (raise --attendees)")
                cmd += ["--secrets", str(codes), "--offset", str(offset)]
                offset += needed
                if mode == "duplicate":
                    cmd += ["--success-field", "status=ok"]
            print(f"-- {label}: {mode} c={concurrency}", flush=True)
            run(cmd, env)
            result = json.loads((out / f"{index}-{mode}-c{concurrency}.json").read_text())
            result["bench_mode"] = mode
            results.append(result)
    finally:
        for process, _, _ in servers.values():
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        stack.close()

    doubles = _psql(env, "SELECT count(*) FROM checkin_presence WHERE entries > 1")
    ok_twice = _psql(env, "SELECT count(*) FROM (SELECT ticket_id FROM checkin_scanlog "
                          "WHERE result = 'ok' GROUP BY ticket_id HAVING count(*) > 1) t")
    logged = _psql(env, "SELECT count(*) FROM checkin_scanlog")
    # Every lookup of the scan statement is by a unique key: an index read of more than a few
    # entries per scan means a plan went wrong (it happened: see scanning._SCAN_SQL).
    widest = _psql(env, "SELECT coalesce(max(indexrelname || ': ' || round(idx_tup_read::numeric"
                        " / idx_scan, 1)), '-') FROM (SELECT * FROM pg_stat_user_indexes WHERE "
                        "relname IN ('checkin_presence', 'checkin_scanlog') AND idx_scan > 0 "
                        "ORDER BY idx_tup_read::float / idx_scan DESC LIMIT 1) i")
    print(f"\nload average after: {os.getloadavg()[0]:.2f} (other processes on the machine "
          "share the 2 cores; 'machine' CPU-ms/req counts them too)")
    _print_table(results)
    print(f"\ndouble entries in the database: {doubles} presence rows with entries > 1, "
          f"{ok_twice} tickets with two 'ok' log rows; scan-log rows: {logged}")
    print(f"index entries read per index scan on the check-in tables, at most: {widest}")
    (out / "summary.json").write_text(json.dumps(results, indent=2))
    if not args.pooler:
        _print_verdict(results, doubles == "0" and ok_twice == "0")
    return 0 if doubles == "0" and ok_twice == "0" else 1


def _start_pooled(args, env: dict, gunicorn: str, stack: contextlib.ExitStack):
    """PgBouncer (transaction mode) in front of the bench database, and a second gunicorn
    through it on --port + 1: (process, base URL, CPU groups)."""
    sys.path.insert(0, str(ROOT))
    from tests.support.pgbouncer import pgbouncer  # (a test helper; no Django in it)

    server_url = args.database_url.split("//", 1)[1]
    host_port = server_url.split("@")[-1].split("/")[0]
    host, _, port = host_port.partition(":")
    bouncer = stack.enter_context(pgbouncer(args.port + 2, host=host or "127.0.0.1",
                                            port=int(port or 5432), pool_size=args.pool_size))
    db_name = args.database_url.rsplit("/", 1)[1].split("?")[0]
    pooled_env = {**env, "DATABASE_URL": bouncer.url(db_name), "DB_TRANSACTION_POOLING": "true"}
    bind = f"127.0.0.1:{args.port + 1}"
    print(f"== through pgbouncer on 127.0.0.1:{bouncer.port} (transaction mode, "
          f"{args.pool_size} server connections): gunicorn --bind {bind}", flush=True)
    process = subprocess.Popen([gunicorn, "-c", "gunicorn.conf.py", "--bind", bind,
                                "backend.wsgi"], cwd=ROOT, env=pooled_env,
                               start_new_session=True)
    groups = ["--cpu-group", f"app=bin/gunicorn .*--bind {bind}",
              "--cpu-group", f"db=^postgres: .* {db_name} ",
              "--cpu-group", "pooler=pgbouncer .*varco-pgbouncer-"]
    return process, f"http://{bind}", groups


def _print_verdict(results: list[dict], no_doubles: bool) -> None:
    def pick(mode: str, concurrency: int) -> list[dict]:
        return [r for r in results if r["bench_mode"] == mode and r["concurrency"] == concurrency]

    c32 = max(r["throughput_rps"] for r in pick("unique", 32))
    c8 = pick("unique", 8)[0]
    invalid = pick("invalid", 8)[0]["throughput_rps"]
    floor = max(r["throughput_rps"] for r in pick("floor", 32))
    cpu = pick("unique", 32)[-1].get("cpu", {})
    groups = cpu.get("groups", {})
    per_scan = (groups.get("app", {}).get("ms_per_req", 0)
                + groups.get("db", {}).get("ms_per_req", 0) + cpu.get("loadgen_ms_per_req", 0))
    print(f"\nvalid scans at c=32: {c32:.0f}/s (target >= 500; floor {floor:.0f}/s, "
          f"{100 * c32 / floor:.0f}% of it)")
    print(f"p99 at c=8: {c8['latency_ms']['p99']:.1f} ms (target <= 25)")
    print(f"invalid codes at c=8: {invalid:.0f}/s = {invalid / c32:.1f}x the c=32 scan rate "
          "(target >= 2x)")
    print(f"double entries: {'none' if no_doubles else 'FOUND'}")
    if per_scan:
        print(f"CPU per scan at c=32 (web + database + load generator): {per_scan:.2f} ms -> "
              f"{2000 / per_scan:.0f} scans/s if this run had both cores to itself")


def _print_table(results: list[dict]) -> None:
    print("\n| run | c | req/s | p50 ms | p90 ms | p99 ms | max ms | CPU-ms/req app | db "
          "| pooler | loadgen | machine | answers |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        lat = r["latency_ms"]
        cpu = r.get("cpu", {})
        groups = cpu.get("groups", {})
        # The field counted is "reason": null for an admitted scan.
        answers = ", ".join(f"{'ok' if k in ('None', 'null') else k}: {v}"
                            for k, v in r["field_values"].items())
        if r.get("pairs"):
            answers += f"; pairs with two ok: {r['pairs']['two_successes']}/{r['pairs']['total']}"
        print(
            f"| {r['label']} | {r['concurrency']} | {r['throughput_rps']:.0f} | {lat['p50']:.1f} "
            f"| {lat['p90']:.1f} | {lat['p99']:.1f} | {lat.get('max', float('nan')):.1f} "
            f"| {groups.get('app', {}).get('ms_per_req', '-')} "
            f"| {groups.get('db', {}).get('ms_per_req', '-')} "
            f"| {groups.get('pooler', {}).get('ms_per_req', '-')} "
            f"| {cpu.get('loadgen_ms_per_req', '-')} | {cpu.get('machine_cpu_ms_per_req', '-')} "
            f"| {answers} |"
        )


if __name__ == "__main__":
    sys.exit(main())
