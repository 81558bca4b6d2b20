"""The scan: verify a code, decide, record — the hot path of the door.

Order of work, cheapest first: the signature is checked in-process against the event's public
keys (no database); a forged or garbled code is answered at once and its log row is written
later in a batch (``invalid_log``). A correctly signed code costs one database statement on
PostgreSQL: a single ``WITH`` query that reads the ticket, admits it with
``INSERT … ON CONFLICT (list, ticket) DO UPDATE … WHERE <may enter>`` and appends the scan-log
row, committed before the answer is sent. On other databases (the embedded SQLite mode) the
same rules run as a few ORM statements in one transaction, serialised by SQLite's write lock.

Rules (one table of cases holds this module's two implementations and the door page's offline
one to the same answers: ``checkin/admission_cases.json``), in the order a reason is chosen:
``wrong_event`` (signed for another event), ``unknown`` (no such ticket), ``revoked`` (revoked,
or an older version of a reissued ticket), ``closed`` (outside the list's opening hours),
``not_allowed`` (ticket type not admitted by the list, or an exit scan on a list without
check-out), then for entries ``already_checked_in``. An exit of someone not inside is
accepted and changes nothing.

Time: a live scan happens when the server receives it; an offline scan's time is the device's
claim, believed only within a window (``clock.py``), else the receipt time (claim kept, flagged).

Retries: a scan carries the device's ``nonce``; the log's unique (device, nonce) makes a
retried request record nothing new and get the first answer back, even when the retry races
its own original (the presence row remembers the last admitting nonce for that case). A retry
must be the same request, else ``NonceReused`` (see ``checkin.nonces``).
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass

import psycopg
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

from checkin import clock, flood, invalid_log
from checkin.devices import ListRule
from checkin.models import Direction, Presence, Reason, Result, ScanLog, Source
from checkin.nonces import NonceReused
from tickets.models import Ticket
from tickets.signing import CODE_BYTES, CODE_LENGTH, FORMAT, InvalidCode, TicketClaim, keyring

UTC = dt.UTC


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:  # psycopg already gives UTC (Django's connection time zone)
        value = value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


class ScanUnavailable(Exception):
    """The database could not be reached; nothing is known to be recorded. Retry."""


class TooManyInvalid(Exception):
    """The device is over its allowance of invalid codes; this one was not logged."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"retry in {wait:.1f} s")
        self.wait = wait


@dataclass(slots=True)
class ScanAnswer:
    status: str
    reason: str | None
    attendee: dict | None = None
    checked_in_at: dt.datetime | None = None
    first_checked_in_at: dt.datetime | None = None
    ticket_id: int | None = None
    log_id: int | None = None
    conflict: bool = False
    replay: bool = False
    # For a replay: the key of the request that first used the nonce (None: not known).
    replay_key: str | None = None

    def as_json(self) -> dict:
        """The scan endpoint's answer (the contract other clients depend on)."""
        return {
            "status": self.status,
            "reason": self.reason,
            "attendee": self.attendee,
            "checked_in_at": iso(self.checked_in_at),
            "first_checked_in_at": iso(self.first_checked_in_at),
        }


@dataclass(slots=True)
class ScanInput:
    """One scan after the request was parsed and the device/list authorised."""

    rule: ListRule
    device_id: int | None
    direction: str = Direction.ENTRY
    nonce: str | None = None
    # Given for scans made offline (the device's clock, a claim); None for live scans.
    scanned_at: clock.Claim | None = None
    source: str = Source.SCAN
    # The device's own verdict for an offline scan: True if it let the person in.
    local_ok: bool = True
    user_id: int | None = None
    # Live scans from a device: invalid codes count against its flood allowance (flood.py).
    limit_invalid: bool = False
    device_name: str = ""
    # Part of an offline upload (/sync/): its own, larger allowance of invalid codes.
    upload: bool = False
    # See ``request_key``; None for requests without a nonce.
    request_key: str | None = None


# Raw public keys for libsodium, by key id (the key ring holds cryptography key objects).
_raw_keys: dict[int, tuple[object, bytes]] = {}
# RFC 4648 base32 -> Python's base-32 digits (0-9A-V), so that int(text, 32) decodes in C.
# The stdlib's b32decode is pure Python and, with the canonical re-encoding check of
# tickets.signing.parse_code, costs more than the Ed25519 check itself.
_TO_INT_DIGITS = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ23456701890",
    "0123456789ABCDEFGHIJKLMNOPQRSTUVZZZZZ",  # 0, 1, 8, 9 are not RFC 4648: made invalid
)
_PAYLOAD = struct.Struct(">BIIIH")
_UNUSED_BITS = CODE_LENGTH * 5 - CODE_BYTES * 8


def parse(code: str) -> tuple[TicketClaim, bytes, bytes]:
    """``tickets.signing.parse_code``, faster: same accepted texts, same claims (tested)."""
    text = code.strip().upper()
    if len(text) != CODE_LENGTH or not (text.isascii() and text.isalnum()):
        raise InvalidCode("not a code")
    try:
        value = int(text.translate(_TO_INT_DIGITS), 32)
    except ValueError as exc:
        raise InvalidCode("not base32") from exc
    if value & ((1 << _UNUSED_BITS) - 1):
        raise InvalidCode("not canonical")  # one spelling per code
    raw = (value >> _UNUSED_BITS).to_bytes(CODE_BYTES, "big")
    payload, signature = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
    fmt, key_id, event_id, ticket_id, version = _PAYLOAD.unpack(payload)
    if fmt != FORMAT:
        raise InvalidCode("unknown format")
    return TicketClaim(key_id, event_id, ticket_id, version), payload, signature


def verify(code: str) -> TicketClaim:
    """``tickets.signing.verify_code`` with the event keys from the process-wide key ring,
    the Ed25519 check done by libsodium: half the CPU of OpenSSL's per-call set-up, and the
    signature check is most of a scan's CPU. Same format, same keys, same answers (tested)."""
    claim, payload, signature = parse(code)
    found = keyring.get(claim.key_id)
    if found is None:
        raise InvalidCode("unknown key")
    event_id, public_key = found
    if event_id != claim.event_id:
        raise InvalidCode("key belongs to another event")
    cached = _raw_keys.get(claim.key_id)
    if cached is None or cached[0] is not public_key:
        cached = (public_key, public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))
        _raw_keys[claim.key_id] = cached
    try:
        crypto_sign_open(signature + payload, cached[1])
    except (BadSignatureError, ValueError) as exc:
        raise InvalidCode("bad signature") from exc
    return claim


def _attendee(name: str | None, organisation: str | None, ticket_type: str | None) -> dict | None:
    if name is None:
        return None
    return {"name": name, "organisation": organisation or "", "ticket_type": ticket_type}


def scan_code(code: str, scan: ScanInput) -> ScanAnswer:
    """Verify and record one scanned code (``code`` already stripped and length-checked)."""
    received = dt.datetime.now(UTC)
    at, untrusted = _effective_time(scan, received)
    try:
        claim = verify(code)
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
    return clock.effective(scan.scanned_at, received, scan.rule.event_start, scan.rule.event_end)


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
        answer = _record_postgres(scan, ticket_id, version, pre, at, received, untrusted)
    else:
        answer = _record_generic(scan, ticket_id, version, pre, at, received, untrusted)
    if (answer.replay and answer.replay_key is not None and scan.request_key is not None
            and answer.replay_key != scan.request_key):
        raise NonceReused(scan.nonce)
    return answer


# --- PostgreSQL: one statement ----------------------------------------------------------------

# Every CTE sees the same snapshot; data-modifying ones report through RETURNING. The entry
# upsert is the no-double-entry guarantee: concurrent scans of one ticket serialise on the
# presence row, and the loser re-evaluates the WHERE clause against the winner's row.
# Every table lookup compares its key columns with the statement's parameters ($n) directly,
# never with columns of the ``p`` CTE: the generic plan is made once per connection, and a
# lookup joined to ``p`` that was planned while the log and presence tables were empty (an
# event's first scans) became a full index scan with a join filter, i.e. every scan read the
# whole log (measured: 0.7 -> 5 ms of database CPU per scan within 10,000 scans).
_SCAN_SQL = """
WITH p AS (
    SELECT $1::text AS nonce, $2::bigint AS device, $3::int AS usr, $4::bigint AS ticket,
        $5::bigint AS event, $6::bigint AS list, $7::text AS pre, $8::int AS version,
        $9::bigint[] AS types, $10::text AS dir, $11::bool AS exit_ok, $12::bool AS reentry,
        $13::timestamptz AS at, $14::timestamptz AS received, $15::text AS source,
        $16::bool AS local_ok, $18::text AS untrusted
), replay AS (
    SELECT l.id, l.ticket_id, l.result, l.reason, l.checked_in_at, l.first_checked_in_at,
        l.conflict, l.request_key
    FROM checkin_scanlog l
    WHERE $1::text IS NOT NULL AND l.device_id = $2::bigint AND l.nonce = $1::text
), t AS (
    SELECT tk.id, tk.status, tk.version, tk.ticket_type_id,
        a.name AS a_name, a.organisation AS a_org, tt.name AS tt_name
    FROM tickets_ticket tk
    JOIN tickets_attendee a ON a.id = tk.attendee_id
    JOIN tickets_tickettype tt ON tt.id = tk.ticket_type_id
    WHERE tk.id = $4::bigint AND tk.event_id = $5::bigint
        AND $7::text IS DISTINCT FROM {wrong_event}
), v AS (
    SELECT t.id, CASE
        WHEN p.pre = {wrong_event} THEN {wrong_event}
        WHEN t.id IS NULL THEN {unknown}
        WHEN t.status <> {valid} OR t.version <> p.version THEN {revoked}
        WHEN p.pre = {closed} THEN {closed}
        WHEN p.types IS NOT NULL AND NOT (t.ticket_type_id = ANY(p.types)) THEN {not_allowed}
        WHEN p.dir = {exit} AND NOT p.exit_ok THEN {not_allowed}
    END AS reason
    FROM p LEFT JOIN t ON true
    WHERE NOT EXISTS (SELECT 1 FROM replay)
), prev AS (
    SELECT x.first_entry_at, x.last_entry_at
    FROM v, checkin_presence x
    WHERE x.list_id = $6::bigint AND x.ticket_id = $4::bigint AND x.ticket_id = v.id
), entry AS (
    INSERT INTO checkin_presence AS x (event_id, list_id, ticket_id, inside, entries, exits,
        first_entry_at, last_entry_at, last_nonce, updated_at)
    SELECT p.event, p.list, v.id, true, 1, 0, p.at, p.at, coalesce(p.nonce, ''), p.received
    FROM p, v WHERE v.reason IS NULL AND p.dir = {entry}
    ON CONFLICT (list_id, ticket_id) DO UPDATE SET
        inside = true, entries = x.entries + 1,
        first_entry_at = coalesce(x.first_entry_at, EXCLUDED.first_entry_at),
        last_entry_at = EXCLUDED.last_entry_at, last_nonce = EXCLUDED.last_nonce,
        updated_at = EXCLUDED.updated_at
    WHERE (x.entries = 0 OR ((SELECT reentry FROM p) AND (NOT x.inside
            OR NOT (SELECT exit_ok FROM p))))
        AND (EXCLUDED.last_nonce = '' OR x.last_nonce <> EXCLUDED.last_nonce)
    RETURNING x.last_entry_at
), leave AS (
    UPDATE checkin_presence AS x SET inside = false, exits = x.exits + 1,
        last_exit_at = p.at, last_nonce = coalesce(p.nonce, ''), updated_at = p.received
    FROM p, v
    WHERE $10::text = {exit} AND v.reason IS NULL AND x.list_id = $6::bigint
        AND x.ticket_id = $4::bigint AND x.ticket_id = v.id
        /* not "x.inside": that is indexable, and on an empty table the (event, inside)
           index costs the same as the (list, ticket) one, so the plan could pick either */
        AND x.inside IS NOT FALSE
    RETURNING x.id
), f AS (
    SELECT v.id AS ticket_id, r.reason,
        CASE WHEN r.reason = {already_checked_in} OR p.dir = {exit}
                THEN (SELECT last_entry_at FROM prev)
            WHEN r.reason IS NULL THEN (SELECT last_entry_at FROM entry)
        END AS checked_in_at,
        CASE WHEN r.reason = {already_checked_in} THEN (SELECT first_entry_at FROM prev)
        END AS first_checked_in_at
    FROM p, v CROSS JOIN LATERAL (SELECT CASE
        WHEN v.reason IS NOT NULL THEN v.reason
        WHEN (SELECT dir FROM p) = {entry} AND NOT EXISTS (SELECT 1 FROM entry)
            THEN {already_checked_in}
    END AS reason) r
), log AS (
    INSERT INTO checkin_scanlog (event_id, list_id, device_id, user_id, ticket_id, direction,
        result, reason, source, nonce, scanned_at, received_at, untrusted_scanned_at,
        checked_in_at, first_checked_in_at, conflict, request_key)
    SELECT p.event, p.list, p.device, p.usr, f.ticket_id, p.dir,
        CASE WHEN f.reason IS NULL THEN {ok} ELSE {rejected} END, f.reason, p.source, p.nonce,
        p.at, p.received, p.untrusted, f.checked_in_at, f.first_checked_in_at,
        (p.local_ok AND p.source = {offline}
            AND f.reason IS NOT DISTINCT FROM {already_checked_in}), $17::text
    FROM p, f
    ON CONFLICT (device_id, nonce) WHERE nonce IS NOT NULL AND device_id IS NOT NULL
    DO NOTHING
    RETURNING id, ticket_id, result, reason, checked_in_at, first_checked_in_at, conflict
)
SELECT false, log.id, log.ticket_id, log.result, log.reason, log.checked_in_at,
    log.first_checked_in_at, log.conflict, t.a_name, t.a_org, t.tt_name, NULL::text
FROM log LEFT JOIN t ON t.id = log.ticket_id
UNION ALL
SELECT true, r.id, r.ticket_id, r.result, r.reason, r.checked_in_at, r.first_checked_in_at,
    r.conflict, a.name, a.organisation, tt.name, r.request_key
FROM replay r
LEFT JOIN tickets_ticket tk ON tk.id = r.ticket_id
LEFT JOIN tickets_attendee a ON a.id = tk.attendee_id
LEFT JOIN tickets_tickettype tt ON tt.id = tk.ticket_type_id
"""
# The rule's words come from the models' enums, never typed twice (the generic path below and the
# door page's src/admission.js decide the same cases: checkin/admission_cases.json holds all three
# to one table). Sent through a RawCursor ($n placeholders, no client-side query parsing:
# psycopg's parsing of a text this long is not cached and cost ~0.25 ms of CPU per scan),
# compacted, as bytes.
_SQL_WORDS = {
    **{f"{reason.value}": f"'{reason.value}'" for reason in Reason},
    **{f"{result.value}": f"'{result.value}'" for result in Result},
    **{f"{direction.value}": f"'{direction.value}'" for direction in Direction},
    "valid": f"'{Ticket.Status.VALID.value}'",
    "offline": f"'{Source.OFFLINE.value}'",
}
_SCAN_SQL = " ".join(_SCAN_SQL.format(**_SQL_WORDS).split()).encode()

_REPLAY_SQL = """
SELECT true, l.id, l.ticket_id, l.result, l.reason, l.checked_in_at, l.first_checked_in_at,
       l.conflict, a.name, a.organisation, tt.name, l.request_key
FROM checkin_scanlog l
LEFT JOIN tickets_ticket tk ON tk.id = l.ticket_id
LEFT JOIN tickets_attendee a ON a.id = tk.attendee_id
LEFT JOIN tickets_tickettype tt ON tt.id = tk.ticket_type_id
WHERE l.device_id = $1 AND l.nonce = $2
"""

_PRESENCE_SQL = """
SELECT first_entry_at, last_entry_at FROM checkin_presence
WHERE list_id = $1 AND ticket_id = $2
"""


# psycopg prepares a statement only when asked (prepare=True) once the connection's threshold is
# not None; Django opens connections with None (no prepared statements, for the sake of
# transaction-pooling PgBouncers). Django's own queries use client-side binding, which psycopg
# never prepares, so a threshold that is never reached enables exactly our explicit prepares.
_EXPLICIT_ONLY = 2**31


def _raw_connection():
    """The thread's psycopg connection, opened by Django if needed.

    The hot path talks to psycopg directly with a server-side-binding cursor, so the scan
    statement is parsed and planned once per connection instead of once per scan (planning
    this statement costs ~1.3 ms of database CPU; executing it ~0.3 ms). Django's per-request
    health check (an extra ``SELECT 1`` round trip) is skipped: a dead connection fails the
    statement, which the caller reports as 503 after closing the connection, so the next scan
    reconnects.
    """
    if connection.connection is None:
        connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None and settings.VARCO_SCAN_PREPARED:
        raw.prepare_threshold = _EXPLICIT_ONLY
        # Always the generic plan: PostgreSQL's default may settle on re-planning each
        # execution (custom plans), 1.3 ms of database CPU per scan instead of 0.3. Django's
        # own queries are bound client-side, never prepared, so this does not touch them.
        raw.execute("SET plan_cache_mode = force_generic_plan")
        raw._varco_plan_pending = True
    return raw


def _execute_scan(raw, cur, params) -> None:
    """Run the scan statement; the first time on a connection, plan it for any table size.

    The generic plan is made at the first execution and kept. Made while the presence and log
    tables are still small (the first scans of an event), it would read them with sequential
    scans, and keep doing so as they grow to tens of thousands of rows: the plan is made with
    sequential scans disabled, so every lookup in it is by index. (If an ANALYZE later
    invalidates it, PostgreSQL re-plans with the statistics of that time; autovacuum analyses
    again after every ~10% of growth, so a plan made on a small table does not outlive that.)
    """
    if not getattr(raw, "_varco_plan_pending", False):
        cur.execute(_SCAN_SQL, params, prepare=True)
        return
    raw.execute("SET enable_seqscan = off")
    try:
        cur.execute(_SCAN_SQL, params, prepare=True)
    finally:
        raw.execute("RESET enable_seqscan")
    raw._varco_plan_pending = False


def _answer_from_row(row) -> ScanAnswer:
    replay, log_id, ticket_id, result, reason, checked, first, conflict, name, org, tt, key = row
    return ScanAnswer(
        status=result,
        reason=reason,
        attendee=_attendee(name, org, tt),
        checked_in_at=checked,
        first_checked_in_at=first,
        ticket_id=ticket_id,
        log_id=log_id,
        conflict=conflict,
        replay=replay,
        replay_key=key,
    )


def _record_postgres(scan, ticket_id, version, pre, at, received, untrusted) -> ScanAnswer:
    rule = scan.rule
    params = (
        scan.nonce,
        scan.device_id,
        scan.user_id,
        ticket_id,
        rule.event_id,
        rule.id,
        pre,
        version,
        list(rule.ticket_types) if rule.ticket_types is not None else None,
        scan.direction,
        rule.allow_exit,
        rule.allow_reentry,
        at,
        received,
        scan.source,
        scan.local_ok,
        scan.request_key,
        untrusted,
    )
    try:
        # Inside the try: a connection dropped since the last request fails its set-up
        # (``SET plan_cache_mode``) already, which is a 503 like any other lost connection.
        raw = _raw_connection()
        with psycopg.RawCursor(raw) as cur:
            _execute_scan(raw, cur, params)
            row = cur.fetchone()
            if row is None:
                # The log insert met the same (device, nonce) committed by a concurrent
                # request: this is a retry racing its original; answer what the original got.
                cur.execute(_REPLAY_SQL, (scan.device_id, scan.nonce))
                row = cur.fetchone()
            answer = _answer_from_row(row)
            if answer.reason == Reason.ALREADY_CHECKED_IN and answer.first_checked_in_at is None:
                # Lost a race to a scan committed after this statement's snapshot: the
                # answer still says so, with the winner's times read afresh.
                cur.execute(_PRESENCE_SQL, (rule.id, answer.ticket_id))
                found = cur.fetchone()
                if found is not None:
                    answer.first_checked_in_at, answer.checked_in_at = found
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        # The connection is gone (database restarted, network): drop it so the next request
        # reconnects; the client is told to retry (same nonce: recorded at most once).
        connection.close()
        raise ScanUnavailable(str(exc)) from exc
    return answer


# --- other databases: the same rules, several statements, one transaction -----------------------
# The same rules as the statement above and the door page's offline src/admission.js; the table
# checkin/admission_cases.json holds the three to the same answers
# (tests/checkin/test_admission_cases.py).


def _answer_from_log(log: ScanLog, replay: bool) -> ScanAnswer:
    ticket = log.ticket
    attendee = None
    if ticket is not None:
        attendee = _attendee(ticket.attendee.name, ticket.attendee.organisation,
                             ticket.ticket_type.name)
    return ScanAnswer(
        status=log.result,
        reason=log.reason,
        attendee=attendee,
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


def _record_generic(scan, ticket_id, version, pre, at, received, untrusted) -> ScanAnswer:
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
