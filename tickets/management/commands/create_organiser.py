"""Onboard an organiser team: the team, its first staff user and an API token."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    no_translations,
)
from django.core.validators import validate_email

from core.errors import ServiceError
from tickets import onboarding


class Command(BaseCommand):
    help = 'create_organiser "Team name" --user USERNAME --email EMAIL [--export FILE]'

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--user", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", help="default: a random one, printed once")
        parser.add_argument("--export", metavar="FILE", help="write the credentials as JSON")
        parser.add_argument("--new-token", action="store_true",
                            help="replace an existing user's API token (printed once)")

    # The operator's terminal speaks the command's own language (English): the services'
    # messages, translated for the console and the API, are shown here as written.
    @no_translations
    def handle(self, *args, name: str, user: str, email: str, password: str | None,
               export: str | None, new_token: bool = False, **options) -> None:
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"--email {email!r} is not a valid e-mail address") from None
        if not name.strip():
            raise CommandError("the team name is empty")
        try:  # the team name follows the text rule of every write path (services)
            organiser, staff, new_password, token = onboarding.create_organiser_with_user(
                name.strip(), user, email, password
            )
        except ServiceError as exc:
            raise CommandError(f"the team name: {exc.message}") from None
        self.stdout.write(self.style.SUCCESS(f"Organiser {organiser.name!r} (id {organiser.pk})"))
        self.stdout.write(f"  login: {settings.SITE_URL}/admin/  user {staff.username!r}")
        if new_password:
            self.stdout.write(f"  password: {new_password}")
        else:
            self.stdout.write("  password: unchanged (the user already existed)")
        if token is None and new_token:
            token = onboarding.issue_api_token(staff)
        if token:
            self.stdout.write(f"  API token: {token}")
        else:
            # Only its hash is stored, so it cannot be shown again.
            self.stdout.write("  API token: unchanged (shown once when it was made; "
                              "--new-token replaces it)")
        if export:
            # The same fields as seed_demo's organiser.json, without the event ones; the
            # password is null when the user already existed (it is never changed here), the
            # token when the user already had one (unless --new-token).
            path = onboarding.write_json(
                export,
                {"username": staff.username, "password": new_password, "api_token": token},
            )
            self.stdout.write(f"  wrote {path}")
