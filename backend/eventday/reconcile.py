"""The reconciliation: every number of the day computed twice — from what the clients saw
(answers, e-mails, stream) and from what the server says (API, scan log) — and compared.
Each disagreement is one line in ``mismatches``; the JSON and an HTML report are written."""

from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from backend.eventday.dashboards import Dashboard, entries_of, exits_of, lag_ms
from backend.eventday.doors import Answer, Gate, latency_by_gate
from backend.eventday.http import percentiles
from backend.eventday.plan import Clock


@dataclass
class Facts:
    """Everything the day produced, for the checks."""

    capacity: int
    rush: dict
    imported: int
    tickets: dict[int, dict]  # id -> API ticket (with delivery), main event only
    people_by_ticket: dict[int, dict]  # id -> {"name", "email"} from the attendees API
    inbox_copies: dict[str, int]
    inbox_message_ids: dict[str, set[str]]
    inbox_recipients: dict[str, str]
    codes: dict[str, str]
    bad_pdfs: list[str]
    refused_addresses: dict[str, str]  # address -> the relay's 550 answer
    gates: list[Gate]
    scan_log: list[dict]
    attendance: dict  # the organiser API's figures at the end
    dashboards: list[Dashboard]
    revoked_key: str | None
    expectations: list[str] = field(default_factory=list)  # mismatches found on the way
    incidents: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)


def _answers(gates: list[Gate]) -> list[Answer]:
    return sorted((a for g in gates for a in g.answers), key=lambda a: a.at)


def reconcile(f: Facts) -> dict:
    miss: list[str] = list(f.expectations)
    answers = _answers(f.gates)
    valid = {i: t for i, t in f.tickets.items() if t["status"] == "valid"}
    rush_sold = f.rush["registered"]
    # Places: what the rush was told it bought is what the server sold, never over capacity.
    if rush_sold > f.capacity:
        miss.append(f"oversold: {rush_sold} registered for {f.capacity} places")
    miss += [f"registration: {u}" for u in f.rush["unexpected"]]
    if f.rush["server_errors"]:
        miss.append(f"registration: {f.rush['server_errors']} server errors")
    registered = len(f.tickets)
    if registered != rush_sold + f.imported:
        miss.append(f"tickets {registered} != registered {rush_sold} + imported {f.imported}")

    # E-mail: each valid ticket's current version delivered once, or failed with the 550.
    delivered = failed = 0
    for ticket_id, ticket in valid.items():
        key = f"{ticket_id}.{ticket['version']}"
        delivery = ticket["delivery"] or {}
        state = delivery.get("state")
        email = f.people_by_ticket.get(ticket_id, {}).get("email", "")
        if email in f.refused_addresses:
            failed += 1
            if state != "failed" or f.refused_addresses[email] not in delivery.get(
                    "last_error", ""):
                miss.append(f"ticket {ticket_id}: refused by the relay but delivery is {state} "
                            f"({delivery.get('last_error', '')[:80]!r})")
            if f.inbox_copies.get(key):
                miss.append(f"ticket {ticket_id}: refused recipient yet received")
            continue
        copies = f.inbox_copies.get(key, 0)
        if state != "sent":
            miss.append(f"ticket {ticket_id}: delivery {state}, not sent")
        if copies == 0:
            miss.append(f"ticket {ticket_id}: no e-mail received")
            continue
        delivered += 1
        if copies > 1 and not (delivery.get("in_doubt_count")
                               and len(f.inbox_message_ids[key]) == 1):
            miss.append(f"ticket {ticket_id}: {copies} copies, not the in-doubt rule's re-send")
        if f.inbox_recipients.get(key) != email:
            miss.append(f"ticket {ticket_id}: sent to {f.inbox_recipients.get(key)} not {email}")
        if key not in f.codes:
            miss.append(f"ticket {ticket_id}: no readable QR code in its PDF")
    miss += [f"PDF {b}" for b in f.bad_pdfs]
    duplicates = sum(c - 1 for c in f.inbox_copies.values() if c > 1)

    # The doors: the devices' view.
    inside_model: dict[str, bool] = {}
    entries = exits = 0
    admitted: set[str] = set()
    admitted_at: list[float] = []
    for a in answers:
        if a.status == "error":
            miss.append(f"{a.gate}: {a.tag} scan answered {a.reason}")
            continue
        if a.status != "ok":
            continue
        if a.type == "entry":
            entries += 1
            admitted.add(a.code)
            admitted_at.append(a.at)
            inside_model[a.code] = True
        elif inside_model.get(a.code):
            exits += 1
            inside_model[a.code] = False
    inside = sum(inside_model.values())
    by_name = {code: None for code in admitted}
    for a in answers:  # the QR decoded to the right ticket: the server names its holder
        if a.status == "ok" and a.type == "entry" and a.tag in ("entry", "reissued"):
            by_name[a.code] = a.name
    holder_of = {code: f.people_by_ticket.get(int(key.split(".")[0]), {}).get("name")
                 for key, code in f.codes.items()}
    for code, name in by_name.items():
        if code in holder_of and name is not None and holder_of[code] != name:
            miss.append(f"code of {holder_of[code]!r} admitted as {name!r}")
    expected_refusals = {"forged": "invalid", "other_event": "wrong_event",
                         "revoked_old": "revoked"}
    for a in answers:
        want = expected_refusals.get(a.tag)
        if want and (a.status != "rejected" or a.reason != want):
            miss.append(f"{a.gate}: {a.tag} code answered {a.status}/{a.reason}, not {want}")
    revoked_gates = {a.gate for a in answers if a.tag == "revoked_old" and a.reason == "revoked"}
    if f.revoked_key and revoked_gates != {g.label for g in f.gates}:
        miss.append(f"old code of the reissued ticket refused at {sorted(revoked_gates)} only")

    # The scan log: every "ok" a device got is there once (by nonce), nothing nobody sent.
    sent_nonces = {a.nonce for a in answers}
    ok_nonces = Counter(a.nonce for a in answers if a.status == "ok")
    logged = Counter(row["nonce"] for row in f.scan_log if row.get("nonce"))
    for nonce in ok_nonces:
        if logged.get(nonce, 0) != 1:
            miss.append(f"ok answer {nonce} is {logged.get(nonce, 0)} times in the scan log")
    strangers = [row["id"] for row in f.scan_log if row.get("nonce") not in sent_nonces]
    if strangers:
        miss.append(f"{len(strangers)} scan log rows no device sent: {strangers[:5]}")
    conflicts_devices = sum(1 for a in answers if a.conflict)
    conflicts_log = sum(1 for row in f.scan_log if row.get("conflict"))

    # The server's figures, and the dashboards' last ones.
    server = {"checked_in": f.attendance.get("checked_in"), "inside": f.attendance.get("inside"),
              "entries": entries_of(f.attendance), "exits": exits_of(f.attendance),
              "conflicts": (f.attendance.get("conflicts") or {}).get("count"),
              "registered": f.attendance.get("registered")}
    model = {"checked_in": len(admitted), "inside": inside, "entries": entries, "exits": exits,
             "conflicts": conflicts_devices, "registered": len(valid)}
    for key, value in model.items():
        if server[key] != value:
            miss.append(f"{key}: devices/clients say {value}, the server {server[key]}")
    if conflicts_log != conflicts_devices:
        miss.append(f"conflicts: devices {conflicts_devices}, scan log {conflicts_log}")
    if inside != entries - exits:
        miss.append(f"inside {inside} != entries {entries} - exits {exits}")
    dashboards = {}
    for board in f.dashboards:
        last = board.last()
        seen = {"checked_in": last.get("checked_in"), "inside": last.get("inside"),
                "entries": entries_of(last), "exits": exits_of(last),
                "conflicts": (last.get("conflicts") or {}).get("count"),
                "registered": last.get("registered")}
        dashboards[board.name] = {**seen, "updates": len(board.updates),
                                  "connects": board.connects, "errors": board.errors[:3]}
        for key, value in seen.items():
            if value != server[key]:
                miss.append(f"dashboard {board.name}: {key} {value}, the server {server[key]}")
    lags = [lag for board in f.dashboards for lag in lag_ms(board, admitted_at)]
    latencies = [a.latency_ms for a in answers if a.latency_ms is not None]
    tags = Counter(f"{a.tag}:{a.status}:{a.reason or ''}" for a in answers)
    return {
        "registered": registered,
        "capacity": f.capacity,
        "places_sold": rush_sold,
        "imported": f.imported,
        "registration": f.rush,
        "delivered": delivered,
        "delivery_failed": failed,
        "email_duplicates_in_doubt": duplicates,
        "checked_in": len(admitted),
        "inside": inside,
        "entries": entries,
        "exits": exits,
        "scans": len(answers),
        "offline_scans": sum(1 for a in answers if a.source == "offline"),
        "conflicts": conflicts_devices,
        "answers_by_plan": dict(sorted(tags.items())),
        "scan_latency_ms": percentiles(latencies),
        "scan_latency_ms_by_gate": latency_by_gate(f.gates),
        "sync_latency_ms": percentiles([x for g in f.gates for x in g.sync_latency_ms]),
        "dashboard_lag_ms": {k: v for k, v in percentiles(lags).items() if k != "max"},
        "dashboards": dashboards,
        "server": server,
        "incidents": f.incidents,
        "timings_s": f.timings,
        "mismatches": miss,
    }


def arrivals(gates: list[Gate], bucket: int = 5) -> list[tuple[float, int]]:
    """Admitted entries per ``bucket`` simulated minutes (first entries only)."""
    first: dict[str, float] = {}
    for a in _answers(gates):
        if a.status == "ok" and a.type == "entry" and a.code not in first:
            first[a.code] = a.minute
    counts = Counter(int(m // bucket) * bucket for m in first.values())
    return sorted(counts.items())


def write_report(result: dict, gates: list[Gate], json_out: Path | None,
                 html_out: Path | None) -> None:
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    if html_out:
        html_out.parent.mkdir(parents=True, exist_ok=True)
        html_out.write_text(_html(result, arrivals(gates)))


def _html(result: dict, curve: list[tuple[float, int]]) -> str:
    width, height, pad = 720, 240, 30
    start, end = 8 * 60 + 30, 12 * 60
    peak = max([c for _, c in curve] or [1])
    step = (width - 2 * pad) / ((end - start) / 5)
    bars = []
    for minute, count in curve:
        if start <= minute < end:
            x = pad + (minute - start) / 5 * step
            h = (height - 2 * pad) * count / peak
            bars.append(f'<rect x="{x:.1f}" y="{height - pad - h:.1f}" width="{step - 1:.1f}" '
                        f'height="{h:.1f}" fill="#2b6cb0"><title>{Clock.label(minute)}: '
                        f'{count}</title></rect>')
    ticks = "".join(
        f'<text x="{pad + (m - start) / 5 * step:.0f}" y="{height - 8}" font-size="11">'
        f'{Clock.label(m)}</text>' for m in range(start, end + 1, 30))
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(json.dumps(v))}</td></tr>"
                   for k, v in result.items() if k != "answers_by_plan")
    verdict = "reconciled" if not result["mismatches"] else \
        f"{len(result['mismatches'])} mismatches"
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Event day</title>"
        "<style>body{font:14px system-ui;margin:2em;max-width:60em}td,th{text-align:left;"
        "padding:2px 8px;vertical-align:top}th{white-space:nowrap}</style>"
        f"<h1>Ma come gira questo Welfare — the day, {html.escape(verdict)}</h1>"
        f"<h2>Arrivals (first entries per 5 simulated minutes, peak {peak})</h2>"
        f'<svg width="{width}" height="{height}" role="img" aria-label="arrivals">'
        f"{''.join(bars)}{ticks}</svg><h2>Reconciliation</h2><table>{rows}</table></html>"
    )
