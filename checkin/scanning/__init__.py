"""The scan: verify a code, decide, record — the hot path of the door.

Order of work, cheapest first: the signature is checked in-process against the event's public
keys (``tickets.signing.verify_code``, no database); a forged or garbled code is answered at
once and its log row is written later in a batch (``invalid_log``). A correctly signed code
costs one database statement on PostgreSQL: a single ``WITH`` query that reads the ticket,
admits it with ``INSERT … ON CONFLICT (list, ticket) DO UPDATE … WHERE <may enter>`` and
appends the scan-log row, committed before the answer is sent (``postgres``). On other
databases (the embedded SQLite mode) the same rules run as a few ORM statements in one
transaction, serialised by SQLite's write lock (``generic``). The answer and input types are
in ``answer``.

Rules (one table of cases holds this module's two implementations and the door page's offline
one to the same answers: ``checkin/admission_cases.json``), in the order a reason is chosen:
``wrong_event`` (signed for another event), ``unknown`` (no such ticket), ``revoked`` (revoked,
or an older version of a reissued ticket), ``closed`` (outside the list's opening hours),
``not_allowed`` (ticket type not admitted by the list, or an exit scan on a list without
check-out), then for entries ``already_checked_in``. An exit of someone not inside is
accepted and changes nothing.

Time: a live scan happens when the server receives it; an offline scan's time is the device's
claim, believed only within a window (``clock``), else the receipt time (claim kept, flagged).

Admitted entries (ok, direction entry; not a replay) are announced after commit with the
``checkin.signals.scan_admitted`` signal, on both paths and for every source; its cost when
nobody listens is one cached look-up.

Retries: a scan carries the device's ``nonce``; the log's unique (device, nonce) makes a
retried request record nothing new and get the first answer back, even when the retry races
its own original (the presence row remembers the last admitting nonce for that case). A retry
must be the same request, else ``NonceReused`` (see ``nonces``).
"""

from __future__ import annotations

import datetime as dt
from functools import partial

from django.db import connection, transaction

from checkin.models import Direction, Reason, Result, ScanLog
from checkin.scanning import flood, invalid_log
from checkin.scanning.answer import ScanAnswer, ScanInput, ScanUnavailable, TooManyInvalid, iso
from checkin.scanning.clock import effective
from checkin.scanning.generic import record as record_generic
from checkin.scanning.nonces import NonceReused
from checkin.scanning.postgres import record as record_postgres
from checkin.signals import scan_admitted
from tickets.signing import InvalidCode, keyring, verify_code

__all__ = [
    "ScanAnswer", "ScanInput", "ScanUnavailable", "TooManyInvalid", "check_in_ticket", "iso",
    "record", "scan_code",
]

UTC = dt.UTC
_OK = Result.OK.value
_ENTRY = Direction.ENTRY.value


def scan_code(code: str, scan: ScanInput) -> ScanAnswer:
    """Verify and record one scanned code (``code`` already stripped and length-checked)."""
    received = dt.datetime.now(UTC)
    at, untrusted = _effective_time(scan, received)
    try:
        claim = verify_code(code, keyring.get)
    except InvalidCode:
        if scan.limit_invalid:
            limiter = flood.upload_limiter if scan.upload else flood.limiter
            wait = limiter.take(scan.device_id, scan.device_name)
            if wait is not None:
                raise TooManyInvalid(wait) from None
        invalid_log.record(
            event_id=scan.rule.event_id,
            list_id=scan.rule.id,
            device_id=scan.device_id,
            direction=scan.direction,
            source=scan.source,
            nonce=scan.nonce,
            request_key=scan.request_key,
            scanned_at=at,
            received_at=received,
            untrusted_scanned_at=untrusted,
        )
        return ScanAnswer(Result.REJECTED, Reason.INVALID)
    pre = None
    if claim.event_id != scan.rule.event_id:
        pre = Reason.WRONG_EVENT
    elif not scan.rule.is_open(at):
        pre = Reason.CLOSED
    return record(scan, claim.ticket_id, claim.version, pre, at, received, untrusted)


def check_in_ticket(ticket_id: int, scan: ScanInput) -> ScanAnswer:
    """Manual check-in of a ticket found by search: its current version, no code."""
    received = dt.datetime.now(UTC)
    at, untrusted = _effective_time(scan, received)
    pre = None if scan.rule.is_open(at) else Reason.CLOSED
    return record(scan, ticket_id, None, pre, at, received, untrusted)


def _effective_time(scan: ScanInput, received: dt.datetime) -> tuple[dt.datetime, str | None]:
    if scan.scanned_at is None:  # a live scan: no claim to judge
        return received, None
    return effective(scan.scanned_at, received, scan.rule.event_start, scan.rule.event_end)


def record(
    scan: ScanInput,
    ticket_id: int,
    version: int | None,
    pre: str | None,
    at: dt.datetime,
    received: dt.datetime,
    untrusted: str | None = None,
) -> ScanAnswer:
    """Decide and record a scan of ticket ``ticket_id`` (``version`` None: any current one);
    ``untrusted``: the device's claimed time, kept as text when it was not believed."""
    if connection.vendor == "postgresql":
        answer = record_postgres(scan, ticket_id, version, pre, at, received, untrusted)
    else:
        answer = record_generic(scan, ticket_id, version, pre, at, received, untrusted)
    if (answer.replay and answer.replay_key is not None and scan.request_key is not None
            and answer.replay_key != scan.request_key):
        raise NonceReused(scan.nonce)
    # Only an entry this call admitted and logged (a replay was announced the first time);
    # the listeners check first, so nobody listening costs one cached look-up per scan.
    if (answer.status == _OK and scan.direction == _ENTRY and not answer.replay
            and scan_admitted.has_listeners(ScanLog)):
        transaction.on_commit(partial(_announce, answer.log_id, answer.ticket_id, scan))
    return answer


def _announce(log_id: int, ticket_id: int, scan: ScanInput) -> None:
    scan_admitted.send(
        ScanLog, scan_log_id=log_id, ticket_id=ticket_id, list_id=scan.rule.id,
        event_id=scan.rule.event_id, device_id=scan.device_id, source=scan.source,
    )
