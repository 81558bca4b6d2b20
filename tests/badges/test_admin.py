"""The layout admin: scoped to the organiser's events, saved through the services, with a
preview of a sample badge."""

from __future__ import annotations

import pytest
from django.test import Client

from badges import services
from badges.models import BadgeLayout
from tests.support.factories import make_event
from tests.support.ticket_files import pdf_text
from tickets import onboarding
from tickets import services as ticket_services
from tickets.models import TicketType

pytestmark = pytest.mark.django_db
ADMIN = "/admin/badges/badgelayout"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def browser(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def theirs():
    team = ticket_services.create_organiser("Zeta Eventi", "zeta")
    user, _, _ = onboarding.create_staff_user(team, "zeta-staff", "z@example.org", "pw")
    event = make_event(team, slug="zeta-summit", name="Zeta Summit")
    return user, services.create_layout(event, name="Zeta badge")


def test_the_list_shows_only_our_layouts(browser, event, theirs):
    services.create_layout(event, name="Nostro badge")
    html = browser.get(f"{ADMIN}/").content.decode()
    assert "Nostro badge" in html and "Zeta badge" not in html
    assert browser.get(f"{ADMIN}/{theirs[1].pk}/change/").status_code in (302, 404)


def test_the_preview_is_a_badge_of_the_event(browser, event, register, theirs):
    register(name="Giulia Rossi")
    layout = services.create_layout(event, name="Nostro badge", show_lead_qr=True)
    change = browser.get(f"{ADMIN}/{layout.pk}/change/").content.decode()
    assert f"{ADMIN}/{layout.pk}/preview.pdf" in change
    response = browser.get(f"{ADMIN}/{layout.pk}/preview.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "Giulia Rossi" in pdf_text(response.content)
    assert browser.get(f"{ADMIN}/{theirs[1].pk}/preview.pdf").status_code == 404


def test_without_tickets_the_preview_uses_a_sample_attendee(event):
    layout = services.create_layout(event, name="Vuoto", preset="ql-62")
    user, _, _ = onboarding.create_staff_user(event.organiser, "other-staff", "o@example.org")
    client = Client()
    client.force_login(user)
    response = client.get(f"{ADMIN}/{layout.pk}/preview.pdf")
    assert "Bianchi-Esposito" in pdf_text(response.content)


def test_adding_goes_through_the_services(browser, event, ticket_type, theirs):
    form = {"event": event.pk, "ticket_type": "", "name": "Nuovo", "preset": "a4-4xa6",
            "language": "en", "show_organisation": "on", "show_lead_qr": "on"}
    response = browser.post(f"{ADMIN}/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    layout = BadgeLayout.objects.get(name="Nuovo")
    assert (layout.preset, layout.show_logo, layout.show_lead_qr) == ("a4-4xa6", False, True)
    response = browser.post(f"{ADMIN}/{layout.pk}/change/", {**form, "preset": "ql-62"})
    assert response.status_code == 302
    layout.refresh_from_db()
    assert (layout.preset, layout.version) == ("ql-62", 2)
    # Another team's event is not a choice.
    response = browser.post(f"{ADMIN}/add/", {**form, "event": theirs[1].event_id,
                                              "name": "Intruso"})
    assert response.status_code == 200 and not BadgeLayout.objects.filter(name="Intruso")


def test_a_second_default_layout_is_a_form_error(browser, event, ticket_type):
    services.create_layout(event, name="Primo")
    form = {"event": event.pk, "ticket_type": "", "name": "Secondo", "preset": "a6",
            "language": "it"}
    response = browser.post(f"{ADMIN}/add/", form)
    assert response.status_code == 200  # the form again, with the error; no 500
    assert not BadgeLayout.objects.filter(name="Secondo").exists()
    other = TicketType.objects.create(event=make_event(event.organiser, slug="altro"),
                                      name="Altro")
    response = browser.post(f"{ADMIN}/add/", {**form, "ticket_type": other.pk,
                                              "name": "Straniero"})
    assert response.status_code == 200
    assert not BadgeLayout.objects.filter(name="Straniero").exists()
