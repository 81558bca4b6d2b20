"""Create the demo event, its organiser login and (optionally) attendees. Idempotent."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from tickets import demo, onboarding, signals

DEMO_USERNAME = "organiser"
DEMO_PASSWORD = "welfare-2017"  # demo only; real organisers are made with create_organiser


def _exported_token(export: str | None, user) -> str | None:
    if not export:
        return None
    try:
        token = json.loads((Path(export) / "organiser.json").read_text()).get("api_token")
    except (OSError, ValueError, AttributeError):
        return None
    return token if onboarding.token_is_users(user, token) else None


class Command(BaseCommand):
    help = "Seed the demo conference (idempotent). --attendees N adds N realistic attendees."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--attendees", type=int, default=0, help="number of demo attendees")
        parser.add_argument("--export", metavar="DIR", help="write organiser.json (and more) here")
        parser.add_argument("--password", default=DEMO_PASSWORD, help="demo organiser password")

    def handle(self, *args, attendees: int, export: str | None, password: str, **options) -> None:
        if attendees < 0:
            raise CommandError("--attendees must be 0 or more")
        organiser, event, _ = demo.seed_event()
        user, _, token = onboarding.create_staff_user(
            organiser, DEMO_USERNAME, "organiser@example.org", password
        )
        if token is None:
            # The database keeps only the token's hash: reuse the one an earlier export wrote
            # while it is still the user's (scripts and `make run` restarts keep working), else
            # make a new one.
            token = _exported_token(export, user) or onboarding.issue_api_token(user)
        created = 0
        if attendees:
            bar = tqdm(total=attendees, desc="attendees", unit="att", disable=None)

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            created = demo.seed_attendees(event, attendees, progress)
            bar.close()
        extra = signals.seed_demo(event, export)
        self.stdout.write(
            self.style.SUCCESS(f"Demo event {event.name!r} (slug {event.slug}, id {event.pk}).")
        )
        self.stdout.write(f"  attendees: {event.attendees.count()} ({created} new)")
        self.stdout.write(
            f"  organiser login: {settings.SITE_URL}/admin/  user {DEMO_USERNAME!r} "
            f"password {password!r}"
        )
        self.stdout.write(f"  API token: {token}")
        for line in extra:
            self.stdout.write(f"  {line}")
        if export:
            path = onboarding.write_json(
                Path(export) / "organiser.json",
                {
                    "username": DEMO_USERNAME,
                    "password": password,
                    "api_token": token,
                    "event_id": event.pk,
                    "event_slug": event.slug,
                },
            )
            self.stdout.write(f"  wrote {path}")
