"""Sending a batch: claims, one SMTP connection, the outcome of each attempt (rules 2-4).

Every write of a worker is conditional on its claim token, so a worker that lost its claim
changes nothing; the exchange itself is ``smtp.transmit``.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import smtplib
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from tickets.delivery.message import render
from tickets.delivery.queue import CLAIMABLE, State
from tickets.delivery.smtp import ConnectionLost, ConnectionSpent, smtp_error, transmit
from tickets.models import Delivery, EventKey, Ticket
from tickets.selectors import active_signing_keys

log = logging.getLogger(__name__)

BACKOFF_CAP_SECONDS = 15 * 60


@dataclass
class BatchResult:
    sent: list[int] = field(default_factory=list)
    retry: dict[int, dt.datetime] = field(default_factory=dict)
    failed: list[int] = field(default_factory=list)
    in_doubt: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "sent": len(self.sent), "retry": len(self.retry), "failed": len(self.failed),
            "in_doubt": len(self.in_doubt), "cancelled": len(self.cancelled),
        }


def backoff(attempts: int) -> dt.timedelta:
    """The wait before the next try: doubling from the base, capped, with 20 % jitter."""
    base = settings.VARCO_DELIVERY_RETRY_BASE_SECONDS
    seconds = min(base * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS)
    return dt.timedelta(seconds=seconds * random.uniform(0.8, 1.2))


def _claim(ids: list[int], token: str, now: dt.datetime, top_up: int) -> None:
    """Claim the given rows, then up to ``top_up`` more due rows, for this batch."""
    fields = {"state": State.SENDING, "claim_token": token, "claimed_at": now,
              "handed_at": None, "updated_at": now}
    claimed = 0
    if ids:
        claimed = Delivery.objects.filter(
            pk__in=ids, state__in=CLAIMABLE, next_attempt_at__lte=now
        ).update(**fields)
    room = top_up - claimed
    if room <= 0:
        return
    # Fill the batch (and its SMTP connection) with other due rows: a burst of single-ticket
    # tasks (an import) is then sent in a few connections; their own tasks find nothing left.
    with transaction.atomic():
        due = Delivery.objects.filter(state__in=CLAIMABLE, next_attempt_at__lte=now)
        if db_connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        more = list(due.order_by("next_attempt_at", "id").values_list("pk", flat=True)[:room])
        if more:
            Delivery.objects.filter(pk__in=more, state__in=CLAIMABLE).update(**fields)


def _mine(delivery: Delivery, token: str):
    return Delivery.objects.filter(pk=delivery.pk, claim_token=token, state=State.SENDING)


def _requeue(delivery: Delivery, token: str, error: str, result: BatchResult,
             count_attempt: bool, now: dt.datetime) -> None:
    attempts = delivery.attempts + (1 if count_attempt else 0)
    if attempts >= settings.VARCO_DELIVERY_MAX_ATTEMPTS:
        _fail(delivery, token, f"{error} (gave up after {attempts} attempts)", result,
              count_attempt, now)
        return
    due = now + backoff(attempts)
    updated = _mine(delivery, token).update(
        state=State.QUEUED, claim_token="", handed_at=None, next_attempt_at=due,
        last_error=error[:2000], attempts=F("attempts") + (1 if count_attempt else 0),
        updated_at=now,
    )
    if updated:
        result.retry[delivery.pk] = due


def _fail(delivery: Delivery, token: str, error: str, result: BatchResult,
          count_attempt: bool, now: dt.datetime) -> None:
    updated = _mine(delivery, token).update(
        state=State.FAILED, claim_token="", last_error=error[:2000], updated_at=now,
        attempts=F("attempts") + (1 if count_attempt else 0),
    )
    if updated:
        result.failed.append(delivery.pk)
        log.warning("delivery %s of ticket %s failed: %s", delivery.pk, delivery.ticket_id, error)


def _in_doubt(delivery: Delivery, token: str, error: str, result: BatchResult,
              now: dt.datetime) -> None:
    """The connection broke after hand-over: re-send later, same Message-ID (the rule)."""
    if delivery.attempts >= settings.VARCO_DELIVERY_MAX_ATTEMPTS:
        _fail(delivery, token, f"in doubt: {error} (gave up after {delivery.attempts} "
              "attempts; it may have arrived)", result, False, now)
        return
    due = now + backoff(delivery.attempts)
    updated = _mine(delivery, token).update(
        state=State.IN_DOUBT, claim_token="", handed_at=None, next_attempt_at=due,
        in_doubt_count=F("in_doubt_count") + 1, updated_at=now,
        last_error=f"in doubt: {error}; re-sent with the same Message-ID"[:2000],
    )
    if updated:
        result.in_doubt.append(delivery.pk)
        result.retry[delivery.pk] = due


def send_batch(ids: list[int], top_up: int | None = None) -> BatchResult:
    """Claim and send these deliveries (plus due ones up to a batch) over one connection."""
    result = BatchResult()
    token = uuid.uuid4().hex
    now = timezone.now()
    size = settings.VARCO_DELIVERY_BATCH_SIZE if top_up is None else top_up
    _claim(list(ids), token, now, max(size, len(ids)))
    rows = list(
        Delivery.objects.filter(claim_token=token, state=State.SENDING)
        .select_related("ticket__attendee", "ticket__event", "ticket__ticket_type")
        .order_by("pk")
    )
    if not rows:
        return result
    connection = get_connection()
    smtp_backend = isinstance(connection, SMTPBackend)
    pending = list(rows)
    opened = False
    keys = active_signing_keys(d.ticket.event_id for d in rows)
    try:
        try:
            connection.open()
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectionLost(smtp_error(exc)[1]) from exc
        opened = True
        limit = settings.VARCO_SMTP_MESSAGES_PER_CONNECTION if smtp_backend else 0
        carried = 0  # messages this connection has carried
        while pending:
            if limit and carried >= limit:
                _reconnect(connection)
                carried = 0
            try:
                _send_one(connection, smtp_backend, pending[0], token, result, keys, carried)
            except ConnectionSpent:
                # The relay ended the session between messages (its per-connection limit):
                # the same message again on a new connection, which fails normally if dead.
                _reconnect(connection)
                carried = 0
                continue
            carried += 1
            pending.pop(0)
    except ConnectionLost as exc:
        # Rows not tried yet: a refused connection counts as a try for all (so backoff grows
        # and a dead server ends in "failed"); a connection lost mid-batch does not, since
        # the row whose exchange broke was already counted.
        now = timezone.now()
        for delivery in pending:
            if delivery.pk in result.retry or delivery.pk in result.failed:
                continue
            _requeue(delivery, token, f"SMTP connection failed: {exc}", result,
                     count_attempt=not opened, now=now)
    finally:
        try:
            connection.close()
        except Exception:  # closing a broken connection must not hide the real outcome
            log.debug("closing the SMTP connection failed", exc_info=True)
    if result.failed or result.retry or result.in_doubt:
        log.info("delivery batch: %s", result.as_dict())
    return result


def _reconnect(connection) -> None:
    connection.close()
    try:
        connection.open()
    except (OSError, smtplib.SMTPException) as exc:
        raise ConnectionLost(smtp_error(exc)[1]) from exc


def _send_one(connection, smtp_backend: bool, delivery: Delivery, token: str,
              result: BatchResult, keys: dict[int, EventKey], carried: int = 0) -> None:
    """Send one claimed delivery; raise ConnectionLost when the rest must wait, and
    ConnectionSpent when a connection that already carried messages (``carried``) was ended
    by the server before this one was handed over (so it is tried again, not counted)."""
    ticket = delivery.ticket
    now = timezone.now()
    if ticket.status != Ticket.Status.VALID or ticket.version != delivery.version:
        if _mine(delivery, token).update(
            state=State.CANCELLED, claim_token="", updated_at=now,
            last_error="ticket revoked or reissued before sending",
        ):
            result.cancelled.append(delivery.pk)
        return
    try:
        rendered = render(delivery, keys.get(ticket.event_id), smtp_backend)
    except Exception as exc:
        log.exception("rendering delivery %s failed", delivery.pk)
        _requeue(delivery, token, f"rendering failed: {exc}", result, True, now)
        return
    handed = False

    def handing_over() -> bool:
        nonlocal handed
        handed = bool(
            _mine(delivery, token).filter(handed_at__isnull=True).update(
                handed_at=timezone.now(), attempts=F("attempts") + 1,
                recipient=ticket.attendee.email, updated_at=timezone.now(),
            )
        )
        if handed:
            delivery.attempts += 1
        return handed

    try:
        if smtp_backend:
            if connection.connection is None:
                raise ConnectionLost("SMTP connection closed")
            answer = transmit(connection.connection, rendered, handing_over)
        else:  # file, console or memory backends (embedded mode, tests): no SMTP dialogue
            if not handing_over():
                return
            connection.send_messages([rendered.message])
            answer = f"250 accepted by {type(connection).__module__}"
    except ConnectionLost:
        raise
    except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as exc:
        # The server answered: the message was not accepted, whatever the step.
        code, error = smtp_error(exc)
        now = timezone.now()
        if code == 421 and carried and not handed:
            raise ConnectionSpent(error) from exc
        if code is not None and 500 <= code < 600:
            _fail(delivery, token, error, result, count_attempt=not handed, now=now)
        else:
            _requeue(delivery, token, error, result, count_attempt=not handed, now=now)
        if getattr(connection.connection, "sock", None) is None:  # 421: the server hung up
            raise ConnectionLost(error) from exc
        return
    except OSError as exc:  # no answer: disconnected, timed out, reset (SMTPException too)
        error = smtp_error(exc)[1]
        now = timezone.now()
        if carried and not handed:  # hung up between messages: a session limit, not an error
            raise ConnectionSpent(error) from exc
        if handed:  # the text may have reached the server: the in-doubt rule applies
            _in_doubt(delivery, token, f"connection lost after hand-over ({error})", result, now)
        else:
            _requeue(delivery, token, f"SMTP connection lost: {error}", result, True, now)
        raise ConnectionLost(error) from exc
    now = timezone.now()
    if _mine(delivery, token).update(
        state=State.SENT, sent_at=now, smtp_response=answer, claim_token="", updated_at=now,
    ):
        result.sent.append(delivery.pk)
    else:  # the sweep took the row as in doubt meanwhile; it will be re-sent, same Message-ID
        log.warning("delivery %s was sent but its claim had been taken over", delivery.pk)
