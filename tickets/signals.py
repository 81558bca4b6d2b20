"""The ticket app's declared signals: the extension points other rooms connect to.

Each is sent once the transaction that made the change commits (never inside it: a receiver
that e-mails, prints a badge or calls a webhook must not act on a change that rolls back).
Receivers are connected in an ``AppConfig.ready()`` and live in their own modules
(``tickets.receivers``, ``tickets.delivery.receivers``, ``checkin.demo``).

``ticket_issued(sender=Ticket, ticket, reissued)``
    A ticket was issued (registration, import, admin, API) or reissued (a new code for the
    same ticket: the old code is refused). A reissue is not a revocation: the ticket stays
    valid, so it is one ``ticket_issued`` with ``reissued=True``, not ``ticket_revoked``.
``ticket_revoked(sender=Ticket, ticket)``
    A valid ticket was revoked (its code stops working, its place is freed), also when its
    attendee is deleted (the ticket may then be gone from the database).
``demo_event_seeded(sender=Event, event, export_dir)``
    ``seed_demo`` made or refreshed the demo event; each receiver adds its own demo data and
    returns lines to print (``export_dir``: where ``--export`` writes files, or None).

A receiver that raises is logged (by ``Signal.send_robust``, logger ``django.dispatch``) and
stops neither the others nor the request that made the change (committed by then).
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

from tickets.models import Event, Ticket

ticket_issued = Signal()
ticket_revoked = Signal()
demo_event_seeded = Signal()


def send_on_commit(signal: Signal, ticket: Ticket, **kwargs) -> None:
    """Send ``signal`` for ``ticket`` once the current transaction commits."""
    transaction.on_commit(lambda: signal.send_robust(sender=Ticket, ticket=ticket, **kwargs))


def seed_demo(event: Event, export_dir: str | None) -> list[str]:
    """Send ``demo_event_seeded``; the lines its receivers return, in order."""
    lines: list[str] = []
    for _receiver, returned in demo_event_seeded.send(
        sender=Event, event=event, export_dir=export_dir
    ):
        lines.extend(returned or [])
    return lines
