"""``python manage.py print_badges --event SLUG --out FILE``: an event's badges as one PDF.

The same selection and order as ``GET /api/v1/events/{id}/badges.pdf`` (``badges.printing``),
with a progress bar (tqdm) on standard error when it is a terminal.
"""

from __future__ import annotations

import time

from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    no_translations,
)
from tqdm import tqdm

from badges import printing, selectors
from core.errors import ServiceError
from tickets.models import Event


class Command(BaseCommand):
    help = "Print an event's badges (or a filter of them) into one PDF file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--event", required=True, help="the event's slug")
        parser.add_argument("--out", required=True, help="the PDF file to write")
        parser.add_argument("--layout", help="a badge layout id of the event")
        parser.add_argument("--sort", default="name", choices=selectors.SORTS)
        parser.add_argument("--ticket-type", action="append", default=[], dest="ticket_type",
                            help="a ticket type id (repeat for several)")
        parser.add_argument("--organisation", help="only this organisation (any case)")
        parser.add_argument("--checked-in", choices=["yes", "no"], dest="checked_in",
                            help="only attendees who entered (yes) or did not yet (no)")

    # The operator's terminal speaks the command's own language (English): the services'
    # messages, translated for the console and the API, are shown here as written.
    @no_translations
    def handle(self, *args, **options) -> None:
        event = Event.objects.filter(slug=options["event"]).first()
        if event is None:
            raise CommandError(f"No event with the slug {options['event']!r}.")
        params = {"sort": [options["sort"]], "ticket_type": options["ticket_type"]}
        for name in ("layout", "organisation", "checked_in"):
            if options[name] is not None:
                params[name] = [options[name]]
        try:
            bulk = printing.bulk_request(event, params)
        except ServiceError as exc:
            raise CommandError(f"--{exc.field.replace('_', '-')}: {exc.message}") from None
        ids = printing.ticket_ids(event, bulk)
        started = time.monotonic()
        # tqdm like import_attendees: a bar on a terminal's standard error, silent otherwise
        # (disable=None) and with --verbosity 0.
        bar = tqdm(total=len(ids), desc="badges", unit="badge",
                   disable=None if options["verbosity"] > 0 else True)

        def progress(done: int) -> None:
            bar.update(done - bar.n)

        try:
            with open(options["out"], "wb") as out:
                count = printing.write_pdf(event, bulk, out, ids, progress)
        except OSError as exc:
            raise CommandError(f"--out: {exc.strerror}: {options['out']}") from None
        finally:
            bar.close()
        if options["verbosity"] > 0:
            elapsed = time.monotonic() - started
            self.stdout.write(f"{count} badges ({bulk.layout.preset}) written to "
                              f"{options['out']} in {elapsed:.1f} s")
