"""The counts: what the devices and the attendees were told against what the database (the
primary of the moment) and the SMTP sink hold. Each check is a (line, passed) pair."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections import Counter

from backend.scaledrill.engines import Cluster
from backend.scaledrill.hosts import Sink
from backend.scaledrill.wave import SCAN, Device, Wave

Check = tuple[str, bool]


def flood_probe(device: Device, sent: int = 150) -> dict:
    """``sent`` invalid codes from one device, back to back through the balancer (so spread
    over every web host and process): how many were answered, how many refused 429."""
    statuses: Counter = Counter()
    started = time.monotonic()
    for _ in range(sent):
        body = json.dumps({"code": f"NOT-A-TICKET-{secrets.token_hex(8)}",
                           "list": device.list_id, "nonce": str(uuid.uuid4())})
        try:
            reply = device.http.request("POST", SCAN, body.encode(), {
                "Content-Type": "application/json", "Authorization": f"Token {device.token}"})
            statuses[reply.status] += 1
        except OSError:
            device.http._local.connection = None
            statuses["error"] += 1
    return {"sent": sent, "accepted": statuses[200], "limited": statuses[429],
            "other": {str(k): v for k, v in statuses.items() if k not in (200, 429)},
            "seconds": round(time.monotonic() - started, 2)}


def scans(wave: Wave, db: Cluster, attendance: dict) -> list[Check]:
    devices = [d.id for d in wave.devices]
    rows = db.query("SELECT device_id, nonce, result, reason, ticket_id FROM checkin_scanlog "
                    "WHERE device_id = ANY(%s)", [devices])
    logged: dict[tuple[int, str], list] = {}
    for device, nonce, result, reason, ticket in rows:
        logged.setdefault((device, nonce), []).append((result, reason, ticket))
    all_scans = wave.all_scans()
    answered = {(s.device, s.nonce): s for s in all_scans if s.answered is not None}
    unanswered = [s for s in all_scans if s.answered is None]
    lost = [key for key in answered if key not in logged]
    doubled = [key for key, found in logged.items() if len(found) > 1]
    unacknowledged = [key for key in logged if key not in answered]
    differs = [key for key, s in answered.items() if key in logged
               and logged[key][0][0] != ("ok" if s.status == "ok" else "rejected")]
    ok_per_ticket = Counter(found[0][2] for key, found in logged.items()
                            if found[0][0] == "ok")
    told_ok = {logged[key][0][2] for key, s in answered.items()
               if s.status == "ok" and key in logged}
    twice = [t for t, n in ok_per_ticket.items() if n > 1]
    entries_over_one = db.query("SELECT count(*) FROM checkin_presence WHERE entries > 1")[0][0]
    checked_in = db.query("SELECT count(DISTINCT ticket_id) FROM checkin_presence "
                          "WHERE entries > 0")[0][0]
    return [
        (f"every scan answered in the end ({len(answered)} of {len(all_scans)}; "
         f"{len(unanswered)} never answered)", not unanswered),
        (f"no acknowledged scan lost: {len(lost)} of {len(answered)} answered scans missing "
         "from the scan log", not lost),
        (f"no scan doubled: {len(doubled)} nonces with more than one log row", not doubled),
        (f"no log row without an answer: {len(unacknowledged)}", not unacknowledged),
        (f"the log says what the device was told: {len(differs)} differ", not differs),
        (f"no double entry: {len(twice)} tickets with two 'ok' rows, {entries_over_one} "
         "presence rows with entries > 1", not twice and entries_over_one == 0),
        (f"checked in: devices told 'ok' for {len(told_ok)} tickets = {len(ok_per_ticket)} "
         f"'ok' rows = {checked_in} presences = the attendance API's "
         f"{attendance.get('checked_in')}",
         len(told_ok) == len(ok_per_ticket) == checked_in == attendance.get("checked_in")),
    ]


def deliveries(sale: dict, sink: Sink, db: Cluster) -> list[Check]:
    """Every valid ticket of every event (the seeded ones are e-mailed by the sweep, which
    finds tickets issued without a delivery; the sale's by their registration)."""
    rows = db.query(
        "SELECT t.id, t.version, t.event_id, d.state, d.in_doubt_count FROM tickets_ticket t "
        "LEFT JOIN tickets_delivery d ON d.ticket_id = t.id AND d.version = t.version "
        "WHERE t.status = 'valid'")
    copies = sink.handler.per_ticket()
    tickets = {f"{tid}.{version}": (state, doubt) for tid, version, _, state, doubt in rows}
    sold = sum(1 for row in rows if row[2] == sale["id"])
    missing = [k for k in tickets if copies.get(k, 0) == 0]
    repeated = [k for k, (_, doubt) in tickets.items() if copies.get(k, 0) > 1 and not doubt]
    in_doubt = [k for k, (_, doubt) in tickets.items() if copies.get(k, 0) > 1 and doubt]
    unsent = [k for k, (state, _) in tickets.items() if state != "sent"]
    strangers = [k for k in copies if k not in tickets]
    return [
        (f"tickets sold = registrations acknowledged: {sold} = {len(sale['registered'])}",
         sold == len(sale["registered"])),
        (f"every ticket e-mailed ({len(tickets)}): {len(missing)} without a message, "
         f"{len(unsent)} deliveries not 'sent', {len(strangers)} messages for no ticket",
         not missing and not unsent and not strangers),
        (f"exactly once: {len(repeated)} tickets with a second copy outside the in-doubt rule "
         f"({len(in_doubt)} repeated under it)", not repeated),
    ]
