"""The attendance API against a known scan history made through the real check-in endpoints.

Every scan below goes through the door API (``/api/v1/checkin/scan/``, ``/sync/``, ``/annul/``)
or the organiser's manual check-in, so the figures are checked against what the scan path really
writes. Each history is read twice: by an aggregate that watched it happen (incremental ticks)
and by one built from scratch afterwards; both must give the expected figures.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid

import pytest
from django.utils import timezone

from checkin import attendance
from checkin.attendance import hub as attendance_hub
from checkin.models import ScanLog
from tests.support.checkin import Door, make_device, make_list
from tests.support.factories import make_event
from tickets import services
from tickets.models import TicketType

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/{}/attendance/"
TOP_LEVEL_KEYS = {
    "registered", "checked_in", "inside", "no_shows", "arrivals", "by_ticket_type",
    "by_organisation", "by_gate", "rejected", "conflicts", "as_of",
}


@pytest.fixture(autouse=True)
def _fresh_attendance(settings):
    """Each test starts with no aggregate (the database is rolled back between tests), and
    every read catches up with the log (no tick to wait for)."""
    settings.VARCO_ATTENDANCE_TICK_MS = 0
    attendance.reset()
    yield
    attendance.reset()


@pytest.fixture
def speaker_type(live_event):
    return TicketType.objects.create(event=live_event, name="Relatore", name_i18n={"en": "Speaker"})


@pytest.fixture
def admission(live_event):
    return TicketType.objects.create(event=live_event, name="Ingresso",
                                     name_i18n={"en": "Admission"})


def _register(event, n, organisation, ticket_type):
    return services.register(
        event,
        services.Registration(f"Persona {n}", f"p{n}@example.org", organisation,
                              ticket_type_id=ticket_type.pk),
    )


def _without_clock(figures: dict) -> dict:
    """The figures less what depends on the reading's instant (as_of, the sliding minutes)."""
    figures = dict(figures)
    figures.pop("as_of")
    figures["by_gate"] = [
        {k: v for k, v in gate.items() if k not in ("per_minute", "last_minute")}
        for gate in figures["by_gate"]
    ]
    return figures


def _fresh_figures(event) -> dict:
    attendance.reset()
    return attendance.attendance(event)


def test_known_history(live_event, admission, speaker_type, organiser, staff, api):
    event = live_event
    t = {}
    for n in (1, 2, 3):
        t[n] = _register(event, n, "Coop Il Sole", admission)
    for n in (4, 5):
        t[n] = _register(event, n, "Comune di Milano", admission)
    t[6] = _register(event, 6, "Comune di Milano", speaker_type)
    t[7] = _register(event, 7, "Fondazione X", speaker_type)
    for n in (8, 9, 10):
        t[n] = _register(event, n, "Fondazione X", admission)
    code = {n: services.ticket_code(ticket) for n, ticket in t.items()}
    revoked_code = code[9]
    services.revoke_ticket(t[9])

    hall = make_list(event, "Ingresso principale", allow_reentry=True, allow_exit=True)
    _, token_a = make_device(event, [hall], name="Porta A", gate="Ingresso A")
    _, token_b = make_device(event, [hall], name="Porta B", gate="Ingresso B")
    _, token_c = make_device(event, [hall], name="Telefono 2", gate="Ingresso A")
    a, b, c = Door(token_a, hall), Door(token_b, hall), Door(token_c, hall)

    # An aggregate that watches from the start, as a dashboard would.
    before = attendance.attendance(event)
    assert (before["registered"], before["checked_in"], before["no_shows"]) == (9, 0, 9)

    assert a.scan(code[1])["status"] == "ok"
    assert b.scan(code[2])["status"] == "ok"
    assert b.scan(code[1])["reason"] == "already_checked_in"  # inside already
    assert a.scan(code[1], type="exit")["status"] == "ok"
    assert c.scan(code[1])["status"] == "ok"  # re-entry
    assert a.scan(code[3])["status"] == "ok"
    assert b.scan(code[3], type="exit")["status"] == "ok"  # left for good
    assert a.scan("not-a-ticket-at-all")["reason"] == "invalid"
    assert c.scan(revoked_code)["reason"] == "revoked"
    nonce = str(uuid.uuid4())
    assert b.scan(code[4], nonce=nonce)["status"] == "ok"
    middle = attendance.attendance(event)  # a tick in the middle of the history
    assert (middle["checked_in"], middle["inside"]) == (4, 3)
    undo = b.post("/api/v1/checkin/annul/", {"nonce": nonce})
    assert undo.status_code == 200, undo.content
    opened = event.start + dt.timedelta(minutes=12)
    late, early = str(uuid.uuid4()), str(uuid.uuid4())
    sync = a.post("/api/v1/checkin/sync/", {"scans": [
        {"code": code[2], "list": hall.pk, "nonce": late,
         "scanned_at": (timezone.now() - dt.timedelta(minutes=1)).isoformat()},
        {"code": code[5], "list": hall.pk, "nonce": early, "scanned_at": opened.isoformat()},
    ]})
    results = {r["nonce"]: (r["status"], r["reason"], r["conflict"])
               for r in sync.json()["results"]}
    assert results == {early: ("ok", None, False),
                       late: ("rejected", "already_checked_in", True)}
    manual = api.post(f"/api/v1/events/{event.pk}/checkin-lists/{hall.pk}/check-in/",
                      {"ticket": t[6].pk}, format="json")
    assert manual.json()["status"] == "ok", manual.content
    other = make_event(organiser, slug="other-conf")
    other_type = TicketType.objects.create(event=other, name="Ingresso")
    foreign = services.register(other, services.Registration(
        "Anna Neri", "anna@example.org", ticket_type_id=other_type.pk))
    assert c.scan(services.ticket_code(foreign))["reason"] == "wrong_event"

    watched = attendance.attendance(event)
    fresh = _fresh_figures(event)
    assert _without_clock(watched) == _without_clock(fresh)
    response = api.get(URL.format(event.pk))
    assert response.status_code == 200
    figures = response.json()
    assert set(figures) == TOP_LEVEL_KEYS

    # t1 (back in), t2, t3 (left), t5 (offline), t6 (manual) came; t4's entry was undone.
    assert figures["registered"] == 9
    assert figures["checked_in"] == 5
    assert figures["inside"] == 4
    assert figures["no_shows"] == 4
    assert figures["rejected"] == {
        "already_checked_in": 2, "invalid": 1, "unknown": 0, "revoked": 1, "wrong_event": 1,
        "not_allowed": 0, "closed": 0,
    }
    assert figures["conflicts"]["count"] == 1
    assert [c["name"] for c in figures["conflicts"]["recent"]] == ["Persona 2"]
    assert figures["conflicts"]["recent"][0]["gate"] == "Ingresso A"

    types = {row["name"]: row for row in figures["by_ticket_type"]}
    assert {k: types["Ingresso"][k] for k in ("registered", "checked_in", "inside", "no_shows")} \
        == {"registered": 7, "checked_in": 4, "inside": 3, "no_shows": 3}
    assert {k: types["Relatore"][k] for k in ("registered", "checked_in", "inside", "no_shows")} \
        == {"registered": 2, "checked_in": 1, "inside": 1, "no_shows": 1}
    assert types["Relatore"]["name_i18n"] == {"en": "Speaker"}

    orgs = {row["organisation"]: row for row in figures["by_organisation"]}
    assert orgs["Coop Il Sole"] == {"organisation": "Coop Il Sole", "registered": 3,
                                         "checked_in": 3, "inside": 2, "no_shows": 0}
    assert orgs["Comune di Milano"] == {"organisation": "Comune di Milano", "registered": 3,
                                        "checked_in": 2, "inside": 2, "no_shows": 1}
    assert orgs["Fondazione X"] == {"organisation": "Fondazione X", "registered": 3,
                                    "checked_in": 0, "inside": 0, "no_shows": 3}
    # Most present first.
    assert [o["organisation"] for o in figures["by_organisation"]] == [
        "Coop Il Sole", "Comune di Milano", "Fondazione X"]

    gates = {g["gate"]: g for g in figures["by_gate"]}
    assert set(gates) == {"Ingresso A", "Ingresso B", None}
    counts = ("scans", "entries", "exits", "rejected", "annulled")
    # A: t1 in, t1 out, t3 in, garbage, offline t2 (conflict), offline t5; C: t1 back in,
    # revoked, wrong event.
    assert {k: gates["Ingresso A"][k] for k in counts} == {
        "scans": 9, "entries": 4, "exits": 1, "rejected": 4, "annulled": 0}
    assert sorted(d["name"] for d in gates["Ingresso A"]["devices"]) == ["Porta A", "Telefono 2"]
    # B: t2 in, t1 refused, t3 out, t4 in (undone).
    assert {k: gates["Ingresso B"][k] for k in counts} == {
        "scans": 4, "entries": 1, "exits": 1, "rejected": 1, "annulled": 1}
    # Staff's manual check-in from the organiser API: no device.
    assert {k: gates[None][k] for k in counts} == {
        "scans": 1, "entries": 1, "exits": 0, "rejected": 0, "annulled": 0}
    # Per minute: every live scan happened in the last minutes (the offline ones did not).
    assert sum(gates["Ingresso A"]["per_minute"]) == 8
    assert sum(gates["Ingresso B"]["per_minute"]) == 4
    assert len(gates["Ingresso B"]["per_minute"]) == 15

    arrivals = figures["arrivals"]
    assert arrivals["bucket_minutes"] == 5
    assert arrivals["timezone"] == "Europe/Rome"
    assert sum(b["count"] for b in arrivals["buckets"]) + arrivals["outside"] == 5
    by_start = {dt.datetime.fromisoformat(b["start"]): b["count"] for b in arrivals["buckets"]}
    slot = dt.datetime.fromtimestamp(
        opened.timestamp() - opened.timestamp() % 300, event.tzinfo)
    assert by_start[slot] == 1  # t5, scanned offline 12 minutes after the start
    first = dt.datetime.fromisoformat(arrivals["buckets"][0]["start"])
    assert first <= event.start < first + dt.timedelta(minutes=5)
    assert dt.datetime.fromisoformat(arrivals["end"]) >= event.end


def test_incremental_figures_match_a_rebuild_over_a_random_history(
    live_event, admission, speaker_type, staff, api, monkeypatch
):
    """Scans, exits, undos, offline uploads, manual check-ins, registrations, revocations and
    reissues in a random order over two lists: after every few steps the aggregate that
    watched (one tick per step) equals one built from scratch."""
    monkeypatch.setattr(attendance_hub, "MIN_REBUILD_INTERVAL", 0)
    monkeypatch.setattr(attendance_hub, "SYNC_SECONDS", 0)  # registrations: seen at once
    event = live_event
    rng = random.Random(20170922)
    hall = make_list(event, "Ingresso", allow_reentry=True, allow_exit=True)
    workshop = make_list(event, "Laboratorio", ticket_types=[speaker_type])
    doors = []
    for name, gate in (("Porta A", "A"), ("Porta B", "B"), ("Laboratorio", "")):
        _, token = make_device(event, [hall, workshop], name=name, gate=gate)
        doors.append(Door(token, hall))
    orgs = [f"Organizzazione {k}" for k in range(5)]
    tickets = []
    serial = 0

    def register():
        nonlocal serial
        serial += 1
        kind = speaker_type if serial % 4 == 0 else admission
        tickets.append(_register(event, serial, rng.choice(orgs), kind))

    for _ in range(25):
        register()
    codes = [services.ticket_code(t) for t in tickets]
    nonces: list[tuple[Door, str]] = []

    def step():
        op = rng.choices(
            ["entry", "exit", "undo", "offline", "manual", "register", "revoke", "reissue",
             "garbage", "old_code"],
            weights=[40, 12, 6, 8, 4, 4, 2, 2, 3, 3],
        )[0]
        door = rng.choice(doors)
        target = rng.choice([hall.pk, hall.pk, workshop.pk])
        index = rng.randrange(len(tickets))
        ticket = tickets[index]
        ticket.refresh_from_db()
        if op in ("entry", "exit"):
            nonce = str(uuid.uuid4())
            answer = door.scan(services.ticket_code(ticket) if ticket.status == "valid"
                               else codes[index], nonce=nonce, list_id=target,
                               type="exit" if op == "exit" and target == hall.pk else "entry")
            if answer["status"] == "ok":
                nonces.append((door, nonce))
        elif op == "undo" and nonces:
            door, nonce = nonces.pop(rng.randrange(len(nonces)))
            assert door.post("/api/v1/checkin/annul/", {"nonce": nonce}).status_code in (200, 400)
        elif op == "offline":
            at = event.start + dt.timedelta(minutes=rng.randrange(0, 200))
            response = door.post("/api/v1/checkin/sync/", {"scans": [
                {"code": services.ticket_code(ticket) if ticket.status == "valid" else codes[index],
                 "list": hall.pk, "nonce": str(uuid.uuid4()), "scanned_at": at.isoformat()}]})
            assert response.status_code == 200, response.content
        elif op == "manual":
            api.post(f"/api/v1/events/{event.pk}/checkin-lists/{hall.pk}/check-in/",
                     {"ticket": ticket.pk}, format="json")
        elif op == "register":
            register()
            codes.append(services.ticket_code(tickets[-1]))
        elif op == "revoke":
            services.revoke_ticket(ticket)
        elif op == "reissue" and ticket.status == "valid":
            services.reissue_ticket(ticket)
        elif op in ("garbage", "old_code"):
            door.scan("garbage" if op == "garbage" else codes[index], list_id=target)

    for round_ in range(12):
        for _ in range(8):
            step()
            attendance.attendance(event)  # the watching aggregate ticks after each step
        watched = attendance.attendance(event)
        fresh = attendance.attendance(event, using=attendance.Hub())
        assert _without_clock(watched) == _without_clock(fresh), f"round {round_}"
    assert ScanLog.objects.filter(event=event).count() > 60
    assert 0 < watched["checked_in"] <= watched["registered"] + 5


def test_registrations_revocations_and_a_moved_event_reach_a_watching_aggregate(
    live_event, admission, monkeypatch
):
    """Changes no scan announces: seen on the next registration check (every second)."""
    monkeypatch.setattr(attendance_hub, "SYNC_SECONDS", 0)
    monkeypatch.setattr(attendance_hub, "MIN_REBUILD_INTERVAL", 0)
    first = _register(live_event, 1, "Coop Il Sole", admission)
    watched = attendance.attendance(live_event)
    assert (watched["registered"], watched["no_shows"]) == (1, 1)
    _register(live_event, 2, "Comune di Milano", admission)
    watched = attendance.attendance(live_event)
    assert watched["registered"] == 2
    assert {o["organisation"] for o in watched["by_organisation"]} == {
        "Coop Il Sole", "Comune di Milano"}
    services.revoke_ticket(first)
    attendance.attendance(live_event)  # notices the revocation, rebuilds on the next tick
    watched = attendance.attendance(live_event)
    assert (watched["registered"], watched["no_shows"]) == (1, 1)
    earlier = live_event.start - dt.timedelta(hours=1)
    type(live_event).objects.filter(pk=live_event.pk).update(start=earlier)
    moved = attendance.attendance(live_event)["arrivals"]
    assert dt.datetime.fromisoformat(moved["start"]) <= earlier


def test_a_tick_cut_short_by_the_database_is_made_good_by_a_rebuild(
    live_event, admission, monkeypatch
):
    monkeypatch.setattr(attendance_hub, "MIN_REBUILD_INTERVAL", 0)
    hall = make_list(live_event, "Ingresso")
    _, token = make_device(live_event, [hall])
    door = Door(token, hall)
    ticket = _register(live_event, 1, "Coop Il Sole", admission)
    assert attendance.attendance(live_event)["checked_in"] == 0
    door.scan(services.ticket_code(ticket))

    def unreachable(*args, **kwargs):
        from django.db import OperationalError

        raise OperationalError("server closed the connection unexpectedly")

    with monkeypatch.context() as patch:
        patch.setattr(attendance_hub, "_refresh_people", unreachable)
        with pytest.raises(Exception, match="closed the connection"):
            attendance.attendance(live_event)  # the row was read, the attendee was not
    figures = attendance.attendance(live_event)
    assert (figures["checked_in"], figures["inside"]) == (1, 1)
    assert figures["by_gate"][0]["entries"] == 1  # counted once, not twice
