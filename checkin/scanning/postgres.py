"""The scan on PostgreSQL: one statement reads the ticket, decides, admits and logs.

The statement, its parameters and its execution on the thread's own psycopg connection
(prepared once per connection, planned for any table size). The same rules as the generic
path (``checkin.scanning.generic``) and the door page's ``src/admission.js``: the table
``checkin/admission_cases.json`` holds the three to the same answers.
"""

from __future__ import annotations

import psycopg
from django.db import connection

from checkin.models import Direction, Reason, Result, Source
from checkin.scanning.answer import ScanAnswer, ScanUnavailable, attendee
from core.statements import LOST_PREPARED, stop_preparing
from tickets.models import Ticket

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
# The rule's words come from the models' enums, never typed twice (the generic path and the
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


def _raw_connection():
    """The thread's psycopg connection, opened by Django if needed.

    The hot path talks to psycopg directly with a server-side-binding cursor, so the scan
    statement is parsed and planned once per connection instead of once per scan (planning
    this statement costs ~1.3 ms of database CPU; executing it ~0.3 ms; the backend opens
    connections able to prepare, ``backend.postgres``, with ``VARCO_DB_PREPARED``). Django's
    per-request health check (an extra ``SELECT 1`` round trip) is skipped: a dead connection
    fails the statement, which the caller reports as 503 after closing the connection, so the
    next scan reconnects.
    """
    if connection.connection is None:
        connection.ensure_connection()
    return connection.connection


def _execute_scan(raw, cur, params) -> None:
    """Run the scan statement; the first time on a connection, plan it for any table size.

    The generic plan is made at the first execution and kept. Made while the presence and log
    tables are still small (the first scans of an event), it would read them with sequential
    scans, and keep doing so as they grow to tens of thousands of rows: the plan is made with
    sequential scans disabled, so every lookup in it is by index. (If an ANALYZE later
    invalidates it, PostgreSQL re-plans with the statistics of that time; autovacuum analyses
    again after every ~10% of growth, so a plan made on a small table does not outlive that.)
    """
    if raw.prepare_threshold is None or getattr(raw, "_varco_scan_planned", False):
        cur.execute(_SCAN_SQL, params, prepare=True)  # (unprepared without a threshold)
        return
    raw.execute("SET enable_seqscan = off")
    try:
        cur.execute(_SCAN_SQL, params, prepare=True)
    finally:
        raw.execute("RESET enable_seqscan")
    raw._varco_scan_planned = True


def _answer_from_row(row) -> ScanAnswer:
    replay, log_id, ticket_id, result, reason, checked, first, conflict, name, org, tt, key = row
    return ScanAnswer(
        status=result,
        reason=reason,
        attendee=attendee(name, org, tt),
        checked_in_at=checked,
        first_checked_in_at=first,
        ticket_id=ticket_id,
        log_id=log_id,
        conflict=conflict,
        replay=replay,
        replay_key=key,
    )


def record(scan, ticket_id, version, pre, at, received, untrusted) -> ScanAnswer:
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
        # Inside the try: a connection that cannot be opened is a 503 like any lost one.
        raw = _raw_connection()
        try:
            return _run(raw, params, scan, rule)
        except LOST_PREPARED as exc:
            # A pooler lost the prepared statement (core.statements): prepare no more, and run
            # it again, now unprepared, if it ran on its own.
            if not stop_preparing(raw, exc):
                raise ScanUnavailable(str(exc)) from exc
            return _run(raw, params, scan, rule)
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        # The connection is gone (database restarted, network): drop it so the next request
        # reconnects; the client is told to retry (same nonce: recorded at most once).
        connection.close()
        raise ScanUnavailable(str(exc)) from exc


def _run(raw, params, scan, rule) -> ScanAnswer:
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
    return answer

