"""The event home and the console's widgets and lists, through the test client: what each
shows, and that each action is done by the apps' services (the rows they write)."""

from __future__ import annotations

import json
import re
import zoneinfo
from html import unescape

import pytest
from django.test import Client

from checkin import devices
from checkin.models import Device
from tests.support.console import console_pages, make_console_world
from tickets.models import Delivery, Event, Ticket


@pytest.fixture
def world(settings, organiser, event):
    settings.VARCO_SEND_ON_ISSUE = False
    return make_console_world(organiser, event)


@pytest.fixture
def console(staff) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(staff)
    return client


def _figures(console: Client, event: Event) -> dict:
    response = console.get(f"/admin/events/{event.pk}/figures.json")
    assert response.status_code == 200
    return response.json()


def test_the_home_shows_the_event_numbers_links_and_failed_answers(world, console):
    event = world.event
    html = console.get(f"/admin/events/{event.pk}/").content.decode()
    assert _figures(console, event) == {
        "registrations": 3, "valid": 2, "revoked": 1, "sent": 1, "waiting": 0, "failed": 1,
        "not_sent": 0, "checked_in": 1, "inside": 1, "devices": 1}
    assert "550 5.1.1 &lt;marco@example.org&gt;: mailbox unavailable" in html
    for link in (f"/events/{event.pk}/dashboard/", "/scan/", f"/e/{event.slug}/register/",
                 f"/api/v1/events/{event.pk}/attendees/export/",
                 f"/api/v1/events/{event.pk}/attendance/checkins.csv",
                 f"/admin/events/{event.pk}/devices/add/"):
        assert f'href="{link}"' in html, link
    # Linked from the event list.
    assert f'href="/admin/events/{event.pk}/"' in console.get(
        "/admin/tickets/event/").content.decode()


def test_send_all_unsent_goes_through_the_queue_and_the_counts_follow(
        world, console, smtp_sink, django_capture_on_commit_callbacks):
    event = world.event
    Delivery.objects.filter(ticket=world.tickets[1]).delete()  # never sent: "not sent"
    assert _figures(console, event)["not_sent"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(f"/admin/events/{event.pk}/send/", follow=True)
    assert "1 ticket e-mail is on its way." in response.content.decode()
    # Celery runs eagerly in the tests: the e-mail went to the SMTP sink.
    figures = _figures(console, event)
    assert (figures["sent"], figures["not_sent"], figures["failed"]) == (2, 0, 0)
    assert smtp_sink.count() == 1
    assert Delivery.objects.filter(ticket=world.tickets[1], state="sent").count() == 1


def test_registration_closes_and_opens(world, console):
    event = world.event
    console.post(f"/admin/events/{event.pk}/registration/", {"open": "0"})
    event.refresh_from_db()
    assert not event.registration_open
    html = console.get(f"/admin/events/{event.pk}/").content.decode()
    assert "Registration is closed." in html and "Open registration" in html
    console.post(f"/admin/events/{event.pk}/registration/", {"open": "1"})
    event.refresh_from_db()
    assert event.registration_open


def test_actions_refuse_a_get(world, console):
    for action in ("send", "registration"):
        assert console.get(f"/admin/events/{world.event.pk}/{action}/").status_code == 405


def test_a_door_device_is_paired_with_a_link_on_the_organisers_host(world, console):
    event = world.event
    response = console.post(f"/admin/events/{event.pk}/devices/add/",
                            {"name": "Telefono 2", "gate": "Porta B"},
                            HTTP_HOST="localhost:8123")
    html = response.content.decode()
    link = re.search(r'class="varco-pairing-link" href="([^"]+)"', html).group(1)
    assert link.startswith("http://localhost:8123/scan/#pair=")
    token = link.split("#pair=")[1]
    device = Device.objects.get(name="Telefono 2")
    assert device.token_hash == devices.hash_token(token) and device.gate == "Porta B"
    assert list(device.lists.all()) == [world.checkin_list]  # none ticked: every list
    assert "<svg" in html  # the pairing QR


def test_a_device_form_with_no_name_says_so(world, console):
    response = console.post(f"/admin/events/{world.event.pk}/devices/add/", {"name": ""})
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert Device.objects.count() == 1


def test_the_event_form_has_real_widgets_and_dates_in_the_events_zone(world, console):
    event = world.event
    Event.objects.filter(pk=event.pk).update(timezone="America/New_York")
    html = console.get(f"/admin/tickets/event/{event.pk}/change/").content.decode()
    assert 'type="checkbox" name="languages" value="it"' in html
    assert 'name="default_language"' in html
    for raw in ("languages", "name_i18n", "practical_info"):  # no JSON typed anywhere
        assert f'<textarea name="{raw}"' not in html and f'name="ticket_types-0-{raw}"' not in html
    assert 'name="ticket_types-0-name_en"' in html and 'value="Full pass"' in html
    # 9:30 in Rome is 3:30 in New York.
    local = event.start.astimezone(zoneinfo.ZoneInfo("America/New_York"))
    assert f'value="{local:%H:%M:%S}"' in html and local.hour == 3
    assert "3:30" in console.get("/admin/tickets/event/").content.decode()  # the list too


def test_languages_and_translations_are_saved_from_the_widgets(world, console):
    event = world.event
    ticket_type = world.ticket_type
    data = {
        "organiser": event.organiser_id, "name": event.name, "slug": event.slug,
        "description": "", "venue": event.venue, "address": event.address,
        "timezone": "Europe/Rome", "start_0": "2017-09-22", "start_1": "09:30:00",
        "end_0": "2017-09-22", "end_1": "17:00:00", "languages": ["it", "en"],
        "default_language": "en", "capacity": "", "registration_open": "on",
        "ticket_types-TOTAL_FORMS": 1, "ticket_types-INITIAL_FORMS": 1,
        "ticket_types-MIN_NUM_FORMS": 0, "ticket_types-MAX_NUM_FORMS": 1000,
        "ticket_types-0-id": ticket_type.pk, "ticket_types-0-event": event.pk,
        "ticket_types-0-name": ticket_type.name, "ticket_types-0-name_it": "",
        "ticket_types-0-name_en": "Whole conference", "ticket_types-0-price": "0",
        "ticket_types-0-capacity": "", "ticket_types-0-public": "on",
        "ticket_types-0-position": 0,
    }
    response = console.post(f"/admin/tickets/event/{event.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    event.refresh_from_db()
    ticket_type.refresh_from_db()
    assert event.languages == ["en", "it"]  # the default first
    assert ticket_type.name_i18n == {"en": "Whole conference"}
    data.update({"languages": ["it"], "default_language": "en"})
    response = console.post(f"/admin/tickets/event/{event.pk}/change/", data)
    assert "Tick this language too." in response.content.decode()


def test_the_attendee_list_answers_questions_and_filters(world, console):
    event = world.event
    base = f"/admin/tickets/attendee/?event__id__exact={event.pk}"
    html = console.get(base).content.decode()
    for ticket in world.tickets:
        assert ticket.reference in html
    assert "Pass completo" in html and "failed" in html and "not arrived" in html
    failed = console.get(f"{base}&email=failed").content.decode()
    assert "Marco Bianchi" in failed and "Giulia Rossi" not in failed
    revoked = console.get(f"{base}&ticket=revoked").content.decode()
    assert "Zoë Verdi" in revoked and "Giulia Rossi" not in revoked
    arrived = console.get(f"{base}&checkin=came").content.decode()
    assert "Giulia Rossi" in arrived and "Marco Bianchi" not in arrived  # scanned in
    assert "Giulia Rossi" in console.get(f"{base}&checkin=inside").content.decode()
    away = console.get(f"{base}&checkin=none").content.decode()
    assert "Marco Bianchi" in away and "Giulia Rossi" not in away
    by_type = console.get(f"{base}&type={world.ticket_type.pk}").content.decode()
    assert "Giulia Rossi" in by_type


def test_bulk_resend_and_revoke_go_through_the_services(world, console, smtp_sink,
                                                         django_capture_on_commit_callbacks):
    giulia, marco = (t.attendee for t in world.tickets[:2])
    with django_capture_on_commit_callbacks(execute=True):
        response = console.post("/admin/tickets/attendee/", {
            "action": "resend_tickets", "_selected_action": [marco.pk]}, follow=True)
    assert "1 ticket e-mail queued." in response.content.decode()
    latest = Delivery.objects.filter(ticket__attendee=marco).order_by("-pk").first()
    assert (latest.reason, latest.state) == ("resend", "sent") and smtp_sink.count() == 1
    response = console.post("/admin/tickets/attendee/", {
        "action": "revoke_tickets", "_selected_action": [giulia.pk]}, follow=True)
    assert "1 ticket revoked." in response.content.decode()
    ticket = Ticket.objects.get(pk=world.tickets[0].pk)
    assert (ticket.status, ticket.version) == ("revoked", 2)
    event = world.event
    event.refresh_from_db()
    assert event.issued_count == 1  # the service freed the place


def test_nothing_on_any_console_page_is_typed_as_json(world, console, staff):
    """Item 3: every form of the console (each model's add and change form, the home's) —
    no text box holding a JSON object or list, none for the JSON fields."""
    for url in console_pages(staff, world.event):
        html = console.get(url).content.decode()
        for name, text in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>',
                                     html, re.S):
            assert name.split("-")[-1] not in ("languages", "name_i18n", "practical_info",
                                               "data"), (url, name)
            try:
                value = json.loads(unescape(text))
            except ValueError:
                continue
            assert not isinstance(value, dict | list), (url, name, text)
