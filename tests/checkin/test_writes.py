"""Lists and devices are written by ``checkin.services`` from the admin and the organiser API
alike: one set of rules (hours, ticket types and lists of the list's own event, one name per
event), the API's 400 bodies as before, and the device cache cleared after the commit."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.utils.html import escape
from rest_framework.test import APIClient

from checkin import services as checkin_services
from checkin.devices import device_cache
from checkin.models import CheckinList, Device
from tests.support.checkin import Door, make_device, make_list
from tests.support.factories import make_event
from tickets import onboarding
from tickets import services as ticket_services
from tickets.models import TicketType

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(staff) -> Client:
    client = Client()  # no Accept-Language: the console's default, Italian
    client.force_login(staff)
    return client


@pytest.fixture
def other_event(organiser):
    """Another event of the same team: the admin offers its ticket types and lists too."""
    other = make_event(organiser, slug="altro-evento")
    return other, TicketType.objects.create(event=other, name="Altro")


def test_admin_list_refuses_ticket_types_of_another_event(browser, event, ticket_type,
                                                          other_event):
    _, foreign_type = other_event
    response = browser.post("/admin/checkin/checkinlist/add/", {
        "event": event.pk, "name": "Sala", "ticket_types": [foreign_type.pk],
        "position": 0})
    assert response.status_code == 200  # the form again, naming the field
    assert "appartiene a un altro evento" in response.content.decode()
    assert not CheckinList.objects.filter(name="Sala").exists()


def test_admin_list_is_created_by_the_service(browser, event, ticket_type):
    response = browser.post("/admin/checkin/checkinlist/add/", {
        "event": event.pk, "name": "Sala", "ticket_types": [ticket_type.pk],
        "allow_exit": "on", "position": 0})
    assert response.status_code == 302, response.content.decode()[:2000]
    created = CheckinList.objects.get(name="Sala")
    # all_ticket_types follows the types, as the service decides (the form has no such field)
    assert not created.all_ticket_types and list(created.ticket_types.all()) == [ticket_type]
    assert created.allow_exit
    response = browser.post(f"/admin/checkin/checkinlist/{created.pk}/change/", {
        "name": "Sala", "ticket_types": [], "position": 0})
    assert response.status_code == 302
    created.refresh_from_db()
    assert created.all_ticket_types and not created.allow_exit


def test_admin_list_refuses_hours_and_duplicate_names(browser, event):
    make_list(event, name="Ingresso")
    response = browser.post("/admin/checkin/checkinlist/add/", {
        "event": event.pk, "name": "Ingresso", "position": 0,
        "opens_at_0": "2017-09-22", "opens_at_1": "10:00:00",
        "closes_at_0": "2017-09-22", "closes_at_1": "09:00:00"})
    page = response.content.decode()
    assert response.status_code == 200
    assert escape("La lista deve chiudere dopo l'apertura.") in page  # the service's rule
    assert CheckinList.objects.filter(event=event).count() == 1


def test_admin_device_edit_refuses_lists_of_another_event(browser, event, other_event):
    door_list = make_list(event)
    foreign_list = make_list(other_event[0], name="Altrove")
    device, _ = make_device(event, [door_list])
    response = browser.post(f"/admin/checkin/device/{device.pk}/change/", {
        "name": device.name, "gate": device.gate, "lists": [foreign_list.pk]})
    assert response.status_code == 200
    assert "appartiene a un altro evento" in response.content.decode()
    assert list(device.lists.all()) == [door_list]


def test_admin_device_edit_takes_effect_at_once(browser, event, ticket_type, register):
    first, second = make_list(event), make_list(event, name="Seconda")
    device, token = make_device(event, [first])
    door = Door(token, second)
    code = ticket_services.ticket_code(register())
    assert door.post("/api/v1/checkin/scan/", {"code": code, "list": second.pk}
                     ).status_code == 403  # and the device is now cached
    response = browser.post(f"/admin/checkin/device/{device.pk}/change/", {
        "name": device.name, "gate": device.gate, "lists": [first.pk, second.pk]})
    assert response.status_code == 302
    assert door.scan(code)["status"] == "ok"


@pytest.fixture
def api(organiser, event) -> APIClient:
    _, _, token = onboarding.create_staff_user(organiser, "lists", "l@example.org", "pw")
    client = APIClient()
    # The bodies below are asserted in English, so the client asks for it.
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}", HTTP_ACCEPT_LANGUAGE="en")
    return client


def test_api_list_rules_keep_their_400_bodies(api, event):
    url = f"/api/v1/events/{event.pk}/checkin-lists/"
    first = api.post(url, {"name": "Ingresso"}, format="json")
    assert first.status_code == 201
    clash = api.post(url, {"name": "Ingresso"}, format="json")
    assert clash.status_code == 400
    assert clash.json() == {
        "error": "invalid", "detail": "Invalid input: name.",
        "fields": {"name": ["This event already has a check-in list with this name."]}}
    other = api.post(url, {"name": "Sala"}, format="json").json()
    renamed = api.patch(f"{url}{other['id']}/", {"name": "Ingresso"}, format="json")
    assert renamed.status_code == 400 and renamed.json()["fields"] == clash.json()["fields"]
    hours = api.patch(f"{url}{other['id']}/", {"opens_at": "2017-09-22T10:00:00Z",
                                              "closes_at": "2017-09-22T09:00:00Z"},
                      format="json")
    assert hours.status_code == 400
    assert hours.json() == {
        "error": "invalid", "detail": "Invalid input: closes_at.",
        "fields": {"closes_at": ["The list must close after it opens."]}}


def test_api_list_with_scans_is_not_deleted(api, event, register):
    door_list = make_list(event)
    _, token = make_device(event, [door_list])
    Door(token, door_list).scan(ticket_services.ticket_code(register()))
    response = api.delete(f"/api/v1/events/{event.pk}/checkin-lists/{door_list.pk}/")
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid", "detail": "Invalid input: list.",
        "fields": {"list": ["This list has scans; it cannot be deleted."]}}
    assert CheckinList.objects.filter(pk=door_list.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_services_clear_the_device_cache_after_commit(event, monkeypatch):
    door_list = make_list(event)
    device, _ = make_device(event, [door_list])
    in_transaction: list[bool] = []
    monkeypatch.setattr(device_cache, "clear",
                        lambda: in_transaction.append(connection.in_atomic_block))
    for write in (lambda: checkin_services.update_device(device, name="Nuovo nome"),
                  lambda: checkin_services.update_list(door_list, name="Nuova lista")):
        in_transaction.clear()
        write()
        # the receivers clear it on save, inside the transaction (a request in between could
        # cache the old state again); the service once more after the commit
        assert in_transaction[-1] is False and True in in_transaction
    assert Device.objects.get(pk=device.pk).name == "Nuovo nome"
