"""Rate limits where abuse is cheap (docs/hardening.md).

- Login (admin/session): django-axes locks a username out from one client address after
  ``VARCO_LOGIN_FAILURE_LIMIT`` failures for ``VARCO_LOGIN_COOLOFF_MINUTES``.
- Public registration: ``VARCO_REGISTRATION_RATE`` per client address.
- Organiser API: ``VARCO_API_RATE`` per user; CSV imports ``VARCO_IMPORT_RATE`` per user.
- Client addresses: ``REMOTE_ADDR`` unless ``VARCO_NUM_PROXIES`` says how many proxies to
  trust in X-Forwarded-For, so a forged header never buys a fresh quota.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from tests.support.api_errors import assert_error
from tests.support.factories import make_event
from tests.support.settings_process import settings_in_subprocess
from tickets import onboarding
from tickets.models import Attendee, TicketType

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def login(client: Client, password: str, username: str = "staff", ip: str = "203.0.113.7",
          **extra):
    return client.post(LOGIN, {"username": username, "password": password},
                       REMOTE_ADDR=ip, **extra)


def logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


# --- login ----------------------------------------------------------------------------------


def test_login_locks_out_after_the_failure_limit(staff, settings):
    assert settings.AXES_FAILURE_LIMIT == 5  # the documented default
    client = Client()
    for _ in range(4):
        response = login(client, "wrong")
        assert response.status_code == 200  # the form again, with its error
    locked = login(client, "wrong")  # the fifth failure locks
    assert locked.status_code == 429
    # Now even the right password is refused, without being checked, with a page saying why.
    response = login(client, "pw", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Too many failed login attempts" in page and "15 minutes" in page
    assert int(response["Retry-After"]) == 15 * 60
    italian = login(client, "pw", HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "Troppi tentativi" in italian and "15 minuti" in italian
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_username_and_address(staff, organiser):
    onboarding.create_staff_user(organiser, "collega", "c@example.org", "pw2")
    for _ in range(5):
        login(Client(), "wrong", ip="203.0.113.7")
    assert login(Client(), "pw", ip="203.0.113.7").status_code == 429
    # the same user from another address, another user from the same address: not locked
    assert logged_in(login(Client(), "pw", ip="198.51.100.9"))
    assert logged_in(login(Client(), "pw2", username="collega", ip="203.0.113.7"))


def test_lockout_ends_after_the_cool_off(staff):
    for _ in range(5):
        login(Client(), "wrong")
    assert login(Client(), "pw").status_code == 429
    # 16 minutes later (the failures are dated back; the cool-off is 15 minutes)
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=16))
    assert logged_in(login(Client(), "pw"))


def test_a_success_resets_the_count(staff):
    client = Client()
    for _ in range(4):
        login(client, "wrong")
    assert logged_in(login(client, "pw"))
    for _ in range(4):
        assert login(Client(), "wrong").status_code == 200
    assert logged_in(login(Client(), "pw"))


def test_forged_forwarded_for_does_not_escape_the_lockout(staff):
    """Without trusted proxies (the default) X-Forwarded-For is ignored."""
    for i in range(5):
        login(Client(), "wrong", HTTP_X_FORWARDED_FOR=f"10.9.8.{i}")
    assert login(Client(), "pw", HTTP_X_FORWARDED_FOR="10.9.8.200").status_code == 429


def test_behind_a_proxy_the_forwarded_address_counts(staff, settings):
    """With VARCO_NUM_PROXIES=1 the address the proxy appended is the client's: two people
    behind one proxy are told apart, and a prefix the client forged is not used."""
    settings.VARCO_NUM_PROXIES = 1
    proxy = "172.16.0.1"
    for _ in range(5):
        login(Client(), "wrong", ip=proxy, HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.7")
    assert login(Client(), "pw", ip=proxy,
                 HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.7").status_code == 429
    assert logged_in(login(Client(), "pw", ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.9"))


def test_lockout_answers_scripts_in_json(staff):
    for _ in range(5):
        login(Client(), "wrong")
    response = login(Client(), "pw", HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    body = assert_error(response, 429, code="locked_out")
    assert "15 minutes" in body["detail"]


# --- public registration --------------------------------------------------------------------


@pytest.fixture
def busy(organiser):
    event = make_event(organiser, slug="busy")
    TicketType.objects.create(event=event, name="Ingresso")
    return f"{V1}/public/events/busy/register/"


def register(url: str, i: int, **extra):
    return APIClient().post(url, {"name": "A", "email": f"{i}@example.org"}, format="json",
                            **extra)


def test_registration_rate_comes_from_settings(busy, settings):
    assert settings.VARCO_REGISTRATION_RATE == "30/min"  # the documented default
    settings.VARCO_REGISTRATION_RATE = "3/min"
    codes = [register(busy, i).status_code for i in range(3)]
    assert codes == [201] * 3
    response = register(busy, 3)
    assert_error(response, 429, code="throttled")
    assert 0 < int(response["Retry-After"]) <= 60
    # a forged X-Forwarded-For is no new client
    assert_error(register(busy, 4, HTTP_X_FORWARDED_FOR="10.1.2.3"), 429)
    # another address is
    assert register(busy, 5, REMOTE_ADDR="198.51.100.9").status_code == 201
    assert Attendee.objects.count() == 4


def test_registration_behind_a_proxy_counts_each_client(busy, settings):
    settings.VARCO_REGISTRATION_RATE = "2/min"
    settings.VARCO_NUM_PROXIES = 1
    proxy = {"REMOTE_ADDR": "172.16.0.1"}
    for i in range(2):
        assert register(busy, i, HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy).status_code == 201
    assert_error(register(busy, 2, HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7", **proxy), 429)
    assert register(busy, 3, HTTP_X_FORWARDED_FOR="198.51.100.9", **proxy).status_code == 201


def test_registration_can_be_switched_off_limits(busy, settings):
    settings.VARCO_REGISTRATION_RATE = None  # VARCO_REGISTRATION_RATE=off
    assert all(register(busy, i).status_code == 201 for i in range(40))


def test_registration_limit_holds_in_the_shared_cache(busy, settings, real_throttle_cache):
    """Against the configured cache (a file cache here, Redis with REDIS_URL): the count is
    kept where every web process sees it."""
    settings.VARCO_REGISTRATION_RATE = "2/min"
    address = "192.0.2.77"
    key = f"throttle_registration_{address}"
    real_throttle_cache.delete(key)
    try:
        assert [register(busy, i, REMOTE_ADDR=address).status_code for i in range(3)] == [
            201, 201, 429]
        assert len(real_throttle_cache.get(key)) == 2
    finally:
        real_throttle_cache.delete(key)


# --- organiser API --------------------------------------------------------------------------


def test_organiser_api_rate_per_user(api, staff, organiser, event, settings):
    assert settings.VARCO_API_RATE == "1200/min"
    settings.VARCO_API_RATE = "5/min"
    for _ in range(5):
        assert api.get(f"{V1}/events/").status_code == 200
    response = api.get(f"{V1}/events/{event.pk}/")
    assert_error(response, 429, code="throttled")
    assert int(response["Retry-After"]) > 0
    # the same token from another address shares the budget
    assert_error(api.get(f"{V1}/events/", REMOTE_ADDR="198.51.100.9"), 429)
    # another organiser user has a budget of their own
    _, _, token = onboarding.create_staff_user(organiser, "collega", "c@example.org", "pw")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert other.get(f"{V1}/events/").status_code == 200
    # the public endpoints do not draw on it
    assert APIClient().get(f"{V1}/public/events/{event.slug}/").status_code == 200


def test_writes_over_the_limit_change_nothing(api, event, ticket_type, settings):
    settings.VARCO_API_RATE = "2/min"
    for i in range(2):
        response = api.post(f"{V1}/events/{event.pk}/attendees/",
                            {"name": "A", "email": f"{i}@example.org"}, format="json")
        assert response.status_code == 201
    response = api.post(f"{V1}/events/{event.pk}/attendees/",
                        {"name": "A", "email": "late@example.org"}, format="json")
    assert_error(response, 429)
    assert not Attendee.objects.filter(email="late@example.org").exists()


def test_csv_imports_have_their_own_limit(api, event, ticket_type, settings):
    assert settings.VARCO_IMPORT_RATE == "60/hour"
    settings.VARCO_IMPORT_RATE = "2/hour"
    url = f"{V1}/events/{event.pk}/attendees/import/"
    for i in range(2):
        csv = f"name,email\nA,{i}@example.org\n"
        response = api.generic("POST", url, csv, content_type="text/csv")
        assert response.status_code == 201, response.content
    response = api.generic("POST", url, "name,email\nA,x@example.org\n", content_type="text/csv")
    body = assert_error(response, 429, code="throttled")
    assert "hour" in body["detail"] or int(response["Retry-After"]) > 60
    assert not Attendee.objects.filter(email="x@example.org").exists()
    # other calls still go through
    assert api.get(f"{V1}/events/{event.pk}/attendees/").status_code == 200


def test_anonymous_calls_are_refused_before_counting(event, settings):
    settings.VARCO_API_RATE = "1/min"
    for _ in range(3):
        assert_error(APIClient().get(f"{V1}/events/"), 401)


# --- configuration --------------------------------------------------------------------------


def test_limits_are_read_from_the_environment():
    names = ["AXES_FAILURE_LIMIT", "AXES_COOLOFF_TIME", "VARCO_REGISTRATION_RATE",
             "VARCO_API_RATE", "VARCO_IMPORT_RATE", "VARCO_NUM_PROXIES"]
    result = settings_in_subprocess({
        "VARCO_LOGIN_FAILURE_LIMIT": "3", "VARCO_LOGIN_COOLOFF_MINUTES": "2",
        "VARCO_REGISTRATION_RATE": "10/min", "VARCO_API_RATE": "off",
        "VARCO_IMPORT_RATE": "5/day", "VARCO_NUM_PROXIES": "1",
    }, *names)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "AXES_FAILURE_LIMIT": "3", "AXES_COOLOFF_TIME": "0:02:00",
        "VARCO_REGISTRATION_RATE": "10/min", "VARCO_API_RATE": "None",
        "VARCO_IMPORT_RATE": "5/day", "VARCO_NUM_PROXIES": "1",
    }


def test_a_malformed_rate_is_refused_at_start():
    result = settings_in_subprocess({"VARCO_API_RATE": "fast"}, "VARCO_API_RATE")
    assert result.returncode != 0
    assert "VARCO_API_RATE='fast'" in result.stderr and "30/min" in result.stderr
