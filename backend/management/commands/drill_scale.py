"""``python manage.py drill_scale``: the multi-host drill (``make drill-scale``).

Starts its own stack on loopback — HAProxy, three gunicorn hosts, two workers and a
scheduler, PgBouncer, a PostgreSQL primary with a synchronous standby, Redis, an SMTP sink —
from the reference deployment's files (``deploy/``), never touching the machine's own
PostgreSQL or Redis; breaks one thing at a time under a scan wave, prints each step and the
counts it checked, and exits non-zero on any mismatch. See docs/scaling.md.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

# Debian packages the drill runs (make scale-packages installs them).
NEEDED = ("haproxy", "pgbouncer", "redis-server", "runuser")


class Command(BaseCommand):
    help = "Run Varco as several hosts on loopback, break one thing at a time, count."
    requires_system_checks = []  # the stack it starts runs its own checks

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--attendees", type=int, default=4000,
                            help="tickets of the scanned event, all e-mailed too (default 4000)")
        parser.add_argument("--devices", type=int, default=20,
                            help="simulated door devices (default 20)")
        parser.add_argument("--rate", type=float, default=60.0,
                            help="scans per second, all devices together (default 60)")
        parser.add_argument("--registrations", type=int, default=400,
                            help="tickets sold and e-mailed during the worker step")
        parser.add_argument("--web-workers", type=int, default=2,
                            help="gunicorn processes per web host (default 2)")
        parser.add_argument("--settle", type=float, default=8.0,
                            help="seconds of scan wave between two steps (default 8)")
        parser.add_argument("--var-dir", default="var/scale-drill",
                            help="each run's logs (a directory per run)")
        parser.add_argument("--keep", action="store_true",
                            help="keep the clusters' directory after a successful run")
        parser.add_argument("--json-out", metavar="FILE", help="write the figures as JSON")

    def handle(self, *args, **o) -> None:
        if not (100 <= o["attendees"] <= 200_000 and 2 <= o["devices"] <= 200
                and 1 <= o["rate"] <= 2000 and 10 <= o["registrations"] <= 20_000
                and 1 <= o["web_workers"] <= 8 and 1 <= o["settle"] <= 120):
            raise CommandError("--attendees 100-200000, --devices 2-200, --rate 1-2000, "
                               "--registrations 10-20000, --web-workers 1-8, --settle 1-120")
        missing = [name for name in NEEDED if shutil.which(name) is None]
        if missing:
            raise CommandError(f"not installed: {', '.join(missing)} (make scale-packages)")
        # The drill needs development packages (aiosmtpd) and starts processes: imported only
        # when the command runs.
        from backend.scaledrill.drill import Drill, Options

        options = Options(
            attendees=o["attendees"], devices=o["devices"], rate=o["rate"],
            registrations=o["registrations"], web_workers=o["web_workers"],
            settle=o["settle"], var_dir=Path(o["var_dir"]), keep=o["keep"],
            json_out=Path(o["json_out"]) if o["json_out"] else None)
        self.stdout.write(f"The scale drill: {options.devices} devices at {options.rate:g} "
                          f"scans/s, {options.attendees} tickets, {options.registrations} "
                          "registrations")
        def say(text: str) -> None:  # each step as it happens, also into a file or a pipe
            self.stdout.write(text)
            self.stdout.flush()

        result = Drill(options, say=say).run()
        self.stdout.write(json.dumps(result, indent=2))
        if result["mismatches"]:
            raise CommandError(f"{len(result['mismatches'])} mismatches: "
                               + "; ".join(result["mismatches"]))
        self.stdout.write(self.style.SUCCESS("The drill holds: nothing acknowledged was lost "
                                             "or doubled."))
