"""Organiser side of check-in: lists, devices and tokens, the scan log, admin, demo export."""

from __future__ import annotations

import json
import uuid

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from checkin.devices import hash_token
from checkin.models import CheckinList, Device, ScanLog
from tests.support.checkin import SCAN_URL, Door, make_device, make_list
from tests.support.factories import make_event
from tickets import onboarding
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db


def _lists_url(event) -> str:
    return f"/api/v1/events/{event.pk}/checkin-lists/"


def _devices_url(event) -> str:
    return f"/api/v1/events/{event.pk}/devices/"


def test_create_list_and_device_then_scan_with_the_token(api, event, ticket_type, register):
    response = api.post(_lists_url(event), {"name": "Ingresso principale",
                                            "allow_exit": True}, format="json")
    assert response.status_code == 201, response.content
    list_id = response.json()["id"]
    assert response.json()["ticket_types"] == []

    response = api.post(_devices_url(event), {"name": "Telefono 1", "gate": "Ingresso A"},
                        format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    token = data["token"]
    assert data["lists"] == [list_id]  # default: every list of the event
    assert data["pairing_url"].endswith(f"/scan/#pair={token}")
    assert data["pairing_qr_svg"].lstrip().startswith("<")
    device = Device.objects.get(pk=data["id"])
    assert device.token_hash == hash_token(token) and token not in device.token_hash
    # the token is never shown again
    listed = api.get(_devices_url(event)).json()["results"][0]
    assert "token" not in listed and listed["token_hint"] == token[-4:]

    ticket = register()
    answer = Door(token, CheckinList.objects.get(pk=list_id)).scan(
        ticket_services.ticket_code(ticket)
    )
    assert answer["status"] == "ok"


def test_list_validation(api, event, organiser):
    other = make_event(organiser, slug="other")
    from tickets.models import TicketType

    foreign_type = TicketType.objects.create(event=other, name="X")
    response = api.post(_lists_url(event), {"name": "A", "ticket_types": [foreign_type.pk]},
                        format="json")
    assert response.status_code == 400 and "ticket_types" in response.json()["fields"]
    response = api.post(_lists_url(event), {"name": "A", "opens_at": "2017-09-22T10:00:00Z",
                                            "closes_at": "2017-09-22T09:00:00Z"}, format="json")
    assert response.status_code == 400 and "closes_at" in response.json()["fields"]
    assert api.post(_lists_url(event), {"name": "A"}, format="json").status_code == 201
    response = api.post(_lists_url(event), {"name": "A"}, format="json")
    assert response.status_code == 400 and "name" in response.json()["fields"]


def test_device_lists_must_belong_to_its_event(api, event, organiser):
    other = make_event(organiser, slug="other")
    foreign = make_list(other, "Altrove")
    response = api.post(_devices_url(event), {"name": "X", "lists": [foreign.pk]}, format="json")
    assert response.status_code == 400 and "lists" in response.json()["fields"]
    # an event without lists cannot have a device yet
    response = api.post(_devices_url(event), {"name": "X"}, format="json")
    assert response.status_code == 400 and "lists" in response.json()["fields"]


def test_revoke_and_rotate_token(api, event, register):
    door_list = make_list(event)
    device, token = make_device(event, [door_list])
    code = ticket_services.ticket_code(register())
    body = {"code": code, "list": door_list.pk}
    door = Door(token, door_list)

    response = api.post(f"{_devices_url(event)}{device.pk}/rotate-token/")
    assert response.status_code == 200
    new_token = response.json()["token"]
    assert door.post(SCAN_URL, body).status_code == 401  # old token
    assert door.post(SCAN_URL, body, token=new_token).status_code == 200

    response = api.post(f"{_devices_url(event)}{device.pk}/revoke/")
    assert response.status_code == 200 and response.json()["revoked"] is True
    assert door.post(SCAN_URL, body, token=new_token).status_code == 401
    response = api.post(f"{_devices_url(event)}{device.pk}/rotate-token/")
    assert response.status_code == 400


def test_scan_log_and_conflicts_for_organisers(api, event, register):
    from django.utils import timezone

    door_list = make_list(event)
    _, token_a = make_device(event, [door_list], name="A")
    _, token_b = make_device(event, [door_list], name="B", gate="Ingresso B")
    code = ticket_services.ticket_code(register())
    now = timezone.now().isoformat()
    for token, nonce in ((token_a, "a"), (token_b, "b")):
        Door(token, door_list).post("/api/v1/checkin/sync/", {"scans": [
            {"code": code, "list": door_list.pk, "nonce": nonce, "scanned_at": now}]})
    scans = api.get(f"/api/v1/events/{event.pk}/scans/").json()["results"]
    assert len(scans) == 2
    conflicts = api.get(f"/api/v1/events/{event.pk}/scans/", {"conflict": "true"}).json()
    [conflict] = conflicts["results"]
    assert (conflict["gate"], conflict["reason"], conflict["attendee"]) == (
        "Ingresso B", "already_checked_in", "Giulia Rossi"
    )
    assert api.get(f"/api/v1/events/{event.pk}/scans/", {"list": "x"}).status_code == 400


def test_manual_check_in_by_an_organiser_records_the_user(api, event, staff, register):
    door_list = make_list(event)
    ticket = register()
    url = f"{_lists_url(event)}{door_list.pk}/check-in/"
    response = api.post(url, {"ticket": ticket.pk}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    row = ScanLog.objects.get()
    assert (row.source, row.user_id, row.device_id) == ("manual", staff.pk, None)
    assert api.post(url, {"ticket": "x"}, format="json").status_code == 400


def test_other_organisers_see_nothing(event, register):
    door_list = make_list(event)
    make_device(event, [door_list])
    outsider_org = ticket_services.create_organiser("Altri", "altri")
    _, _, token = onboarding.create_staff_user(outsider_org, "outsider", "o@example.org", "pw")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    for url in (_lists_url(event), _devices_url(event), f"/api/v1/events/{event.pk}/scans/"):
        assert client.get(url).status_code == 404
    assert client.post(_devices_url(event), {"name": "X"}, format="json").status_code == 404
    assert APIClient().get(_devices_url(event)).status_code in (401, 403)


def test_admin_device_creation_shows_the_token_once_with_a_pairing_qr(event, staff):
    door_list = make_list(event)
    client = Client()
    client.force_login(staff)
    response = client.post("/admin/checkin/device/add/", {
        "event": event.pk, "name": "Telefono", "gate": "A", "lists": [door_list.pk]})
    assert response.status_code == 200
    page = response.content.decode()
    device = Device.objects.get(name="Telefono")
    token = page.split("#pair=")[1].split('"')[0]
    assert device.token_hash == hash_token(token)
    assert "<svg" in page
    assert client.get("/admin/checkin/device/").status_code == 200
    assert token not in client.get(f"/admin/checkin/device/{device.pk}/change/").content.decode()
    assert client.get("/admin/checkin/scanlog/").status_code == 200


def test_seed_demo_exports_codes_and_a_working_device(tmp_path, settings):
    call_command("seed_demo", attendees=5, export=str(tmp_path))
    codes = (tmp_path / "codes.txt").read_text().split()
    assert len(codes) == 5
    device = json.loads((tmp_path / "device.json").read_text())
    assert set(device) == {"token", "list", "scan_url"}
    assert device["scan_url"] == f"{settings.SITE_URL}/api/v1/checkin/scan/"
    checkin_list = CheckinList.objects.get(pk=device["list"])
    assert (checkin_list.name, checkin_list.opens_at, checkin_list.closes_at) == (
        "Ingresso principale", None, None
    )
    door = Door(device["token"], checkin_list)
    assert door.scan(codes[0], nonce=str(uuid.uuid4()))["status"] == "ok"
    # idempotent: a second run keeps one list and one device, and the exported token (a
    # door page paired with the demo stays paired across `make run` restarts)
    call_command("seed_demo", attendees=5, export=str(tmp_path))
    assert CheckinList.objects.count() == 1 and Device.objects.count() == 1
    again = json.loads((tmp_path / "device.json").read_text())
    assert again == device
    assert door.post(SCAN_URL, {"code": codes[1], "list": again["list"]},
                     token=again["token"]).json()["status"] == "ok"
    # an export directory whose token is not the device's (another database, a revoked
    # device) gets a fresh one that works
    (tmp_path / "device.json").write_text(json.dumps({**device, "token": "vd_stale"}))
    call_command("seed_demo", attendees=5, export=str(tmp_path))
    fresh = json.loads((tmp_path / "device.json").read_text())
    assert fresh["token"] not in ("vd_stale", device["token"])
    assert door.post(SCAN_URL, {"code": codes[2], "list": fresh["list"]},
                     token=fresh["token"]).json()["status"] == "ok"


def test_scan_log_filters_apply_to_the_list_only(api, event, register):
    door_list = make_list(event)
    _, token = make_device(event, [door_list])
    Door(token, door_list).scan(ticket_services.ticket_code(register()))
    scan_id = ScanLog.objects.get().pk
    url = f"/api/v1/events/{event.pk}/scans/"
    assert api.get(url, {"device": "x"}).status_code == 400
    assert api.get(url, {"list": str(-(2**70))}).status_code == 400
    assert api.get(url, {"list": str(2**64)}).status_code == 400
    assert api.get(f"{url}{scan_id}/", {"device": "x"}).status_code == 200


@pytest.mark.parametrize("field", ["opens_at", "closes_at"])
def test_list_hours_before_1900_are_refused(api, event, field):
    """Old dates would come back with a local-mean-time offset (+00:49:56) no client parses."""
    response = api.post(_lists_url(event), {"name": "Vecchia", field: "0036-03-15T23:34:00Z"},
                        format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_event_times_before_1900_are_refused(api, organiser):
    response = api.post("/api/v1/events/", {
        "organiser": organiser.pk, "name": "Old", "slug": "old",
        "start": "1850-01-01T10:00:00", "end": "1850-01-01T12:00:00",
    }, format="json")
    assert response.status_code == 400
    assert "start" in response.json()["fields"]
