"""The organiser's set-up and the registration rush, through the public and organiser APIs."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from backend.eventday.http import Http, percentiles
from backend.eventday.plan import Person, Plan

TIMEZONE = "Europe/Rome"


@dataclass
class Setup:
    event_id: int
    slug: str
    rush_type: int
    invited_type: int
    list_id: int
    devices: list[dict]  # {"id", "token", "gate"}
    other_event_id: int
    other_list_id: int


def _created(reply, what: str) -> dict:
    if reply.status != 201:
        raise RuntimeError(f"creating {what}: {reply.status} {reply.body[:500]!r}")
    return reply.json()


def _event(api: Http, organiser: int, slug: str, name: str, day: dt.date) -> dict:
    return _created(api.post_json("/api/v1/events/", {
        "organiser": organiser, "name": name, "slug": slug,
        "venue": "Teatro Elfo Puccini", "address": "Corso Buenos Aires 33, 20124 Milano",
        "timezone": TIMEZONE, "start": f"{day.isoformat()}T09:30:00",
        "end": f"{day.isoformat()}T17:00:00", "languages": ["it", "en"],
        "registration_open": True,
    }), f"event {slug}")


def set_up(api: Http, plan: Plan, slug: str, day: dt.date) -> Setup:
    """The event, its two ticket types, one check-in list (exits, re-entry), a device per
    gate; and another event of the same organiser, whose codes must be refused here."""
    organisers = api.get("/api/v1/organisers/").json()
    organiser = (organisers["results"] if isinstance(organisers, dict) else organisers)[0]["id"]
    event = _event(api, organiser, slug, "Ma come gira questo Welfare", day)
    base = f"/api/v1/events/{event['id']}"
    rush_type = _created(api.post_json(f"{base}/ticket-types/", {
        "name": "Ingresso", "name_i18n": {"en": "Admission"}, "capacity": plan.capacity,
        "public": True}), "ticket type")["id"]
    invited_type = _created(api.post_json(f"{base}/ticket-types/", {
        "name": "Invitato", "name_i18n": {"en": "Guest"}, "public": False}),
        "guest ticket type")["id"]
    list_id = _created(api.post_json(f"{base}/checkin-lists/", {
        "name": "Ingresso principale", "allow_reentry": True, "allow_exit": True}),
        "check-in list")["id"]
    devices = []
    for gate in range(plan.gates):
        label = f"Porta {chr(ord('A') + gate)}"
        body = _created(api.post_json(f"{base}/devices/", {
            "name": f"Scanner {label}", "gate": label, "lists": [list_id]}), "device")
        devices.append({"id": body["id"], "token": body["token"], "gate": label})
    other = _event(api, organiser, f"{slug}-altro", "Un altro convegno", day)
    _created(api.post_json(f"/api/v1/events/{other['id']}/ticket-types/", {
        "name": "Ingresso", "public": True}), "other ticket type")
    other_list = _created(api.post_json(f"/api/v1/events/{other['id']}/checkin-lists/", {
        "name": "Ingresso"}), "other list")["id"]
    return Setup(event["id"], slug, rush_type, invited_type, list_id, devices, other["id"],
                 other_list)


@dataclass
class RushResult:
    ok: dict[int, dict] = field(default_factory=dict)  # person index -> answer
    refused: Counter = field(default_factory=Counter)  # "<status> <error code>" -> count
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    requests: int = 0
    errors_5xx: int = 0
    unexpected: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "requests": self.requests, "registered": len(self.ok),
            "refused": dict(sorted(self.refused.items())), "server_errors": self.errors_5xx,
            "unexpected": self.unexpected,
            "seconds": round(self.seconds, 2),
            "throughput_per_s": round(self.requests / self.seconds, 1) if self.seconds else 0,
            "latency_ms": percentiles(self.latencies_ms),
        }


def registration_rush(public: Http, plan: Plan, setup: Setup, concurrency: int) -> RushResult:
    """Everybody at once on the public endpoint: more buyers than places, duplicates,
    malformed bodies. Each answer is kept; a 201 is a place sold."""
    path = f"/api/v1/public/events/{setup.slug}/register/"
    jobs: list[tuple[int | None, dict]] = []
    for person in plan.people[: plan.attendees]:
        jobs.append((person.index, {
            "name": person.name, "email": person.email, "organisation": person.organisation,
            "language": person.language, "ticket_type": setup.rush_type}))
    for index in plan.duplicates:  # the same person again: whichever comes first may win
        person = plan.people[index]
        jobs.append((index, {"name": person.name, "email": person.email,
                             "ticket_type": setup.rush_type}))
    jobs += [(None, body) for body in plan.malformed]
    result = RushResult()

    def one(job: tuple[int | None, dict]):
        return job[0], public.post_json(path, job[1])

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for index, reply in pool.map(one, jobs):
            result.requests += 1
            result.latencies_ms.append(reply.seconds * 1000)
            if reply.status == 201:
                if index is None or index in result.ok:  # malformed accepted, or sold twice
                    result.unexpected.append(f"201 for {index=}: {reply.body[:120]!r}")
                else:
                    result.ok[index] = reply.json()
                continue
            if reply.status >= 500:
                result.errors_5xx += 1
            try:
                code = reply.json().get("error", "?")
            except ValueError:
                code = "not-json"
            result.refused[f"{reply.status} {code}"] += 1
    result.seconds = time.perf_counter() - started
    return result


def import_guests(api: Http, plan: Plan, setup: Setup) -> tuple[int, dict]:
    """The invited guests as a CSV upload (all-or-nothing), as the organiser exports them."""
    guests: list[Person] = [p for p in plan.people if p.invited]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["name", "email", "organisation", "language", "ticket_type"])
    for person in guests:
        writer.writerow([person.name, person.email, person.organisation, person.language,
                         "Invitato"])
    reply = api.request("POST", f"/api/v1/events/{setup.event_id}/attendees/import/",
                        buffer.getvalue().encode(), {"Content-Type": "text/csv"})
    body = reply.json() if reply.body else {}
    return reply.status, body


def other_event_tickets(api: Http, setup: Setup, count: int) -> list[int]:
    """A few attendees of the other event (organiser API): their e-mailed codes are the
    "other event's codes" shown at this event's gates."""
    ids = []
    for i in range(count):
        body = _created(api.post_json(f"/api/v1/events/{setup.other_event_id}/attendees/", {
            "name": f"Ospite Altrove {i}", "email": f"altrove{i}@convegno.example"}),
            "other attendee")
        ids.append(body["ticket"]["id"] if "ticket" in body else body["tickets"][0]["id"])
    return ids
