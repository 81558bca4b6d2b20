"""Issue 10, limits: every way in to a rate-limited service draws on the same budget, with the
same settings (core/rate_limits.py owns the limits).

- Public registration, per client address (``VARCO_REGISTRATION_RATE``): the JSON API and the
  HTML form share one budget; the form answers over it with a translated page and a 429.
- Organiser calls, per user (``VARCO_API_RATE``): the API and the admin's changes (adding an
  attendee, resending tickets) share one budget; the admin answers with a 429 page.
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from tests.support.api_errors import assert_error
from tests.support.factories import make_event
from tickets.models import Attendee, Delivery, TicketType

pytestmark = pytest.mark.django_db

FORM = "/e/busy/register/"
API = "/api/v1/public/events/busy/register/"


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.VARCO_SEND_ON_ISSUE = True


@pytest.fixture
def busy(organiser):
    event = make_event(organiser, slug="busy")
    TicketType.objects.create(event=event, name="Ingresso")
    return event


def form_post(i: int, ip: str = "203.0.113.7", lang: str = "", **extra):
    data = {"name": "Anna", "email": f"form{i}@example.org"}
    return Client().post(FORM + (f"?lang={lang}" if lang else ""), data, REMOTE_ADDR=ip, **extra)


def api_post(i: int, ip: str = "203.0.113.7"):
    return APIClient().post(API, {"name": "Anna", "email": f"api{i}@example.org"},
                            format="json", REMOTE_ADDR=ip)


def test_the_html_form_is_rate_limited_with_a_translated_page(busy, settings):
    settings.VARCO_REGISTRATION_RATE = "3/min"
    assert [form_post(i).status_code for i in range(3)] == [302] * 3
    sent = len(mail.outbox)
    refused = form_post(3)
    assert refused.status_code == 429
    assert refused["Content-Type"].startswith("text/html")
    assert 0 < int(refused["Retry-After"]) <= 60
    page = refused.content.decode()
    assert "troppe registrazioni" in page and "Riprova tra 1 minuto" in page  # Italian first
    assert 'value="form3@example.org"' in page  # the attendee's input is kept for later
    english = form_post(4, lang="en").content.decode()
    assert "Too many registrations" in english and "try again in 1 minute" in english
    # nothing registered, no e-mail sent to the address of the poster's choosing
    assert not Attendee.objects.filter(email__in=["form3@example.org", "form4@example.org"])
    assert len(mail.outbox) == sent
    # the page itself still opens (only registrations are counted)
    assert Client().get(FORM, REMOTE_ADDR="203.0.113.7").status_code == 200


def test_the_form_and_the_api_share_one_budget(busy, settings):
    settings.VARCO_REGISTRATION_RATE = "3/min"
    assert api_post(0).status_code == 201
    assert form_post(0).status_code == 302
    assert api_post(1).status_code == 201
    assert form_post(1).status_code == 429  # the API used the budget
    assert_error(api_post(2), 429, code="throttled")
    assert Attendee.objects.filter(event=busy).count() == 3


def test_the_form_counts_addresses_as_the_api_does(busy, settings):
    settings.VARCO_REGISTRATION_RATE = "1/min"
    assert form_post(0).status_code == 302
    # a forged X-Forwarded-For is no new client (no trusted proxy)
    assert form_post(1, HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 429
    assert form_post(2, ip="198.51.100.9").status_code == 302  # another address is
    settings.VARCO_REGISTRATION_RATE = None  # off
    assert all(form_post(10 + i).status_code == 302 for i in range(5))


def test_invalid_posts_count_too(busy, settings):
    """A flood of bad posts is as much a flood: every POST is charged, as on the API."""
    settings.VARCO_REGISTRATION_RATE = "2/min"
    for _ in range(2):
        assert Client().post(FORM, {"name": "", "email": "x"}).status_code == 400
    assert form_post(0, ip="127.0.0.1").status_code == 429


# --- organiser: API and admin -------------------------------------------------------------------


@pytest.fixture
def browser(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def admin_add(browser: Client, event, email: str):
    return browser.post("/admin/tickets/attendee/add/", {
        "event": event.pk, "name": "Luca Neri", "email": email, "organisation": "",
        "language": "it", "ticket_type": "", "tickets-TOTAL_FORMS": 0,
        "tickets-INITIAL_FORMS": 0,
    }, HTTP_ACCEPT_LANGUAGE="en")


def test_admin_changes_share_the_organisers_api_budget(api, browser, event, ticket_type,
                                                       settings):
    settings.VARCO_API_RATE = "3/min"
    assert api.get(f"/api/v1/events/{event.pk}/").status_code == 200
    assert admin_add(browser, event, "one@example.org").status_code == 302
    assert browser.get("/admin/tickets/attendee/").status_code == 200  # reading is not charged
    assert admin_add(browser, event, "two@example.org").status_code == 302
    refused = admin_add(browser, event, "three@example.org")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "Too many requests" in refused.content.decode()
    assert not Attendee.objects.filter(email="three@example.org").exists()
    assert_error(api.get(f"/api/v1/events/{event.pk}/"), 429, code="throttled")
    italian = browser.post("/admin/tickets/attendee/add/", {}, HTTP_ACCEPT_LANGUAGE="it")
    assert italian.status_code == 429 and "Troppe richieste" in italian.content.decode()


def test_admin_resend_over_the_budget_sends_nothing(browser, event, register, settings):
    ticket = register()
    settings.VARCO_API_RATE = "1/min"
    assert browser.get("/admin/tickets/ticket/").status_code == 200
    before = Delivery.objects.count()
    first = browser.post("/admin/tickets/ticket/", {"action": "resend",
                                                    "_selected_action": [ticket.pk]})
    assert first.status_code == 302
    assert Delivery.objects.count() == before + 1
    refused = browser.post("/admin/tickets/ticket/", {"action": "resend",
                                                      "_selected_action": [ticket.pk]})
    assert refused.status_code == 429
    assert Delivery.objects.count() == before + 1


def test_the_form_counts_in_the_shared_cache_under_the_apis_key(busy, settings,
                                                                 real_throttle_cache):
    """Against the configured cache (Redis with REDIS_URL): the form's posts are counted where
    every web process sees them, under the very key the API uses."""
    settings.VARCO_REGISTRATION_RATE = "2/min"
    address = "192.0.2.78"
    key = f"throttle_registration_{address}"
    real_throttle_cache.delete(key)
    try:
        assert form_post(0, ip=address).status_code == 302
        assert api_post(0, ip=address).status_code == 201
        assert len(real_throttle_cache.get(key)) == 2
        assert form_post(1, ip=address).status_code == 429
    finally:
        real_throttle_cache.delete(key)
