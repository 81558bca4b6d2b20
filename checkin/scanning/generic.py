"""The scan on other databases (the embedded SQLite mode): the same rules as the PostgreSQL
statement (``checkin.scanning.postgres``), as a few ORM statements in one transaction,
serialised by SQLite's write lock."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from checkin.models import Direction, Presence, Reason, Result, ScanLog, Source
from checkin.scanning.answer import ScanAnswer, ScanInput, attendee
from tickets.models import Ticket

# The same rules as the PostgreSQL statement and the door page's offline src/admission.js; the
# table checkin/admission_cases.json holds the three to the same answers
# (tests/checkin/test_admission_cases.py).


def _answer_from_log(log: ScanLog, replay: bool) -> ScanAnswer:
    ticket = log.ticket
    person = None
    if ticket is not None:
        person = attendee(ticket.attendee.name, ticket.attendee.organisation,
                          ticket.ticket_type.name)
    return ScanAnswer(
        status=log.result,
        reason=log.reason,
        attendee=person,
        checked_in_at=log.checked_in_at,
        first_checked_in_at=log.first_checked_in_at,
        ticket_id=log.ticket_id,
        log_id=log.pk,
        conflict=log.conflict,
        replay=replay,
        replay_key=log.request_key if replay else None,
    )


def _prior(scan: ScanInput) -> ScanLog | None:
    if not scan.nonce or scan.device_id is None:
        return None
    return (
        ScanLog.objects.select_related("ticket__attendee", "ticket__ticket_type")
        .filter(device_id=scan.device_id, nonce=scan.nonce)
        .first()
    )


def record(scan, ticket_id, version, pre, at, received, untrusted) -> ScanAnswer:
    rule = scan.rule
    try:
        with transaction.atomic():
            prior = _prior(scan)
            if prior is not None:
                return _answer_from_log(prior, replay=True)
            ticket = None
            if pre != Reason.WRONG_EVENT:
                ticket = (
                    Ticket.objects.select_related("attendee", "ticket_type")
                    .filter(pk=ticket_id, event_id=rule.event_id)
                    .first()
                )
            reason = pre if pre == Reason.WRONG_EVENT else None
            if reason is None:
                if ticket is None:
                    reason = Reason.UNKNOWN
                elif ticket.status != Ticket.Status.VALID or (
                    version is not None and ticket.version != version
                ):
                    reason = Reason.REVOKED
                elif pre == Reason.CLOSED:
                    reason = Reason.CLOSED
                elif (
                    rule.ticket_types is not None and ticket.ticket_type_id not in rule.ticket_types
                ) or (scan.direction == Direction.EXIT and not rule.allow_exit):
                    reason = Reason.NOT_ALLOWED
            checked_in_at = first = None
            if reason is None:
                reason, checked_in_at, first = _apply_presence(scan, ticket, at, received)
            log = ScanLog.objects.create(
                event_id=rule.event_id,
                list_id=rule.id,
                device_id=scan.device_id,
                user_id=scan.user_id,
                ticket=ticket,
                direction=scan.direction,
                result=Result.OK if reason is None else Result.REJECTED,
                reason=reason,
                source=scan.source,
                nonce=scan.nonce,
                scanned_at=at,
                received_at=received,
                untrusted_scanned_at=untrusted,
                checked_in_at=checked_in_at,
                first_checked_in_at=first,
                request_key=scan.request_key,
                conflict=bool(
                    scan.local_ok
                    and scan.source == Source.OFFLINE
                    and reason == Reason.ALREADY_CHECKED_IN
                ),
            )
    except IntegrityError:
        prior = _prior(scan)
        if prior is None:
            raise
        return _answer_from_log(prior, replay=True)
    return _answer_from_log(log, replay=False)


def _apply_presence(scan: ScanInput, ticket: Ticket, at, received):
    """(reason, checked_in_at, first_checked_in_at) after admitting or exiting ``ticket``."""
    rule = scan.rule
    nonce = scan.nonce or ""
    mine = Presence.objects.filter(list_id=rule.id, ticket=ticket)
    prev = mine.values("first_entry_at", "last_entry_at").first()
    if scan.direction == Direction.EXIT:
        mine.filter(inside=True).update(
            inside=False, exits=F("exits") + 1, last_exit_at=at, last_nonce=nonce,
            updated_at=received,
        )
        return None, prev and prev["last_entry_at"], None
    if prev is None:
        try:
            with transaction.atomic():
                Presence.objects.create(
                    event_id=rule.event_id, list_id=rule.id, ticket=ticket, inside=True,
                    entries=1, first_entry_at=at, last_entry_at=at, last_nonce=nonce,
                    updated_at=received,
                )
            return None, at, None
        except IntegrityError:
            prev = mine.values("first_entry_at", "last_entry_at").get()
    if rule.allow_reentry and not rule.allow_exit:
        may_enter = Q()  # re-entry without check-out: every entry is admitted
    elif rule.allow_reentry:
        may_enter = Q(entries=0) | Q(inside=False)
    else:
        may_enter = Q(entries=0)
    if nonce:
        may_enter &= ~Q(last_nonce=nonce)
    admitted = mine.filter(may_enter).update(
        inside=True, entries=F("entries") + 1,
        first_entry_at=Coalesce(F("first_entry_at"), at), last_entry_at=at,
        last_nonce=nonce, updated_at=received,
    )
    if admitted:
        return None, at, None
    return Reason.ALREADY_CHECKED_IN, prev["last_entry_at"], prev["first_entry_at"]

