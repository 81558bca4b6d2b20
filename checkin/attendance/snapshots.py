"""What an event's aggregate is shown as: the attendance API object and the dashboard's live
view (figures, feed, chart), serialised once per change for every reader of the process."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
import zoneinfo

from django.core.serializers.json import DjangoJSONEncoder

from checkin.attendance import chart
from checkin.attendance.state import (
    BUCKET_SECONDS,
    PACE_STEP_SECONDS,
    UTC,
    EventState,
    LiveView,
    bucket_of,
)
from checkin.models import Device, Reason
from checkin.scanning import iso
from tickets.models import TicketType

# The arrivals chart covers at most two weeks from the start's day (4,032 buckets): an event
# stored as lasting years (2000 to 2017, which the API accepts) answered 1.8 million buckets
# in 11 s. Later arrivals are counted in ``outside``.
MAX_CHART_SECONDS = 14 * 24 * 3600
GATE_MINUTES = 15  # gate throughput: scans per minute over the last 15 minutes
NAMES_SECONDS = 30.0  # device and ticket-type names are re-read this often
REASONS = [r.value for r in Reason]


def _arrivals(state: EventState) -> dict:
    """Arrivals per 5 minutes over the event's day(s), in the event's time zone.

    The window is the event's hours, widened to arrivals on the same local day(s) (doors
    often open before the start); arrivals on other days are counted in ``outside``.

    Rehearsal: while no first entry falls on the event's day(s), the window is instead the
    latest other day that has some (``rehearsal``: that date), from the hour of its first
    arrival to the end of the hour of its last. An organiser testing the doors the day before,
    or a newcomer scanning the demo (dated 2017) today, sees those scans, labelled as such by
    the dashboard; the event's first real arrival brings the chart back to the event's day.
    """
    tz = zoneinfo.ZoneInfo(state.timezone)
    start_local, end_local = state.start.astimezone(tz), state.end.astimezone(tz)
    day_start = dt.datetime.combine(start_local.date(), dt.time(), tz)
    day_end = dt.datetime.combine(end_local.date() + dt.timedelta(days=1), dt.time(), tz)
    day_end = min(day_end, day_start + dt.timedelta(seconds=MAX_CHART_SECONDS))
    lo, hi = bucket_of(state.start, BUCKET_SECONDS), bucket_of(state.end, BUCKET_SECONDS)
    if hi < state.end.timestamp():
        hi += BUCKET_SECONDS
    first, last = day_start.timestamp(), day_end.timestamp()
    hi = min(hi, bucket_of(day_end, BUCKET_SECONDS))
    outside = 0
    inside_day = {}
    other_days: dict[dt.date, dict[int, int]] = {}
    for bucket, count in state.arrivals.items():
        if count <= 0:
            continue
        if first <= bucket < last:
            inside_day[bucket] = count
            lo = min(lo, bucket)
            hi = max(hi, bucket + BUCKET_SECONDS)
        else:
            outside += count
            day = dt.datetime.fromtimestamp(bucket, tz).date()
            other_days.setdefault(day, {})[bucket] = count
    rehearsal = None
    if not inside_day and other_days:
        rehearsal = max(other_days)
        inside_day = other_days[rehearsal]
        lo = bucket_of(dt.datetime.fromtimestamp(min(inside_day), tz), 3600)
        hi = bucket_of(dt.datetime.fromtimestamp(max(inside_day), tz), 3600) + 3600
    buckets = []
    for bucket in range(lo, hi, BUCKET_SECONDS):
        moment = dt.datetime.fromtimestamp(bucket, tz)
        buckets.append({"start": moment.isoformat(), "count": inside_day.get(bucket, 0)})
    return {
        "bucket_minutes": BUCKET_SECONDS // 60,
        "timezone": state.timezone,
        "start": dt.datetime.fromtimestamp(lo, tz).isoformat(),
        "end": dt.datetime.fromtimestamp(hi, tz).isoformat(),
        "buckets": buckets,
        "outside": outside,
        "rehearsal": rehearsal.isoformat() if rehearsal else None,
    }


def _figures(counts: list[int]) -> dict:
    registered, checked_in, inside, no_shows = counts
    return {
        "registered": registered,
        "checked_in": checked_in,
        "inside": inside,
        "no_shows": no_shows,
    }


def _gates(state: EventState, devices: dict[int, tuple[str, str]], now: dt.datetime) -> list:
    current = bucket_of(now, 60)
    minutes = [current - 60 * k for k in range(GATE_MINUTES - 1, -1, -1)]
    gates: dict[str | None, dict] = {}
    for device_id, counts in state.devices.items():
        if device_id is None:
            label, name = None, None
        else:
            name, gate = devices.get(device_id, (f"#{device_id}", ""))
            label = gate or name
        entry = gates.setdefault(
            label,
            {
                "gate": label,
                "scans": 0,
                "entries": 0,
                "exits": 0,
                "rejected": 0,
                "annulled": 0,
                "per_minute": [0] * GATE_MINUTES,
                "last_minute": 0,
                "devices": [],
            },
        )
        per_minute = [state.minutes.get((device_id, m), 0) for m in minutes]
        for key in ("scans", "entries", "exits", "rejected", "annulled"):
            entry[key] += getattr(counts, key)
        entry["per_minute"] = [a + b for a, b in zip(entry["per_minute"], per_minute, strict=True)]
        # The gate's current pace: its scans in the sliding minute up to now.
        entry["last_minute"] += state.pace(device_id, now)
        entry["devices"].append(
            {
                "id": device_id,
                "name": name,
                "scans": counts.scans,
                "entries": counts.entries,
                "exits": counts.exits,
                "rejected": counts.rejected,
                "annulled": counts.annulled,
                "last_scan_at": iso(counts.last_scan_at),
            }
        )
    state.forget_old_steps(now)
    for entry in gates.values():
        entry["devices"].sort(key=lambda d: (d["name"] or "", d["id"] or 0))
    return sorted(gates.values(), key=lambda g: (g["gate"] is None, g["gate"] or ""))


def _names(state: EventState) -> tuple[dict[int, tuple[str, str]], list[tuple]]:
    """Device names and gates, ticket type names: read again every ``NAMES_SECONDS``, or at
    once when a device appears that they do not name (renames show within that delay)."""
    now = time.monotonic()
    unknown = any(pk is not None and pk not in state.device_names for pk in state.devices)
    if unknown or now - state.names_read_at > NAMES_SECONDS:
        state.device_names = {
            pk: (name, gate)
            for pk, name, gate in Device.objects.filter(event_id=state.event_id).values_list(
                "pk", "name", "gate"
            )
        }
        state.type_names = list(
            TicketType.objects.filter(event_id=state.event_id).values_list(
                "pk", "name", "name_i18n"
            )
        )
        state.names_read_at = now
    return state.device_names, state.type_names


def _attendance(state: EventState, now: dt.datetime) -> dict:
    """The attendance API object (its top-level keys are a contract)."""
    devices, types = _names(state)
    by_type = []
    known = {pk for pk, _, _ in types}
    for pk, name, name_i18n in types:
        by_type.append(
            {"id": pk, "name": name, "name_i18n": name_i18n or {}}
            | _figures(state.by_type.get(pk, [0, 0, 0, 0]))
        )
    for pk, counts in state.by_type.items():
        if pk not in known and any(counts):
            by_type.append({"id": pk, "name": "", "name_i18n": {}} | _figures(counts))
    by_org = [
        {"organisation": org} | _figures(counts)
        for org, counts in state.by_org.items()
        if counts[0] or counts[1]
    ]
    by_org.sort(key=lambda o: (-o["checked_in"], -o["registered"], o["organisation"].casefold()))
    conflicts = []
    for item in reversed(state.recent_conflicts):
        name, gate = devices.get(item["device_id"], (None, None))
        conflicts.append(
            {
                "scan_id": item["scan_id"],
                "ticket_id": item["ticket_id"],
                "name": item["name"],
                "organisation": item["organisation"],
                "device": name,
                "gate": gate or name,
                "scanned_at": iso(item["scanned_at"]),
                "first_checked_in_at": iso(item["first_checked_in_at"]),
            }
        )
    registered, checked_in, inside, no_shows = state.totals
    return {
        "registered": registered,
        "checked_in": checked_in,
        "inside": inside,
        "no_shows": no_shows,
        "arrivals": _arrivals(state),
        "by_ticket_type": by_type,
        "by_organisation": by_org,
        "by_gate": _gates(state, devices, now),
        "rejected": {reason: state.rejected.get(reason, 0) for reason in REASONS},
        "conflicts": {"count": state.conflicts, "recent": conflicts},
        "as_of": iso(now),
    }


def _feed(state: EventState, devices: dict[int, tuple[str, str]]) -> list[dict]:
    items = []
    for item in reversed(state.feed):  # newest scan first
        name, gate = devices.get(item["device_id"], (None, None))
        items.append(
            item | {"scanned_at": iso(item["scanned_at"]), "device": name, "gate": gate or name}
        )
    return items


def _chart_svg(state: EventState, arrivals: dict, now: dt.datetime) -> tuple[str, str]:
    """The chart at a laptop's and at a phone's width (the page shows the one that fits)."""
    # Redrawn only when the bars change or the line's end moves to another 5 minutes.
    key = (tuple(b["count"] for b in arrivals["buckets"]), arrivals["start"],
           bucket_of(now, BUCKET_SECONDS))
    if state.chart_key != key:
        state.chart = chart.render(arrivals, now=now)
        state.chart_phone = chart.render(arrivals, now=now, width=chart.PHONE_WIDTH)
        state.chart_key = key
    return state.chart, state.chart_phone


def _live_view(state: EventState, now: dt.datetime) -> LiveView:
    figures = _attendance(state, now)
    as_of = figures.pop("as_of")
    wide, phone = _chart_svg(state, figures["arrivals"], now)
    payload = {
        "attendance": figures,
        "feed": _feed(state, state.device_names),
        "chart": wide,
        "chart_phone": phone,
        # Every scan-log row up to this id is counted (bar a few still being committed).
        "seq": state.last_row_id,
    }
    # Serialised once for every dashboard of the process. The etag hashes the content without
    # its reading time, so two processes with the same figures give the same etag.
    body = json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"))
    digest = hashlib.sha1(body.encode(), usedforsecurity=False).hexdigest()[:20]
    head = '{"attendance":{'
    text = f'{head}"as_of":{json.dumps(as_of)},{body[len(head):-1]},"etag":"{digest}"}}'
    figures["as_of"] = as_of
    payload["etag"] = digest
    return LiveView(version=state.version, etag=digest, payload=payload, text=text)


def current_view(state: EventState, now: dt.datetime | None = None) -> LiveView:
    """The cached view, computed again when the figures changed or when time moved it on: a
    new pace step (5 s) shifts the gates' sliding minute even with no new scan."""
    now = now or dt.datetime.now(UTC)
    step = bucket_of(now, PACE_STEP_SECONDS)
    view = state.view
    if view is None or view.version != state.version or state.view_step != step:
        view = state.view = _live_view(state, now)
        state.view_step = step
    return view
