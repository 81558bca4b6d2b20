"""Queueing deliveries in the database and publishing their tasks (rule 1 of the package).

Tasks are published by name (``SEND_TASK``): this module never imports ``tasks``, which
imports it, so the queue and its consumer do not form an import cycle.
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Iterable
from email.utils import make_msgid
from functools import cache

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from core import statements
from core.errors import ServiceError
from tickets.delivery.publisher import BatchPublisher
from tickets.models import Delivery, Event, Ticket
from tickets.selectors import valid_ticket_for_email
from tickets.services import trail

log = logging.getLogger(__name__)

State = Delivery.State
OPEN = list(Delivery.OPEN_STATES)
CLAIMABLE = [State.QUEUED, State.IN_DOUBT]
# The Celery task that sends a batch (``tasks.send_deliveries``), routed to its queue by name.
SEND_TASK = "tickets.send_deliveries"


def _message_id() -> str:
    domain = getattr(settings, "VARCO_MESSAGE_ID_DOMAIN", "") or (
        settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "varco.invalid"
    )
    return make_msgid(idstring="varco-ticket", domain=domain)


def new_delivery(ticket: Ticket, reason: str) -> Delivery:
    return Delivery(
        ticket=ticket,
        version=ticket.version,
        reason=reason,
        recipient=ticket.attendee.email,
        message_id=_message_id(),
    )


def queue_tickets(tickets: Iterable[Ticket], reason: str = Delivery.Reason.ISSUED) -> list[int]:
    """Queue a delivery for each ticket's current version; publish after commit.

    Idempotent: a ticket version that already has an open delivery (or, for ``issued``, any
    automatic one) keeps it. Returns the ids of the open deliveries of these tickets.
    """
    tickets = [t for t in tickets if t.status == Ticket.Status.VALID]
    if not tickets:
        return []
    if len(tickets) == 1 and not transaction.get_connection().in_atomic_block:
        # The common case, a registration's e-mail queued once its ticket is committed: one
        # INSERT in autocommit mode, no transaction around it, then the publish, batched with
        # the process's other registrations of the moment (``publisher``). An
        # IntegrityError is a delivery already open or already made for this version (the
        # unique constraints): the general path below then finds it.
        try:
            delivery = new_delivery(tickets[0], reason)
            _insert(delivery)
        except IntegrityError:
            pass
        else:
            publish_soon([delivery.pk])
            return [delivery.pk]
    with transaction.atomic():
        Delivery.objects.bulk_create(
            [new_delivery(t, reason) for t in tickets], ignore_conflicts=True, batch_size=500
        )
        versions = {t.pk: t.version for t in tickets}
        rows = Delivery.objects.filter(ticket_id__in=list(versions), state__in=OPEN)
        ids = sorted(
            pk for pk, ticket_id, version in rows.values_list("pk", "ticket_id", "version")
            if versions[ticket_id] == version
        )
    transaction.on_commit(lambda: publish(ids))
    return ids


@cache
def _insert_statement() -> tuple[str, list]:
    """The INSERT of one delivery row and the fields it takes, made once per process. Why not
    ``save()``: the ORM compiles its INSERT anew each time, 0.5 ms of the web process's CPU,
    a tenth of a registration's (docs/benchmarks.md, "Registration")."""
    quote = connection.ops.quote_name
    meta = Delivery._meta
    fields = [f for f in meta.local_concrete_fields if not f.primary_key]
    sql = (f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {quote(meta.pk.column)}")
    return sql, fields


def _insert(delivery: Delivery) -> None:
    """``delivery.save(force_insert=True)``, cheaper: same values (each field's ``pre_save`` and
    database preparation, as the ORM's), same IntegrityError on a unique constraint."""
    if not connection.features.can_return_columns_from_insert:  # SQLite before 3.35
        delivery.save(force_insert=True)
        return
    sql, fields = _insert_statement()
    # (prepared once per connection)
    delivery.pk = statements.fetch_one(sql, statements.field_values(delivery, fields))[0]
    delivery._state.adding, delivery._state.db = False, connection.alias


def resend(ticket: Ticket) -> Delivery:
    """Send the ticket's current version again (organiser's request).

    A delivery already open for this version is returned instead of a second one, so a double
    click sends one message. A delivery left in doubt is simply re-sent (same Message-ID).
    """
    if ticket.status != Ticket.Status.VALID:
        raise ServiceError("ticket", _("A revoked ticket cannot be sent."), code="revoked")
    with transaction.atomic():
        queue_tickets([ticket], reason=Delivery.Reason.RESEND)
        trail.ticket("ticket.resent", ticket)
    return Delivery.objects.filter(ticket=ticket, version=ticket.version).order_by("-id").first()


def unsent_tickets(event: Event):
    """Valid tickets of the event whose current version was never sent and is not queued."""
    current = Delivery.objects.filter(ticket=OuterRef("pk"), version=OuterRef("version"))
    return Ticket.objects.filter(event=event, status=Ticket.Status.VALID).exclude(
        Exists(current.filter(state__in=[*OPEN, State.SENT]))
    )


def queue_unsent(event: Event) -> list[int]:
    """Queue every unsent ticket of the event (``issue_tickets``); return the open ids.

    A ticket whose automatic delivery failed is queued again as a ``resend``.
    """
    ids: list[int] = []
    tickets = list(unsent_tickets(event).select_related("attendee").order_by("serial"))
    issued_before = set(
        Delivery.objects.filter(ticket__event=event, reason=Delivery.Reason.ISSUED)
        .values_list("ticket_id", "version")
    )
    for start in range(0, len(tickets), 1000):
        ids += _queue_mixed(tickets[start : start + 1000], issued_before)
    if tickets:
        trail.event("tickets.sent", event, queued=len(tickets))
    open_ids = Delivery.objects.filter(ticket__event=event, state__in=OPEN)
    return sorted(set(ids) | set(open_ids.values_list("pk", flat=True)))


def _queue_mixed(tickets: list[Ticket], issued_before: set[tuple[int, int]]) -> list[int]:
    first = [t for t in tickets if (t.pk, t.version) not in issued_before]
    again = [t for t in tickets if (t.pk, t.version) in issued_before]
    return queue_tickets(first) + queue_tickets(again, reason=Delivery.Reason.RESEND)


def publish(ids: list[int], countdown: float | None = None) -> None:
    """Publish ``send_deliveries`` tasks for these rows, one per batch.

    A signature by name runs the registered task's ``apply_async`` where the task is
    registered (so eager mode and the task's options hold) and ``send_task`` elsewhere.
    """
    size = settings.VARCO_DELIVERY_BATCH_SIZE
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        try:
            current_app.signature(SEND_TASK, args=(chunk,)).apply_async(countdown=countdown)
        except Exception:  # broker down: the rows are queued in the database; the sweep retries
            log.exception("could not publish %d deliveries; the sweep will", len(chunk))


# Publishes the committed rows of single registrations in batches, from a thread of its own.
# (A lambda: the name is looked up at each call, so a test that patches ``publish`` sees it.)
_batched = BatchPublisher(lambda ids: publish(ids))
publish_soon = _batched.submit
# Before a process exits normally: what is still pending is published (gunicorn's worker_exit
# calls it too, since a worker's exit may skip atexit handlers).
flush_pending = _batched.flush
atexit.register(flush_pending)


def resend_on_request(event: Event, email_key: str) -> None:
    """An attendee's "send my ticket again": the valid ticket of the attendee registered with
    this address (compared by its key) is sent again, as a ``resend`` through the usual rows,
    to the address stored at registration (``new_delivery``), never to one typed now. Returns
    nothing, found or not: the page's answer must not say whether an address is registered."""
    ticket = valid_ticket_for_email(event, email_key)
    if ticket is not None:
        resend(ticket)
