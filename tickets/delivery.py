"""E-mail delivery of tickets: durable state, exactly-once claims, retries, sweep, resend.

The ``Delivery`` table is the source of truth; Celery messages only carry "look at these rows"
(``tickets.tasks.send_deliveries``), so a lost, duplicated or replayed message can neither lose
nor double a ticket. The rules:

1. **Queued in the database first.** Issuing or reissuing a ticket (``services.on_ticket_issued``),
   ``resend()`` and ``issue_tickets`` insert a ``queued`` row, then publish a task after commit.
   A ticket version has at most one open delivery (a partial unique index), so double clicks,
   hooks and sweeps that race all end on the same row.
2. **Claimed with a conditional UPDATE.** A worker takes rows with
   ``UPDATE ... SET state='sending', claim_token=<its own> WHERE state IN ('queued',
   'in_doubt') AND next_attempt_at <= now``; only one worker's UPDATE can match a row, so two
   workers, a Celery retry and a sweep never send the same delivery. Every later write of the
   worker is conditional on its claim token, so a worker that lost its claim changes nothing.
3. **The attempt is recorded before the message leaves.** The SMTP exchange is driven step by
   step over Django's SMTP connection (one connection per batch): after the server accepts the
   envelope and says "354 go ahead", the worker commits ``attempts + 1`` and ``handed_at``, and
   only then sends the message text and the final dot. Then it commits ``sent`` with the
   server's "250" answer.
4. **Failures are never silent.** A 4xx answer or a dropped connection puts the row back to
   ``queued`` with exponential backoff (``VARCO_DELIVERY_RETRY_BASE_SECONDS`` doubling, capped
   at 15 minutes, at most ``VARCO_DELIVERY_MAX_ATTEMPTS`` tries); a 5xx answer makes it
   ``failed``. Either way ``last_error`` keeps the SMTP server's answer, shown in the API and
   the admin.
5. **The sweep** (``sweep()``, every ``VARCO_DELIVERY_SWEEP_SECONDS`` through Celery beat,
   which ``python -m worker`` embeds) finds work whose worker or task was lost: rows claimed
   more than ``VARCO_DELIVERY_STALE_SECONDS`` ago that never reached the server go back to
   ``queued``; rows due for that long that nobody claimed are published again; valid tickets
   issued in the last day that have no delivery at all (the process died between the commit
   and the hook) get one. With the defaults (90 s stale, 30 s sweep) lost work is re-queued
   within 2 minutes.

**The in-doubt rule.** A worker that dies (or loses the connection) after ``handed_at`` was
committed and before ``sent`` was, may or may not have had its message accepted: no protocol
can tell (the "250 OK" and the database write cannot be one atomic step). Such a row is put in
``in_doubt`` by the sweep (once its ``handed_at`` is older than the stale time and twice the SMTP
timeout, so a live worker waiting for a slow server is not overtaken) and **re-sent
automatically with the same Message-ID**, and its ``in_doubt_count`` is incremented. So the
attendee is never left without a ticket; if the first copy had arrived, the second is the
same message (same Message-ID, ticket, code and PDF; only the Date header and MIME
boundaries differ), which mail stores and clients de-duplicate;
and the organiser sees "in doubt" / "possible duplicate" on that ticket in the API and admin.
The window is a few milliseconds per message (the server's "250" plus one database commit),
so this is rare; rows that never reached ``handed_at`` are re-sent without any doubt.

A message is never sent without its PDF (it is rendered before the SMTP exchange starts; a
rendering error is a failed attempt), each attendee gets their own message, and a delivery
whose ticket was revoked or reissued in the meantime is ``cancelled`` instead of sent.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
import smtplib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from core.errors import ServiceError
from tickets.models import Delivery, Event, EventKey, Ticket
from tickets.selectors import active_signing_keys

log = logging.getLogger(__name__)

State = Delivery.State
OPEN = list(Delivery.OPEN_STATES)
CLAIMABLE = [State.QUEUED, State.IN_DOUBT]
BACKOFF_CAP_SECONDS = 15 * 60
MISSING_LOOKBACK = dt.timedelta(days=1)


# --- queueing -------------------------------------------------------------------------------


def _message_id() -> str:
    domain = getattr(settings, "VARCO_MESSAGE_ID_DOMAIN", "") or (
        settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "varco.invalid"
    )
    return make_msgid(idstring="varco-ticket", domain=domain)


def _new_delivery(ticket: Ticket, reason: str) -> Delivery:
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
    with transaction.atomic():
        Delivery.objects.bulk_create(
            [_new_delivery(t, reason) for t in tickets], ignore_conflicts=True, batch_size=500
        )
        versions = {t.pk: t.version for t in tickets}
        rows = Delivery.objects.filter(ticket_id__in=list(versions), state__in=OPEN)
        ids = sorted(
            pk for pk, ticket_id, version in rows.values_list("pk", "ticket_id", "version")
            if versions[ticket_id] == version
        )
    transaction.on_commit(lambda: publish(ids))
    return ids


def on_ticket_issued(ticket: Ticket) -> None:
    """``services.on_ticket_issued`` hook: e-mail every newly issued or reissued ticket."""
    if not settings.VARCO_SEND_ON_ISSUE:
        return
    try:
        queue_tickets([ticket])
    except Exception:  # the ticket is committed; the sweep creates the delivery later
        log.exception("could not queue the delivery of ticket %s; the sweep will", ticket.pk)


def resend(ticket: Ticket) -> Delivery:
    """Send the ticket's current version again (organiser's request).

    A delivery already open for this version is returned instead of a second one, so a double
    click sends one message. A delivery left in doubt is simply re-sent (same Message-ID).
    """
    if ticket.status != Ticket.Status.VALID:
        raise ServiceError("ticket", "A revoked ticket cannot be sent.", code="revoked")
    queue_tickets([ticket], reason=Delivery.Reason.RESEND)
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
    open_ids = Delivery.objects.filter(ticket__event=event, state__in=OPEN)
    return sorted(set(ids) | set(open_ids.values_list("pk", flat=True)))


def _queue_mixed(tickets: list[Ticket], issued_before: set[tuple[int, int]]) -> list[int]:
    first = [t for t in tickets if (t.pk, t.version) not in issued_before]
    again = [t for t in tickets if (t.pk, t.version) in issued_before]
    return queue_tickets(first) + queue_tickets(again, reason=Delivery.Reason.RESEND)


def publish(ids: list[int], countdown: float | None = None) -> None:
    """Publish ``send_deliveries`` tasks for these rows, one per batch."""
    from tickets.tasks import send_deliveries

    size = settings.VARCO_DELIVERY_BATCH_SIZE
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        try:
            send_deliveries.apply_async((chunk,), countdown=countdown)
        except Exception:  # broker down: the rows are queued in the database; the sweep retries
            log.exception("could not publish %d deliveries; the sweep will", len(chunk))


# --- sending --------------------------------------------------------------------------------


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


class ConnectionLost(Exception):
    """The SMTP connection is gone; the rest of the batch goes back to the queue."""


def backoff(attempts: int) -> dt.timedelta:
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


def _smtp_error(exc: Exception) -> tuple[int | None, str]:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return code, f"{code} {_text(text)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code, f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return None, f"{type(exc).__name__}: {exc}"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


_LEADING_DOT = re.compile(rb"(?m)^\.")


def _smtp_transmit(smtp: smtplib.SMTP, rendered: Rendered, handing_over) -> str:
    """Send one message over an open SMTP session; return the server's final answer.

    The same steps as ``smtplib.SMTP.sendmail`` (and so as Django's backend), split so that
    ``handing_over()`` runs after the server said "354" and before the text and the final dot
    leave: the moment from which the server may accept the message. It returns False if the
    claim was lost, and then nothing is sent (the connection is dropped mid-DATA, which makes
    the server discard the transaction).
    """
    message = rendered.message
    encoding = message.encoding or settings.DEFAULT_CHARSET
    sender = sanitize_address(message.from_email, encoding)
    recipients = [sanitize_address(addr, encoding) for addr in message.recipients()]
    data = rendered.data
    smtp.ehlo_or_helo_if_needed()
    options = [f"size={len(data)}"] if smtp.does_esmtp and smtp.has_extn("size") else []
    code, answer = smtp.mail(sender, options)
    if code != 250:
        _reset(smtp, code)
        raise smtplib.SMTPSenderRefused(code, answer, sender)
    for recipient in recipients:
        code, answer = smtp.rcpt(recipient)
        if code not in (250, 251):
            _reset(smtp, code)
            raise smtplib.SMTPRecipientsRefused({recipient: (code, answer)})
    smtp.putcmd("data")
    code, answer = smtp.getreply()
    if code != 354:
        _reset(smtp, code)
        raise smtplib.SMTPDataError(code, answer)
    if not handing_over():
        smtp.close()
        raise ConnectionLost("claim lost before hand-over")
    body = _LEADING_DOT.sub(b"..", data)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    smtp.send(body + b".\r\n")
    code, answer = smtp.getreply()
    if code != 250:
        _reset(smtp, code)
        raise smtplib.SMTPDataError(code, answer)
    return f"{code} {_text(answer)}"[:500]


def _reset(smtp: smtplib.SMTP, code: int) -> None:
    if code == 421:  # the server is closing the session
        smtp.close()
        return
    try:
        smtp.rset()
    except smtplib.SMTPException:
        smtp.close()


@dataclass
class Rendered:
    """A delivery's message, built whole before its SMTP exchange starts: a rendering error
    is a failed attempt, never a message without its PDF."""

    message: EmailMessage
    # The bytes the SMTP dialogue sends (None for the file, console and memory backends).
    data: bytes | None


def _render(delivery: Delivery, key: EventKey | None, smtp: bool) -> Rendered:
    from tickets.mail import ticket_message

    message = ticket_message(delivery, key)
    if not smtp:
        return Rendered(message, None)
    mime = message.message()
    for part in mime.walk():
        if part.is_multipart():
            # Left unset, the stdlib generator picks a boundary and searches the whole text
            # for it with a regex compiled per message (a fifth of its 2 ms); a random one
            # cannot occur in the parts.
            part.set_boundary(f"=_varco_{uuid.uuid4().hex}")
    return Rendered(message, mime.as_bytes(linesep="\r\n"))


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
            raise ConnectionLost(_smtp_error(exc)[1]) from exc
        opened = True
        while pending:
            _send_one(connection, smtp_backend, pending[0], token, result, keys)
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


def _send_one(connection, smtp_backend: bool, delivery: Delivery, token: str,
              result: BatchResult, keys: dict[int, EventKey]) -> None:
    """Send one claimed delivery; raise ConnectionLost when the rest must wait."""
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
        rendered = _render(delivery, keys.get(ticket.event_id), smtp_backend)
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
            answer = _smtp_transmit(connection.connection, rendered, handing_over)
        else:  # file, console or memory backends (embedded mode, tests): no SMTP dialogue
            if not handing_over():
                return
            connection.send_messages([rendered.message])
            answer = f"250 accepted by {type(connection).__module__}"
    except ConnectionLost:
        raise
    except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as exc:
        # The server answered: the message was not accepted, whatever the step.
        code, error = _smtp_error(exc)
        now = timezone.now()
        if code is not None and 500 <= code < 600:
            _fail(delivery, token, error, result, count_attempt=not handed, now=now)
        else:
            _requeue(delivery, token, error, result, count_attempt=not handed, now=now)
        if getattr(connection.connection, "sock", None) is None:  # 421: the server hung up
            raise ConnectionLost(error) from exc
        return
    except OSError as exc:  # no answer: disconnected, timed out, reset (SMTPException too)
        error = _smtp_error(exc)[1]
        now = timezone.now()
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


# --- the sweep ------------------------------------------------------------------------------


@dataclass
class SweepResult:
    requeued: int = 0
    in_doubt: int = 0
    republished: int = 0
    created: int = 0


def sweep(now: dt.datetime | None = None) -> SweepResult:
    """Find lost work and queue it again (see the module docstring, rule 5)."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.VARCO_DELIVERY_STALE_SECONDS)
    doubt_after = max(settings.VARCO_DELIVERY_STALE_SECONDS, 2 * settings.EMAIL_TIMEOUT)
    doubt_cutoff = now - dt.timedelta(seconds=doubt_after)
    result = SweepResult()
    # Claimed, never handed to the server: nothing left the machine, send again.
    result.requeued = Delivery.objects.filter(
        state=State.SENDING, handed_at__isnull=True, claimed_at__lt=stale
    ).update(state=State.QUEUED, claim_token="", next_attempt_at=now, updated_at=now,
             last_error="worker lost before sending; queued again")
    # Handed over, no answer recorded: in doubt; re-sent with the same Message-ID, unless it
    # was tried too often already (then failed, and visible as possibly delivered).
    Delivery.objects.filter(
        state=State.SENDING, handed_at__lt=doubt_cutoff,
        attempts__gte=settings.VARCO_DELIVERY_MAX_ATTEMPTS,
    ).update(state=State.FAILED, claim_token="", in_doubt_count=F("in_doubt_count") + 1,
             updated_at=now, last_error="in doubt after the last attempt: the worker was lost "
                                        "after handing the message over; it may have arrived")
    result.in_doubt = Delivery.objects.filter(
        state=State.SENDING, handed_at__lt=doubt_cutoff
    ).update(state=State.IN_DOUBT, claim_token="", handed_at=None, next_attempt_at=now,
             in_doubt_count=F("in_doubt_count") + 1, updated_at=now,
             last_error="in doubt: worker lost after handing the message to the SMTP server; "
                        "re-sent with the same Message-ID")
    # Tickets issued recently with no delivery at all (lost between commit and hook).
    if settings.VARCO_SEND_ON_ISSUE:
        missing = list(
            Ticket.objects.filter(
                status=Ticket.Status.VALID, updated_at__lt=stale,
                updated_at__gte=now - MISSING_LOOKBACK,
            )
            .exclude(Exists(Delivery.objects.filter(ticket=OuterRef("pk"),
                                                    version=OuterRef("version"))))
            .select_related("attendee")[:5000]
        )
        if missing:
            rows = [_new_delivery(t, Delivery.Reason.ISSUED) for t in missing]
            for row in rows:  # due at this sweep's "now", so the publication below takes them
                row.queued_at = row.next_attempt_at = row.updated_at = now
            Delivery.objects.bulk_create(rows, ignore_conflicts=True)
            result.created = len(missing)
    # Everything due that nobody claimed: its task was lost (or its retry was).
    due = list(
        Delivery.objects.filter(
            Q(next_attempt_at__lt=stale) | Q(updated_at__gte=now),
            state__in=CLAIMABLE, next_attempt_at__lte=now,
        ).order_by("next_attempt_at", "id").values_list("pk", flat=True)[:20000]
    )
    if due:
        publish(due)
    result.republished = len(due)
    if result.requeued or result.in_doubt or result.created or due:
        log.info("delivery sweep: %s", result)
    return result


# --- reads for the API, admin and issue_tickets -----------------------------------------------


def latest_delivery(ticket: Ticket) -> Delivery | None:
    """The most recent delivery of the ticket (uses a prefetch of ``deliveries`` if any)."""
    cache = getattr(ticket, "_prefetched_objects_cache", {})
    if "deliveries" in cache:
        rows = list(cache["deliveries"])
        return max(rows, key=lambda d: d.pk) if rows else None
    return ticket.deliveries.order_by("-pk").first()


def progress(ids: list[int]) -> dict[str, int]:
    """Counts by state of these deliveries (``issue_tickets`` polls this)."""
    counts = {state: 0 for state in State.values}
    for start in range(0, len(ids), 5000):
        for state, count in _count_states(ids[start : start + 5000]):
            counts[state] += count
    return counts


def _count_states(ids: list[int]):
    from django.db.models import Count

    return (
        Delivery.objects.filter(pk__in=ids).values_list("state").annotate(n=Count("pk"))
        .order_by()
    )
