"""The public registration answered in front of Django (tickets/fastpath.py), through the
object gunicorn serves (``backend.wsgi.application``): the same answers as Django's view for
what it answers itself, and everything else handed to Django with its body intact."""

from __future__ import annotations

import json

import pytest

from tests.support.checkin import WsgiClient
from tickets import services
from tickets.models import Attendee, Delivery, Ticket

pytestmark = pytest.mark.django_db


def url(event) -> str:
    return f"/api/v1/public/events/{event.slug}/register/"


def post(event, body, content_type="application/json", **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return WsgiClient().post(url(event), data, content_type, **extra)


def by_django(settings, event, body, **extra):
    settings.VARCO_REGISTRATION_FAST_PATH = False
    try:
        return post(event, body, **extra)
    finally:
        settings.VARCO_REGISTRATION_FAST_PATH = True


def answered_in_front(response) -> bool:
    return "x-frame-options" not in response.headers  # Django's middleware adds it


def test_a_registration_is_answered_in_front_of_django_as_the_view_answers(
        settings, event, ticket_type, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the e-mail is queued on commit
        fast = post(event, {"name": " Giulia Rossi ", "email": "Giulia@Example.org",
                            "organisation": "Coop", "language": "en"})
    assert fast.status_code == 201 and answered_in_front(fast)
    assert fast["X-Content-Type-Options"] == "nosniff"
    ticket = Ticket.objects.get(event=event)
    assert fast.json() == {"ticket": {"reference": ticket.reference, "status": "valid"},
                           "attendee": {"name": "Giulia Rossi", "email": "giulia@example.org"}}
    assert ticket.attendee.language == "en" and ticket.ticket_type == ticket_type
    assert Delivery.objects.filter(ticket=ticket).count() == 1  # its e-mail queued once
    slow = by_django(settings, event, {"name": "Marco Bianchi", "email": "marco@example.org"})
    assert slow.status_code == 201 and not answered_in_front(slow)
    assert set(slow.json()) == set(fast.json()) and set(slow.json()["ticket"]) == {
        "reference", "status"}


def test_refusals_of_the_service_are_the_views(settings, event, ticket_type, register):
    register(email="taken@example.org")
    duplicate = {"name": "Again", "email": "TAKEN@example.org"}
    fast, slow = post(event, duplicate), by_django(settings, event, duplicate)
    assert answered_in_front(fast) and (fast.status_code, fast.json()) == (
        slow.status_code, slow.json())
    assert fast.json()["error"] == "duplicate" and fast.status_code == 400

    ticket_type.capacity = 1
    ticket_type.save()
    full = {"name": "Late", "email": "late@example.org"}
    fast, slow = post(event, full), by_django(settings, event, full)
    assert answered_in_front(fast) and fast.json()["error"] == "sold_out"
    assert (fast.status_code, fast.json()) == (slow.status_code, slow.json())

    event.registration_open = False
    event.save()
    fast, slow = post(event, full), by_django(settings, event, full)
    assert fast.json()["error"] == "closed" and fast.json() == slow.json()
    assert Attendee.objects.filter(event=event).count() == 1


@pytest.mark.parametrize("body, content_type, extra", [
    ({"name": "", "email": "nope", "capacty": 1}, "application/json", {}),  # the serializer's
    ('{"name": NaN, "email": "a@b.it"}', "application/json", {}),  # DRF's parser refuses NaN
    ("{not json", "application/json", {}),
    ("[1, 2]", "application/json", {}),
    ("", "application/json", {}),
    ("name=Giulia&email=giulia%40example.org", "application/x-www-form-urlencoded", {}),
    ({"name": "Giulia", "email": "giulia@example.org"}, "application/json",
     {"QUERY_STRING": "x=1"}),
    ({"name": "Giulia", "email": "giulia@example.org"}, "application/json",
     {"HTTP_ACCEPT": "text/html"}),
])
def test_what_is_not_a_plain_json_registration_is_given_to_django_intact(
        settings, event, ticket_type, body, content_type, extra):
    fast = post(event, body, content_type, **extra)
    assert not answered_in_front(fast)
    Attendee.objects.filter(event=event).delete()
    slow = by_django(settings, event, body, **extra) if content_type == "application/json" else (
        fast)
    assert fast.status_code == slow.status_code
    if fast.status_code != 201 and fast["Content-Type"] == "application/json":
        assert fast.json() == slow.json()


def test_unknown_event_or_host_is_djangos_answer(event, ticket_type, organiser):
    missing = WsgiClient().post("/api/v1/public/events/no-such-event/register/",
                                json.dumps({"name": "A", "email": "a@example.org"}),
                                "application/json")
    assert missing.status_code == 404 and not answered_in_front(missing)
    assert missing.json()["error"] == "not_found"
    evil = post(event, {"name": "A", "email": "a@example.org"}, HTTP_HOST="evil.example")
    assert evil.status_code == 400 and not Attendee.objects.exists()


def test_the_rate_limit_is_charged_once_per_registration(settings, event, ticket_type):
    settings.VARCO_REGISTRATION_RATE = "3/hour"
    answers = [post(event, {"name": f"P {i}", "email": f"p{i}@example.org"}) for i in range(4)]
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert all(answered_in_front(a) for a in answers[:3])
    assert not answered_in_front(answers[3]) and answers[3]["Retry-After"]
    assert answers[3].json()["error"] == "throttled"
    assert Attendee.objects.filter(event=event).count() == 3


def test_an_unexpected_error_is_a_json_500(event, ticket_type, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "register", broken)
    response = post(event, {"name": "A", "email": "a@example.org"})
    assert response.status_code == 500 and response.json()["error"] == "server_error"
