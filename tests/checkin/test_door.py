"""Manual check-in, undo, offline snapshot/upload/reconciliation and the changes feed."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from checkin.models import Presence, ScanLog
from tests.support.checkin import Door, make_device, make_list
from tickets import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def door_list(event):
    return make_list(event)


@pytest.fixture
def door(event, door_list) -> Door:
    _, token = make_device(event, [door_list], name="Porta A")
    return Door(token, door_list)


@pytest.fixture
def other_door(event, door_list) -> Door:
    _, token = make_device(event, [door_list], name="Porta B")
    return Door(token, door_list)


# --- search and manual check-in ------------------------------------------------------------------


def test_search_by_name_organisation_and_reference(door, register):
    giulia = register(name="Giulia Rossi", email="g@example.org", organisation="Coop Il Sole")
    register(name="Marco Bianchi", email="m@example.org", organisation="ACLI Milano")
    by_name = door.get("/api/v1/checkin/search/", q="rossi").json()["results"]
    assert [r["name"] for r in by_name] == ["Giulia Rossi"]
    assert by_name[0]["ticket"] == giulia.pk and by_name[0]["checked_in"] is False
    by_org = door.get("/api/v1/checkin/search/", q="acli").json()["results"]
    assert [r["name"] for r in by_org] == ["Marco Bianchi"]
    reference = giulia.reference.replace("-", "").lower()
    by_ref = door.get("/api/v1/checkin/search/", q=reference).json()["results"]
    assert [r["ticket"] for r in by_ref] == [giulia.pk]


def test_search_is_scoped_to_the_device_event(door, organiser):
    from tests.support.factories import make_event
    from tickets.models import TicketType

    other = make_event(organiser, slug="elsewhere")
    TicketType.objects.create(event=other, name="Ingresso")
    services.register(other, services.Registration("Giulia Rossi", "g@example.org"))
    assert door.get("/api/v1/checkin/search/", q="rossi").json()["results"] == []


def test_manual_check_in_is_logged_as_manual(door, register):
    ticket = register()
    body = {"ticket": ticket.pk, "list": door.list.pk, "nonce": str(uuid.uuid4())}
    first = door.post("/api/v1/checkin/manual/", body).json()
    assert first["status"] == "ok" and first["attendee"]["name"] == "Giulia Rossi"
    again = door.post("/api/v1/checkin/manual/", {**body, "nonce": str(uuid.uuid4())}).json()
    assert again["reason"] == "already_checked_in"
    assert door.scan(services.ticket_code(ticket))["reason"] == "already_checked_in"
    assert list(ScanLog.objects.order_by("id").values_list("source", flat=True)) == [
        "manual", "manual", "scan"
    ]
    found = door.get("/api/v1/checkin/search/", q="giulia").json()["results"][0]
    assert found["checked_in"] is True and found["first_checked_in_at"] == first["checked_in_at"]


def test_manual_check_in_of_a_revoked_ticket_is_refused(door, register):
    ticket = services.revoke_ticket(register())
    answer = door.post("/api/v1/checkin/manual/", {"ticket": ticket.pk, "list": door.list.pk})
    assert answer.json()["reason"] == "revoked"


def test_manual_check_in_validates_input(door):
    response = door.post("/api/v1/checkin/manual/", {"ticket": "12", "list": door.list.pk})
    assert response.status_code == 400 and "ticket" in response.json()["fields"]


# --- undo ----------------------------------------------------------------------------------------


def test_annul_undoes_the_devices_own_recent_scan(door, register):
    ticket = register()
    code = services.ticket_code(ticket)
    nonce = str(uuid.uuid4())
    assert door.scan(code, nonce=nonce)["status"] == "ok"
    response = door.post("/api/v1/checkin/annul/", {"nonce": nonce})
    assert response.status_code == 200
    assert response.json()["status"] == "annulled"
    presence = Presence.objects.get()
    assert (presence.entries, presence.inside, presence.first_entry_at) == (0, False, None)
    # the right person can now come in
    assert door.scan(code)["status"] == "ok"
    # undoing twice is harmless and returns the same undo
    again = door.post("/api/v1/checkin/annul/", {"nonce": nonce})
    assert again.status_code == 200 and again.json() == response.json()
    rows = list(ScanLog.objects.order_by("id").values_list("direction", "result", "annuls_id"))
    first_id = ScanLog.objects.order_by("id").first().pk
    assert rows == [("entry", "ok", None), ("annul", "ok", first_id), ("entry", "ok", None)]


def test_annul_refuses_others_old_rejected_and_unknown_scans(door, other_door, register):
    ticket = register()
    code = services.ticket_code(ticket)
    mine, theirs, rejected, old = (str(uuid.uuid4()) for _ in range(4))
    assert other_door.scan(code, nonce=theirs)["status"] == "ok"
    assert door.scan(code, nonce=rejected)["reason"] == "already_checked_in"

    response = door.post("/api/v1/checkin/annul/", {"nonce": theirs})
    assert response.status_code == 404 and "nonce" in response.json()["fields"]
    response = door.post("/api/v1/checkin/annul/", {"nonce": rejected})
    assert response.status_code == 400 and response.json()["error"] == "not_accepted"
    response = door.post("/api/v1/checkin/annul/", {"nonce": mine})
    assert response.status_code == 404

    late = register(email="late@example.org")
    assert door.scan(services.ticket_code(late), nonce=old)["status"] == "ok"
    ScanLog.objects.filter(nonce=old).update(
        received_at=timezone.now() - dt.timedelta(minutes=16)
    )
    response = door.post("/api/v1/checkin/annul/", {"nonce": old})
    assert response.status_code == 400 and response.json()["error"] == "too_old"
    assert door.post("/api/v1/checkin/annul/", {}).status_code == 400
    assert door.client.get("/api/v1/checkin/annul/").status_code == 405


def test_annul_of_an_exit_puts_the_person_back_inside(event, register):
    hall = make_list(event, "Sala", allow_exit=True)
    _, token = make_device(event, [hall])
    door = Door(token, hall)
    code = services.ticket_code(register())
    door.scan(code)
    nonce = str(uuid.uuid4())
    assert door.scan(code, nonce=nonce, type="exit")["status"] == "ok"
    assert Presence.objects.get().inside is False
    assert door.post("/api/v1/checkin/annul/", {"nonce": nonce}).status_code == 200
    presence = Presence.objects.get()
    assert (presence.inside, presence.exits) == (True, 0)


# --- offline -------------------------------------------------------------------------------------


def test_snapshot_has_lists_keys_tickets_revoked_and_presence(door, register, event):
    kept = register(email="kept@example.org", name="Anna Neri", organisation="Caritas")
    gone = services.revoke_ticket(register(email="gone@example.org"))
    door.scan(services.ticket_code(kept))
    data = door.get("/api/v1/checkin/snapshot/").json()
    assert data["event"]["id"] == event.pk
    assert [lst["id"] for lst in data["lists"]] == [door.list.pk]
    assert data["lists"][0]["ticket_types"] is None
    key = event.keys.get(active=True)
    assert {"id": key.pk, "event": event.pk, "public_key": key.public_key} in data["keys"]
    fields = data["ticket_fields"]
    tickets = {row[0]: dict(zip(fields, row, strict=True)) for row in data["tickets"]}
    assert tickets[kept.pk]["name"] == "Anna Neri"
    assert tickets[kept.pk]["organisation"] == "Caritas"
    assert tickets[kept.pk]["version"] == kept.version
    assert gone.pk not in tickets
    assert [gone.pk, gone.version] in data["revoked"]
    presence = [dict(zip(data["presence_fields"], row, strict=True)) for row in data["presence"]]
    assert presence[0]["ticket"] == kept.pk and presence[0]["inside"] is True
    assert data["cursor"]


def test_snapshot_carries_the_ticket_type_translations(door, ticket_type):
    """The door page shows the ticket type in its own language, offline too (issue 13)."""
    kind = ticket_type
    data = door.get("/api/v1/checkin/snapshot/").json()
    assert data["ticket_types"][str(kind.pk)] == kind.name
    assert data["ticket_type_names"] == {str(kind.pk): {"en": "Admission"}}


def test_snapshot_carries_the_invalid_code_allowance(door, settings):
    """The door page applies the device's allowance of invalid codes offline (src/flood.js):
    the snapshot carries the server's settings, which stay the numbers' one owner."""
    assert door.get("/api/v1/checkin/snapshot/").json()["invalid_code_limit"] == {
        "rate": 5.0, "burst": 20.0}
    settings.VARCO_SCAN_INVALID_RATE = 0
    settings.VARCO_SCAN_INVALID_BURST = 0
    assert door.get("/api/v1/checkin/snapshot/").json()["invalid_code_limit"] == {
        "rate": 0.0, "burst": 1.0}


def test_offline_upload_reconciles_two_offline_devices(door, other_door, register):
    ticket = register()
    code = services.ticket_code(ticket)
    early = timezone.now() - dt.timedelta(minutes=30)
    later = early + dt.timedelta(minutes=5)
    upload_a = {"scans": [{"code": code, "list": door.list.pk, "nonce": "a-1",
                           "scanned_at": early.isoformat()}]}
    upload_b = {"scans": [{"code": code, "list": door.list.pk, "nonce": "b-1",
                           "scanned_at": later.isoformat(), "local_status": "ok"}]}
    result_a = door.post("/api/v1/checkin/sync/", upload_a).json()["results"]
    result_b = other_door.post("/api/v1/checkin/sync/", upload_b).json()["results"]
    assert result_a[0]["status"] == "ok" and result_a[0]["conflict"] is False
    assert result_b[0]["reason"] == "already_checked_in" and result_b[0]["conflict"] is True
    presence = Presence.objects.get()
    assert presence.entries == 1
    assert presence.first_entry_at == early
    conflict = ScanLog.objects.get(conflict=True)
    assert (conflict.nonce, conflict.source, conflict.scanned_at) == ("b-1", "offline", later)
    # uploading again (a lost answer) records nothing new and answers the same
    again = other_door.post("/api/v1/checkin/sync/", upload_b).json()["results"]
    assert again == result_b
    assert ScanLog.objects.count() == 2


def test_offline_upload_in_scanned_order_and_local_rejections_are_not_conflicts(door, register):
    ticket = register()
    code = services.ticket_code(ticket)
    base = timezone.now() - dt.timedelta(minutes=10)
    scans = [
        # sent out of order: the server sorts by scanned_at
        {"code": code, "list": door.list.pk, "nonce": "n2", "local_status": "rejected",
         "scanned_at": (base + dt.timedelta(minutes=1)).isoformat()},
        {"code": code, "list": door.list.pk, "nonce": "n1", "scanned_at": base.isoformat()},
        {"code": "GARBAGE", "list": door.list.pk, "nonce": "n3",
         "scanned_at": base.isoformat()},
        {"ticket": ticket.pk, "list": door.list.pk, "nonce": "n4",
         "scanned_at": (base + dt.timedelta(minutes=2)).isoformat()},
    ]
    results = {r["nonce"]: r for r in door.post("/api/v1/checkin/sync/", {"scans": scans})
               .json()["results"]}
    assert results["n1"]["status"] == "ok"
    assert results["n2"]["reason"] == "already_checked_in" and not results["n2"]["conflict"]
    assert results["n3"]["reason"] == "invalid"
    assert results["n4"]["reason"] == "already_checked_in" and results["n4"]["conflict"]
    assert ScanLog.objects.filter(source="offline").count() == 4


def test_offline_upload_validation_names_the_item_field(door):
    bad = {"scans": [{"code": "X", "list": door.list.pk, "nonce": "n1"},
                     {"list": door.list.pk, "nonce": "n2", "scanned_at": "2017-09-22T10:00Z"}]}
    response = door.post("/api/v1/checkin/sync/", bad)
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"scans[0].scanned_at", "scans[1].code"}
    assert door.post("/api/v1/checkin/sync/", {"scans": "nope"}).status_code == 400
    too_many = {"scans": [{}] * 501}
    assert door.post("/api/v1/checkin/sync/", too_many).status_code == 400


def test_changes_feed_shows_other_devices_scans_and_revocations(door, other_door, register):
    ticket = register()
    revoked_later = register(email="later@example.org")
    cursor = door.get("/api/v1/checkin/snapshot/").json()["cursor"]
    other_door.scan(services.ticket_code(ticket))
    services.revoke_ticket(revoked_later)
    feed = door.get("/api/v1/checkin/changes/", since=cursor).json()
    seen = [(s["ticket"], s["type"], s["own"]) for s in feed["scans"]]
    assert seen == [(ticket.pk, "entry", False)]
    presence = [dict(zip(feed["presence_fields"], row, strict=True)) for row in feed["presence"]]
    assert presence == [{"list": door.list.pk, "ticket": ticket.pk, "inside": True, "entries": 1,
                         "first_entry_at": presence[0]["first_entry_at"]}]
    statuses = {row[0]: row[2] for row in feed["tickets"]}
    assert statuses[revoked_later.pk] == "revoked"
    assert feed["cursor"] >= cursor
    assert door.get("/api/v1/checkin/changes/").status_code == 400
    assert door.get("/api/v1/checkin/changes/", since="soon").status_code == 400


def test_whoami_after_pairing(door, event):
    data = door.get("/api/v1/checkin/device/").json()
    assert data["device"]["name"] == "Porta A"
    assert data["event"]["name"] == event.name
    assert [lst["name"] for lst in data["lists"]] == ["Ingresso principale"]


def test_device_endpoints_need_a_device_token(door):
    from django.test import Client

    client = Client()
    for path in ("/api/v1/checkin/snapshot/", "/api/v1/checkin/changes/",
                 "/api/v1/checkin/search/", "/api/v1/checkin/device/"):
        assert client.get(path).status_code == 401
    for path in ("/api/v1/checkin/annul/", "/api/v1/checkin/manual/", "/api/v1/checkin/sync/"):
        assert client.post(path, "{}", content_type="application/json").status_code == 401
    assert door.client.post("/api/v1/checkin/snapshot/",
                            HTTP_AUTHORIZATION=f"Token {door.token}").status_code == 405

