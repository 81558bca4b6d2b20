"""What print on arrival costs the scan: the admitted scan (``checkin.scanning.scan_code``, the
statement, the commit and the ``scan_admitted`` receivers) without the badges receiver, with it
at a list that prints no badges, with it queueing a badge through the hand-over thread (the
default: badges/jobs/handover.py) and in the request itself (``VARCO_PRINT_QUEUE_INLINE``: the
INSERT … SELECT, its commit, the wake-up), measured in the same run, interleaved in blocks so
that load on the machine falls on every variant alike. Each scan admits a fresh ticket.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/varco_bench \\
    REDIS_URL=redis://127.0.0.1:6379/0 python benchmarks/bench_print_receiver.py [--scans 300]

Prints median, p99 and max per variant in milliseconds (``make bench-print``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_checkin import DEFAULT_DB, ensure_database

BLOCK = 20
VARIANTS = ("no receiver", "receiver, list prints nothing", "receiver, badge handed over",
            "receiver, badge queued inline")


def _figures(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"median {statistics.median(ordered) * 1000:6.2f}  p99 {p99 * 1000:6.2f}  "
            f"max {ordered[-1] * 1000:6.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                                 DEFAULT_DB))
    parser.add_argument("--scans", type=int, default=300, help="scans per variant")
    args = parser.parse_args()
    if args.database_url.startswith("postgres"):
        ensure_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["VARCO_SEND_ON_ISSUE"] = "false"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from badges import services as badge_services
    from badges.jobs import receivers, stations
    from checkin import scanning
    from checkin import services as checkin_services
    from checkin.devices import list_rule
    from checkin.models import ScanLog
    from checkin.signals import scan_admitted
    from tickets import services
    from tickets.models import Organiser, TicketType

    call_command("migrate", "--no-input", verbosity=0)
    slug = f"bench-print-{int(time.time())}"
    organiser = Organiser.objects.filter(slug="bench-print").first() or \
        services.create_organiser("Bench Print", "bench-print")
    now = timezone.now()
    event = services.create_event(
        organiser, name="Bench print", slug=slug, venue="Teatro", address="Via Roma 1",
        start=now - dt.timedelta(hours=1),
        end=now + dt.timedelta(hours=6), languages=["it"], capacity=None)
    kind = TicketType.objects.create(event=event, name="Ingresso")
    plain = checkin_services.create_list(event, "Senza badge")
    printing = checkin_services.create_list(event, "Con badge")
    device, _ = checkin_services.create_device(event, "Porta A", "A", lists=[plain, printing])
    stations.create_station(event, "Stampante A", ["A"])
    stations.set_list_printing(printing, badge_services.create_layout(event, name="Badge"))
    total = args.scans * len(VARIANTS)
    print(f"registering {total} tickets on {connection.vendor} …", flush=True)
    codes = [services.ticket_code(services.register(event, services.Registration(
        f"Persona {i}", f"p{i}@{slug}.example.org", "", "it", ticket_type_id=kind.pk)))
        for i in range(total)]
    rules = {VARIANTS[0]: list_rule(plain), VARIANTS[1]: list_rule(plain),
             VARIANTS[2]: list_rule(printing), VARIANTS[3]: list_rule(printing)}
    samples: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    remaining = iter(codes)
    for start in range(0, args.scans, BLOCK):
        for variant in VARIANTS:
            if variant == VARIANTS[0]:
                scan_admitted.disconnect(dispatch_uid=receivers.SCAN_UID, sender=ScanLog)
            else:
                receivers.connect()
            # the last variant: the statement in the request (VARCO_PRINT_QUEUE_INLINE)
            settings.VARCO_PRINT_QUEUE_INLINE = variant == VARIANTS[3]
            for _ in range(min(BLOCK, args.scans - start)):
                scan = scanning.ScanInput(rule=rules[variant], device_id=device.pk)
                began = time.perf_counter()
                answer = scanning.scan_code(next(remaining), scan)
                samples[variant].append(time.perf_counter() - began)
                assert answer.status == "ok", answer
    receivers.connect()
    from badges.jobs import handover
    from badges.models import PrintJob

    handover.drain(60)

    queued = PrintJob.objects.filter(event=event).count()
    print(f"{args.scans} admitted scans per variant ({connection.vendor}, "
          f"Redis {'on' if os.environ.get('REDIS_URL') else 'off'}); badges queued: {queued}")
    for variant in VARIANTS:
        print(f"  {variant:32s} {_figures(samples[variant])} ms")
    return 0 if queued == 2 * args.scans else 1


if __name__ == "__main__":
    raise SystemExit(main())
