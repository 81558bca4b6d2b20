"""Import an attendee CSV into an event, with a progress bar and a per-line error report."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    no_translations,
)
from tqdm import tqdm

from tickets import attendee_csv
from tickets.models import Event


class Command(BaseCommand):
    help = "import_attendees --event SLUG FILE.csv [--partial] [--skip-existing]"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--event", required=True, help="event slug")
        parser.add_argument("--partial", action="store_true", help="import good rows anyway")
        parser.add_argument("--skip-existing", action="store_true")

    # The operator's terminal speaks the command's own language (English): the services'
    # messages, translated for the console and the API, are shown here as written.
    @no_translations
    def handle(self, *args, file: str, event: str, partial: bool, skip_existing: bool,
               **options) -> None:
        try:
            ev = Event.objects.get(slug=event)
        except Event.DoesNotExist:
            raise CommandError(f"no event with slug {event!r}") from None
        try:
            data = Path(file).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        bar = tqdm(desc="importing", unit="row", disable=None)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        try:
            result = attendee_csv.import_attendees(
                ev, data, partial=partial, skip_existing=skip_existing, progress=progress
            )
        except attendee_csv.CSVFormatError as exc:
            raise CommandError(str(exc)) from None
        finally:
            bar.close()
        for error in result.errors:
            self.stderr.write(f"line {error.line}: {error.field}: {error.message}")
        if not result.committed:
            raise CommandError(f"{len(result.errors)} bad row(s): nothing imported")
        self.stdout.write(
            self.style.SUCCESS(f"{result.created} imported, {result.skipped} skipped, "
                               f"{len(result.errors)} bad row(s)")
        )
