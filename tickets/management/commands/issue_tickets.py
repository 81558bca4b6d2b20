"""``python manage.py issue_tickets --event SLUG``: e-mail every ticket not sent yet.

Queues a delivery for each valid ticket whose current version was never sent (including
those whose earlier delivery failed), then follows the workers' progress in the database with
a progress bar until every one is sent or has failed. Exits with status 1 and a list of the
failures (with the SMTP answers) if any failed, or if ``--timeout`` runs out first.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from tickets.delivery import queue
from tickets.models import Delivery, Event
from tickets.selectors import delivery_progress

State = Delivery.State
FINAL = (State.SENT, State.FAILED, State.CANCELLED)
STALL_HINT_SECONDS = 60


class Command(BaseCommand):
    help = "Queue every unsent ticket of an event for e-mail and wait until workers sent them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--event", required=True, help="slug of the event")
        parser.add_argument("--no-wait", action="store_true",
                            help="queue and return without waiting for the workers")
        parser.add_argument("--timeout", type=float, default=None,
                            help="give up waiting after this many seconds (default: never)")
        parser.add_argument("--poll", type=float, default=0.5, help="seconds between checks")

    def handle(self, *args, event: str, no_wait: bool, timeout: float | None, poll: float,
               **options) -> None:
        found = Event.objects.filter(slug=event).first()
        if found is None:
            raise CommandError(f"No event with slug {event!r}.")
        ids = queue.queue_unsent(found)
        if not ids:
            self.stdout.write(f"Every ticket of {found.name} has been sent already.")
            return
        self.stdout.write(f"{len(ids)} ticket(s) of {found.name} queued for e-mail.")
        if no_wait:
            return
        counts = self._follow(ids, timeout, poll)
        summary = ", ".join(f"{counts[s]} {s}" for s in State.values if counts[s])
        self.stdout.write(f"Done: {summary}.")
        unfinished = len(ids) - sum(counts[s] for s in FINAL)
        if counts[State.FAILED] or unfinished:
            failed = Delivery.objects.filter(pk__in=ids, state=State.FAILED).order_by("pk")
            for row in failed[:20]:
                self.stderr.write(f"  failed: {row.recipient}: {row.last_error}")
            if counts[State.FAILED] > 20:
                self.stderr.write(f"  ... and {counts[State.FAILED] - 20} more (see the admin)")
            reason = (f"{unfinished} still waiting when the timeout ran out"
                      if unfinished else f"{counts[State.FAILED]} failed")
            raise CommandError(f"Not every ticket was sent: {reason}.")

    def _follow(self, ids: list[int], timeout: float | None, poll: float) -> dict[str, int]:
        started = last_change = time.monotonic()
        done_before = -1
        hinted = False
        with tqdm(total=len(ids), unit="ticket", desc="e-mailing", file=self.stderr,
                  dynamic_ncols=True) as bar:
            while True:
                counts = delivery_progress(ids)
                done = sum(counts[s] for s in FINAL)
                bar.update(done - bar.n)
                bar.set_postfix(sent=counts[State.SENT], failed=counts[State.FAILED],
                                waiting=counts[State.QUEUED] + counts[State.IN_DOUBT],
                                refresh=False)
                now = time.monotonic()
                if done != done_before:
                    done_before, last_change, hinted = done, now, False
                if done >= len(ids):
                    return counts
                if timeout is not None and now - started > timeout:
                    return counts
                if not hinted and now - last_change > STALL_HINT_SECONDS:
                    bar.write("No progress for a minute: is a worker running "
                              "(python -m worker)? Retries of refused messages wait too.")
                    hinted = True
                time.sleep(poll)
