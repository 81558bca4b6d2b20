"""The admin's writes go through ``tickets.services`` (issue 11: one owner per rule): events,
their ticket types (alone or inline), opening and closing registration."""

from __future__ import annotations

import pytest
from django.test import Client

from tickets import services
from tickets.models import Event, EventKey, TicketType

ADMIN = "/admin/tickets"
pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(staff) -> Client:
    # These tests read the English interface (the console is Italian by default).
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(staff)
    return client


@pytest.fixture
def saved(monkeypatch):
    """The ticket types the service saved during the test."""
    names: list[str] = []
    real = services.save_ticket_type

    def spy(event, changes, ticket_type=None):
        saved_type = real(event, changes, ticket_type)
        names.append(saved_type.name)
        return saved_type

    monkeypatch.setattr(services, "save_ticket_type", spy)  # the admin calls the package's
    return names


def _event_form(event: Event, ticket_type: TicketType, name: str, **extra) -> dict:
    return {
        "organiser": event.organiser_id, "name": event.name, "slug": event.slug,
        "description": "", "venue": event.venue, "address": event.address,
        "timezone": "Europe/Rome", "start_0": "2017-09-22", "start_1": "09:30:00",
        "end_0": "2017-09-22", "end_1": "17:00:00", "languages": ["it", "en"],
        "default_language": "it",
        "capacity": "", "registration_open": "on",
        "ticket_types-TOTAL_FORMS": 1, "ticket_types-INITIAL_FORMS": 1,
        "ticket_types-MIN_NUM_FORMS": 0, "ticket_types-MAX_NUM_FORMS": 1000,
        "ticket_types-0-id": ticket_type.pk, "ticket_types-0-event": event.pk,
        "ticket_types-0-name": name, "ticket_types-0-name_it": "",
        "ticket_types-0-name_en": "",
        "ticket_types-0-price": "0", "ticket_types-0-capacity": "",
        "ticket_types-0-public": "on", "ticket_types-0-position": 0, **extra,
    }


def test_a_ticket_type_added_in_the_admin_is_saved_by_the_service(browser, event, saved):
    response = browser.post(f"{ADMIN}/tickettype/add/", {
        "event": event.pk, "name": " Relatore ", "name_it": "", "name_en": "", "price": "0",
        "capacity": "", "position": 1,
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    assert saved == ["Relatore"]
    assert TicketType.objects.get(event=event, name="Relatore").public is False


def test_a_ticket_type_edited_inline_is_saved_by_the_service(browser, event, ticket_type,
                                                             saved):
    response = browser.post(f"{ADMIN}/event/{event.pk}/change/",
                            _event_form(event, ticket_type, "Ingresso ridotto"))
    assert response.status_code == 302, response.content.decode()[:2000]
    ticket_type.refresh_from_db()
    assert ticket_type.name == "Ingresso ridotto" and saved == ["Ingresso ridotto"]
    assert EventKey.objects.filter(event=event, active=True).count() == 1


def test_closing_and_opening_registration_in_the_admin(browser, event):
    for action, expected in (("close_registration", False), ("open_registration", True)):
        response = browser.post(f"{ADMIN}/event/", {"action": action,
                                                    "_selected_action": [event.pk]})
        assert response.status_code == 302
        event.refresh_from_db()
        assert event.registration_open is expected
