"""``python manage.py simulate_day``: the convegno day drill (``make event-day``).

Starts its own stack (gunicorn, ``python -m worker``, an SMTP relay) on loopback against the
database and Redis of this environment (``DATABASE_URL``/``REDIS_URL``, else the embedded
mode), plays a compressed day through the public interfaces, prints the reconciliation and
exits non-zero on any mismatch. ``--attendees`` and ``--json-out`` are contracts (scripts
call them). See docs/event-day.md.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Simulate the convegno day end to end on loopback and reconcile every number."
    requires_system_checks = []  # the stack it starts runs its own checks

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--attendees", type=int, default=600,
                            help="people in the registration rush (default 600)")
        parser.add_argument("--invited", type=int, default=100,
                            help="invited guests imported by CSV (default 100)")
        parser.add_argument("--capacity", type=int, default=None,
                            help="places of the public ticket type (default 11/12 of "
                                 "--attendees: fewer places than buyers)")
        parser.add_argument("--gates", type=int, default=3)
        parser.add_argument("--seconds-per-hour", type=float, default=24.0,
                            help="real seconds per simulated hour at the doors (default 24)")
        parser.add_argument("--offline-minutes", type=float, default=10.0,
                            help="simulated minutes the last gate is without network")
        parser.add_argument("--smtp-outage", type=float, default=60.0,
                            help="real seconds the SMTP relay is down mid-delivery")
        parser.add_argument("--smtp-per-connection", type=int, default=20,
                            help="the relay's limit of messages per connection")
        parser.add_argument("--concurrency", type=int, default=32,
                            help="concurrent clients in the registration rush")
        parser.add_argument("--seed", type=int, default=2017)
        parser.add_argument("--var-dir", default="var/event-day",
                            help="logs, the test CA and the embedded database of each run")
        parser.add_argument("--json-out", metavar="FILE", help="write the reconciliation")
        parser.add_argument("--html-out", metavar="FILE",
                            help="write the report with the arrivals curve")

    def handle(self, *args, **o) -> None:
        if not 10 <= o["attendees"] <= 100_000 or not 1 <= o["gates"] <= 26 \
                or o["seconds_per_hour"] <= 0 or o["invited"] < 0 or o["smtp_outage"] < 0 \
                or not 0 <= o["offline_minutes"] <= 60 or o["concurrency"] < 1:
            raise CommandError(
                "--attendees 10-100000, --gates 1-26 (gates A-Z), --seconds-per-hour > 0, "
                "--invited >= 0, --smtp-outage >= 0, --offline-minutes 0-60, --concurrency >= 1")
        # The drill needs development packages (aiosmtpd, pypdfium2, zxing-cpp), absent from
        # a production install: imported here, only when the command runs.
        from backend.eventday.day import Day, Options

        options = Options(
            attendees=o["attendees"], invited=o["invited"], capacity=o["capacity"],
            gates=o["gates"], seconds_per_hour=o["seconds_per_hour"],
            offline_minutes=o["offline_minutes"], smtp_outage=o["smtp_outage"],
            smtp_per_connection=o["smtp_per_connection"], concurrency=o["concurrency"],
            seed=o["seed"], var_dir=Path(o["var_dir"]),
            json_out=Path(o["json_out"]) if o["json_out"] else None,
            html_out=Path(o["html_out"]) if o["html_out"] else None,
        )
        self.stdout.write(f"The convegno day: {options.attendees} in the rush, "
                          f"{options.invited} invited, {options.gates} gates, "
                          f"{options.seconds_per_hour:g} s per simulated hour")
        result = Day(options, say=self.stdout.write).run()
        shown = {k: v for k, v in result.items() if k != "answers_by_plan"}
        self.stdout.write(json.dumps(shown, indent=2, ensure_ascii=False))
        if result["mismatches"]:
            raise CommandError(f"{len(result['mismatches'])} mismatches: the day does not "
                               "reconcile")
        self.stdout.write(self.style.SUCCESS("The day reconciles."))
