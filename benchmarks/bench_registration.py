"""Registration benchmark (``make bench-registration``): the public registration rush.

Starts gunicorn with ``gunicorn.conf.py`` (the production worker, backend/gunicorn_worker.py) on
PostgreSQL, with Redis as the Celery broker (the e-mail of every registration is queued as in
production: the delivery row, then the task published after commit; no worker consumes them
here), rate limits off, and drives ``POST /api/v1/public/events/{slug}/register/`` with
benchmarks/scanload.py: a new e-mail address per request, every run against its own event
with one ticket type of fewer places than requests, so the last requests of each run race
for the last places and are refused "sold_out".

Runs: the floor (``/api/v1/checkin/ping/``, constant JSON from a plain Django view under the
same server), registrations at concurrency 8, 32 and 64, then c=32 and the floor again (the
machine's other load drifts). Prints registrations/s, p50/p90/p99/max latency, requests over
1 s, CPU-ms per registration (app = gunicorn, db = PostgreSQL backends of the bench database,
loadgen = scanload), and checks each run in the database: places sold = min(capacity,
successful answers), every ticket has its attendee and its one queued delivery, no ticket
beyond the capacity. Exit status 1 on any mismatch.

Not a test: it prints figures for docs/benchmarks.md. Outside CI.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

# The same subprocess, database and readiness helpers as the check-in bench (run as a script,
# this folder is on sys.path).
from bench_checkin import ensure_database, run, wait_for

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/varco_bench_registration"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"
DEFAULT_SCANLOAD = ROOT / "benchmarks" / "scanload.py"
# Places left unsold by design: the last requests of a run find the ticket type sold out.
OVERFLOW = 0.05

# (label, mode, concurrency, requests, warmup)
RUNS = [
    ("floor (constant JSON view)", "floor", 32, 4000, 300),
    ("registrations", "register", 8, 1500, 100),
    ("registrations", "register", 32, 2000, 200),
    ("registrations", "register", 64, 2000, 200),
    ("registrations (again)", "register", 32, 2000, 200),
    ("floor (again)", "floor", 32, 4000, 300),
]

# Run in a subprocess with the server's settings: the bench's own process stays free of Django.
_SETUP = """
import datetime as dt, json, sys, django
django.setup()
from django.utils import timezone
from tickets import services
from tickets.models import TicketType
slug, capacity = sys.argv[1], int(sys.argv[2])
organiser = services.create_organiser("Bench", slug="bench")
start = timezone.now() + dt.timedelta(days=30)
event = services.create_event(organiser, name="Ma come gira questo Welfare", slug=slug,
                              venue="Teatro Elfo Puccini", start=start,
                              end=start + dt.timedelta(hours=8))
TicketType.objects.create(event=event, name="Ingresso", capacity=capacity)
print(event.pk)
"""

_CHECK = """
import json, sys, django
django.setup()
from django.db.models import Count
from tickets.models import Attendee, Delivery, Event, Ticket
event = Event.objects.get(slug=sys.argv[1])
tt = event.ticket_types.get()
tickets = Ticket.objects.filter(event=event)
print(json.dumps({
    "capacity": tt.capacity,
    "sold": tt.issued_count,
    "event_issued": event.issued_count,
    "tickets": tickets.count(),
    "attendees": Attendee.objects.filter(event=event).count(),
    "attendees_without_ticket": Attendee.objects.filter(event=event, tickets__isnull=True).count(),
    "max_serial": event.last_serial,
    "distinct_serials": tickets.values("serial").distinct().count(),
    "deliveries": Delivery.objects.filter(ticket__event=event).count(),
    "tickets_without_one_delivery": tickets.annotate(n=Count("deliveries")).exclude(n=1).count(),
}))
"""


def _django(env: dict, code: str, *args: str) -> str:
    out = run([sys.executable, "-c", code, *args], env, capture_output=True, text=True)
    return out.stdout.strip()


def _flush_redis(url: str) -> None:
    """Empty the broker database (queued tasks nobody consumes here): the bench's own db."""
    import redis

    redis.Redis.from_url(url).flushdb()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                                 DEFAULT_DB))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 8211)))
    parser.add_argument("--scanload", default=os.environ.get("SCANLOAD", str(DEFAULT_SCANLOAD)))
    parser.add_argument("--out", default=str(ROOT / "var" / "bench-registration"))
    parser.add_argument("--quick", action="store_true", help="a fifth of the requests")
    args = parser.parse_args(argv)

    if not args.database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("the benchmark runs on PostgreSQL (BENCH_DATABASE_URL=postgres://...)")
    if not args.redis_url.startswith("redis://"):
        raise SystemExit("the benchmark needs Redis as the broker (BENCH_REDIS_URL=redis://...)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{args.port}"
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "SITE_URL": base,
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "backend.settings",
        "PYTHONPATH": str(ROOT),
        # The rush comes from one address: the per-address limit would answer 429 after 30.
        "VARCO_REGISTRATION_RATE": "off",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        # Connections live through the run: a database backend that exits during a phase
        # takes its CPU time with it (to the postmaster), and the db figure would read low.
        "DB_CONN_MAX_AGE": "3600",
    }

    print(f"== preparing {args.database_url} (broker {args.redis_url})", flush=True)
    ensure_database(args.database_url)
    run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], env)
    _flush_redis(args.redis_url)
    stamp = time.strftime("%Y%m%d%H%M%S")
    plan = []
    for index, (label, mode, concurrency, requests, warmup) in enumerate(RUNS):
        if args.quick:
            requests, warmup = max(100, requests // 5), warmup // 5
        slug = capacity = None
        if mode == "register":
            slug = f"rush-{stamp}-{index}"
            capacity = warmup + round(requests * (1 - OVERFLOW))
            _django(env, _SETUP, slug, str(capacity))
        plan.append((label, mode, concurrency, requests, warmup, slug, capacity))
    _django(env, "import django; django.setup(); from django.db import connection; "
                 "connection.cursor().execute('VACUUM ANALYZE')")

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
    results = []
    try:
        wait_for(f"{base}/api/v1/checkin/ping/")
        for index, (label, mode, concurrency, requests, warmup, slug, capacity) in enumerate(plan):
            json_out = out / f"{index}-{mode}-c{concurrency}.json"
            cmd = [sys.executable, args.scanload, "--quiet", "--mode", "invalid",
                   "--concurrency", str(concurrency), "--requests", str(requests),
                   "--warmup", str(warmup), *cpu_groups, "--json-out", str(json_out),
                   "--label", label]
            if mode == "floor":
                cmd += ["--url", f"{base}/api/v1/checkin/ping/", "--body", '{"code": "{secret}"}']
            else:
                # A new address per request ({uuid}); the refusals' "error" code is counted.
                body = {"name": "Persona {i}", "email": "p-{uuid}@example.org",
                        "organisation": "Bench"}
                cmd += ["--url", f"{base}/api/v1/public/events/{slug}/register/",
                        "--body", json.dumps(body), "--field", "error",
                        "--success-status", "201"]
            print(f"-- {label}: c={concurrency}" + (f", capacity {capacity}" if capacity else ""),
                  flush=True)
            run(cmd, env)
            result = json.loads(json_out.read_text())
            result["bench_mode"] = mode
            if mode == "register":
                result["db"] = json.loads(_django(env, _CHECK, slug))
                # Successful answers, warm-up included (the warm-up takes places too).
                result["db"]["capacity_run"] = capacity
            results.append(result)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    _flush_redis(args.redis_url)

    print(f"\nload average after: {os.getloadavg()[0]:.2f} (other processes on the machine "
          "share the 2 cores; 'machine' CPU-ms/req counts them too)")
    _print_table(results)
    (out / "summary.json").write_text(json.dumps(results, indent=2))
    ok = _print_checks(results)
    _print_verdict(results)
    return 0 if ok else 1


def _registered(result: dict) -> int:
    return result["http_status"].get("201", 0)


def _print_table(results: list[dict]) -> None:
    print("\n| run | c | req/s | registrations/s | p50 ms | p90 ms | p99 ms | max ms | over 1 s "
          "| CPU-ms/req app | db | loadgen | machine | answers |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        lat = r["latency_ms"]
        cpu = r.get("cpu", {})
        groups = cpu.get("groups", {})
        registered = (f"{_registered(r) / r['wall_s']:.0f}" if r["bench_mode"] == "register"
                      else "-")
        answers = ", ".join(
            f"{'201' if k in ('<missing>', 'None', 'null') else k}: {v}"
            for k, v in r["field_values"].items()
        ) if r["bench_mode"] == "register" else ", ".join(
            f"{k}: {v}" for k, v in r["http_status"].items())
        print(
            f"| {r['label']} | {r['concurrency']} | {r['throughput_rps']:.0f} | {registered} "
            f"| {lat['p50']:.1f} | {lat['p90']:.1f} | {lat['p99']:.1f} | {lat['max']:.1f} "
            f"| {lat['over_1s']} | {groups.get('app', {}).get('ms_per_req', '-')} "
            f"| {groups.get('db', {}).get('ms_per_req', '-')} "
            f"| {cpu.get('loadgen_ms_per_req', '-')} | {cpu.get('machine_cpu_ms_per_req', '-')} "
            f"| {answers} |"
        )


def _print_checks(results: list[dict]) -> bool:
    """Each run against the database: exactly min(capacity, successful) places sold."""
    print("\nchecked in the database after each run:")
    all_ok = True
    for r in results:
        if r["bench_mode"] != "register":
            continue
        db = r["db"]
        # scanload's figures leave the warm-up out; the database counts it: warm-up requests
        # all succeed (the capacity leaves room for them and 95% of the measured ones).
        successful = _registered(r) + r["warmup"]
        # A 201 has no "error" field; a refusal here may only be sold_out (a 400).
        other = {k: v for k, v in r["field_values"].items() if k not in ("<missing>", "sold_out")}
        expected = min(db["capacity"], successful)
        problems = []
        if db["sold"] != expected or db["tickets"] != expected or db["event_issued"] != expected:
            problems.append(f"sold {db['sold']} / tickets {db['tickets']} / event "
                            f"{db['event_issued']}, expected {expected}")
        if db["tickets"] > db["capacity"]:
            problems.append(f"OVERSOLD by {db['tickets'] - db['capacity']}")
        if db["attendees"] != db["tickets"] or db["attendees_without_ticket"]:
            problems.append(f"{db['attendees']} attendees for {db['tickets']} tickets")
        if db["distinct_serials"] != db["tickets"] or db["max_serial"] != db["tickets"]:
            problems.append(f"serials: {db['distinct_serials']} distinct, last {db['max_serial']}")
        if db["deliveries"] != db["tickets"] or db["tickets_without_one_delivery"]:
            problems.append(f"{db['deliveries']} deliveries for {db['tickets']} tickets")
        if other or r["errors"]:
            problems.append(f"unexpected answers {other}, {r['errors']} transport errors")
        all_ok &= not problems
        print(f"  {r['label']} c={r['concurrency']}: capacity {db['capacity']}, successful "
              f"{successful} (warm-up included), sold {db['sold']}, tickets {db['tickets']}, "
              f"deliveries queued {db['deliveries']}: "
              + ("OK, 0 oversold" if not problems else "MISMATCH: " + "; ".join(problems)))
    return all_ok


def _print_verdict(results: list[dict]) -> None:
    floor = max(r["throughput_rps"] for r in results if r["bench_mode"] == "floor")
    print()
    for r in results:
        if r["bench_mode"] != "register":
            continue
        rate = _registered(r) / r["wall_s"]
        groups = r.get("cpu", {}).get("groups", {})
        per = (groups.get("app", {}).get("ms_per_req", 0)
               + groups.get("db", {}).get("ms_per_req", 0))
        lat = r["latency_ms"]
        print(f"c={r['concurrency']:<3d} {rate:6.0f} registrations/s = {100 * rate / floor:4.1f}% "
              f"of the floor ({floor:.0f}/s); p50 {lat['p50']:.0f} p99 {lat['p99']:.0f} max "
              f"{lat['max']:.0f} ms, {lat['over_1s']} over 1 s; CPU-ms per request web + "
              f"database {per:.2f} -> {2000 / per if per else 0:.0f}/s on 2 idle cores")
    print("target: >= 300 registrations/s on 2 cores with p99 <= 100 ms at c=32, "
          "exactly the capacity sold")


if __name__ == "__main__":
    sys.exit(main())
