"""The scan endpoint's contract: every reason, every error status, nonces, re-entry, exits."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from checkin.models import Presence, ScanLog
from checkin.scanning import invalid_log
from tests.support.checkin import SCAN_URL, Door, WsgiClient, make_device, make_list
from tests.support.factories import make_event
from tickets import services
from tickets.models import TicketType

pytestmark = pytest.mark.django_db


@pytest.fixture
def door_list(event):
    return make_list(event)


@pytest.fixture(params=["wsgi", "django"])
def transport(request):
    """Every contract test runs twice: through backend.wsgi.application (what gunicorn
    serves: the scan fast path) and through Django's handler (the view)."""
    return WsgiClient if request.param == "wsgi" else Client


@pytest.fixture
def door(event, door_list, transport) -> Door:
    _, token = make_device(event, [door_list])
    return Door(token, door_list, transport())


@pytest.fixture
def ticket(register):
    return register(name="Giulia Rossi", organisation="Cooperativa Il Sole")


def test_first_scan_is_ok_with_attendee_and_second_is_already_checked_in(door, ticket):
    code = services.ticket_code(ticket)
    first = door.scan(code)
    assert first["status"] == "ok"
    assert first["reason"] is None
    assert first["attendee"] == {
        "name": "Giulia Rossi", "organisation": "Cooperativa Il Sole", "ticket_type": "Ingresso"
    }
    assert first["checked_in_at"] is not None
    assert first["first_checked_in_at"] is None

    again = door.scan(code)
    assert again["status"] == "rejected"
    assert again["reason"] == "already_checked_in"
    assert again["attendee"]["name"] == "Giulia Rossi"
    assert again["first_checked_in_at"] == first["checked_in_at"]
    assert again["checked_in_at"] == first["checked_in_at"]

    rows = list(ScanLog.objects.order_by("id").values_list("result", "reason", "ticket_id"))
    assert rows == [("ok", None, ticket.pk), ("rejected", "already_checked_in", ticket.pk)]
    presence = Presence.objects.get(ticket=ticket)
    assert (presence.inside, presence.entries) == (True, 1)


def test_whitespace_and_newlines_around_the_code_are_ignored(door, ticket):
    answer = door.scan("\t " + services.ticket_code(ticket) + "\r\n")
    assert answer["status"] == "ok"


@pytest.mark.parametrize(
    "garbage",
    ["INVALID-abc", "x", "A" * 127, "é" * 127, "https://example.org/not-a-ticket"],
)
def test_invalid_codes_are_rejected_and_logged(door, garbage):
    answer = door.scan(garbage)
    assert answer == {"status": "rejected", "reason": "invalid", "attendee": None,
                      "checked_in_at": None, "first_checked_in_at": None}
    row = ScanLog.objects.get()
    assert (row.reason, row.ticket_id, row.list_id) == ("invalid", None, door.list.pk)


def test_tampered_code_is_invalid(door, ticket):
    code = services.ticket_code(ticket)
    tampered = code[:40] + ("A" if code[40] != "A" else "B") + code[41:]
    assert door.scan(tampered)["reason"] == "invalid"
    assert not Presence.objects.exists()


def test_invalid_codes_cost_no_query_and_are_written_in_batches(door, ticket, settings,
                                                                 django_assert_num_queries):
    settings.VARCO_INVALID_SCAN_FLUSH_SECONDS = 3600  # the test flushes by hand
    door.scan(services.ticket_code(ticket))  # warms the device cache and the key ring
    with django_assert_num_queries(0):
        for index in range(20):
            assert door.scan(f"GARBAGE-{index}")["reason"] == "invalid"
    assert ScanLog.objects.filter(reason="invalid").count() == 0
    assert invalid_log.buffer.flush() == 20
    assert ScanLog.objects.filter(reason="invalid").count() == 20


def test_unknown_ticket(door, ticket):
    code = services.ticket_code(ticket)
    ticket.attendee.delete()  # deletes the ticket; its signed code still verifies
    answer = door.scan(code)
    assert (answer["status"], answer["reason"], answer["attendee"]) == (
        "rejected", "unknown", None
    )
    assert ScanLog.objects.get().reason == "unknown"


def test_revoked_ticket_and_old_code_of_reissued_ticket(door, register):
    revoked = register(email="r@example.org")
    code = services.ticket_code(revoked)
    services.revoke_ticket(revoked)
    answer = door.scan(code)
    assert (answer["reason"], answer["attendee"]["name"]) == ("revoked", "Giulia Rossi")

    reissued = register(email="x@example.org", name="Marco Bianchi")
    old = services.ticket_code(reissued)
    reissued = services.reissue_ticket(reissued)
    assert door.scan(old)["reason"] == "revoked"
    assert door.scan(services.ticket_code(reissued))["status"] == "ok"


def test_wrong_event(door, organiser):
    other = make_event(organiser, slug="other-conf")
    other_type = TicketType.objects.create(event=other, name="Ingresso")
    foreign = services.register(
        other, services.Registration("Anna Neri", "anna@example.org",
                                     ticket_type_id=other_type.pk)
    )
    answer = door.scan(services.ticket_code(foreign))
    assert (answer["status"], answer["reason"], answer["attendee"]) == (
        "rejected", "wrong_event", None
    )
    row = ScanLog.objects.get()
    assert (row.reason, row.ticket_id, row.event_id) == ("wrong_event", None, door.list.event_id)


def test_not_allowed_ticket_type_and_exit_on_a_list_without_exits(event, register, ticket_type,
                                                                  transport):
    speakers = TicketType.objects.create(event=event, name="Relatori")
    only_speakers = make_list(event, "Palco", ticket_types=[speakers])
    _, token = make_device(event, [only_speakers])
    door = Door(token, only_speakers, transport())
    visitor = register(email="v@example.org")
    speaker = register(email="s@example.org", ticket_type_id=speakers.pk)
    assert door.scan(services.ticket_code(visitor))["reason"] == "not_allowed"
    assert door.scan(services.ticket_code(speaker))["status"] == "ok"
    exit_answer = door.scan(services.ticket_code(speaker), type="exit")
    assert exit_answer["reason"] == "not_allowed"


@pytest.mark.parametrize("hours", ["future", "past"])
def test_closed_outside_opening_hours(event, register, hours, transport):
    now = timezone.now()
    if hours == "future":
        window = {"opens_at": now + dt.timedelta(hours=1), "closes_at": now + dt.timedelta(hours=5)}
    else:
        window = {"opens_at": now - dt.timedelta(hours=5), "closes_at": now - dt.timedelta(hours=1)}
    closed = make_list(event, "Serale", **window)
    _, token = make_device(event, [closed])
    answer = Door(token, closed, transport()).scan(services.ticket_code(register()))
    assert (answer["status"], answer["reason"]) == ("rejected", "closed")
    assert answer["attendee"]["name"] == "Giulia Rossi"
    assert not Presence.objects.exists()


def test_offline_scan_inside_opening_hours_is_judged_by_its_scanned_at(event, register, transport):
    now = timezone.now()
    morning = make_list(event, "Mattina", opens_at=now - dt.timedelta(hours=3),
                        closes_at=now - dt.timedelta(hours=1))
    _, token = make_device(event, [morning])
    scanned_at = (now - dt.timedelta(hours=2)).isoformat()
    door = Door(token, morning, transport())
    answer = door.scan(services.ticket_code(register()), scanned_at=scanned_at)
    assert answer["status"] == "ok"
    row = ScanLog.objects.get()
    assert row.source == "offline"
    assert row.scanned_at < row.received_at - dt.timedelta(minutes=100)


# --- nonces --------------------------------------------------------------------------------------


def test_same_nonce_returns_the_same_answer_and_records_nothing_new(door, ticket):
    code = services.ticket_code(ticket)
    nonce = str(uuid.uuid4())
    first = door.scan(code, nonce=nonce)
    assert first["status"] == "ok"
    assert door.scan(code, nonce=nonce) == first
    assert ScanLog.objects.count() == 1
    second = door.scan(code)
    assert second["reason"] == "already_checked_in"
    assert door.scan(code, nonce=nonce) == first  # still the first answer
    assert ScanLog.objects.count() == 2


def test_replayed_nonce_on_a_reentry_list_does_not_count_twice(event, register, transport):
    open_door = make_list(event, "Libero", allow_reentry=True)
    _, token = make_device(event, [open_door])
    door = Door(token, open_door, transport())
    code = services.ticket_code(register())
    nonce = str(uuid.uuid4())
    assert door.scan(code, nonce=nonce)["status"] == "ok"
    assert door.scan(code, nonce=nonce)["status"] == "ok"
    assert Presence.objects.get().entries == 1
    assert door.scan(code)["status"] == "ok"  # a new scan is a real re-entry
    assert Presence.objects.get().entries == 2


def test_nonces_are_per_device(event, door_list, register, transport):
    _, token_a = make_device(event, [door_list], name="A")
    _, token_b = make_device(event, [door_list], name="B")
    nonce = str(uuid.uuid4())
    code = services.ticket_code(register())
    assert Door(token_a, door_list, transport()).scan(code, nonce=nonce)["status"] == "ok"
    second = Door(token_b, door_list, transport()).scan(code, nonce=nonce)
    assert second["reason"] == "already_checked_in"
    assert ScanLog.objects.count() == 2


def test_scan_without_nonce_is_accepted(door, ticket):
    response = door.post(SCAN_URL, {"code": services.ticket_code(ticket), "list": door.list.pk})
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


# --- re-entry and exits --------------------------------------------------------------------------


def test_exit_and_reentry(event, register, transport):
    hall = make_list(event, "Sala", allow_reentry=True, allow_exit=True)
    _, token = make_device(event, [hall])
    door = Door(token, hall, transport())
    code = services.ticket_code(register())
    assert door.scan(code)["status"] == "ok"
    assert door.scan(code)["reason"] == "already_checked_in"  # still inside
    assert door.scan(code, type="exit")["status"] == "ok"
    assert Presence.objects.get().inside is False
    assert door.scan(code)["status"] == "ok"  # back in
    presence = Presence.objects.get()
    assert (presence.inside, presence.entries, presence.exits) == (True, 2, 1)


def test_exit_without_reentry_keeps_the_door_shut(event, register, transport):
    hall = make_list(event, "Sala", allow_exit=True)
    _, token = make_device(event, [hall])
    door = Door(token, hall, transport())
    code = services.ticket_code(register())
    assert door.scan(code)["status"] == "ok"
    assert door.scan(code, type="exit")["status"] == "ok"
    assert door.scan(code)["reason"] == "already_checked_in"
    # leaving twice changes nothing
    assert door.scan(code, type="exit")["status"] == "ok"
    presence = Presence.objects.get()
    assert (presence.inside, presence.entries, presence.exits) == (False, 1, 1)


def test_reentry_without_exit_scans_admits_every_entry(event, register, transport):
    hall = make_list(event, "Sala", allow_reentry=True)
    _, token = make_device(event, [hall])
    door = Door(token, hall, transport())
    code = services.ticket_code(register())
    assert [door.scan(code)["status"] for _ in range(3)] == ["ok", "ok", "ok"]
    assert Presence.objects.get().entries == 3


# --- 400 / 401 / 403 / 405 -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"list": 1}, "code"),
        ({"code": "X"}, "list"),
        ({"code": 12345, "list": 1}, "code"),
        ({"code": None, "list": 1}, "code"),
        ({"code": "   \n", "list": 1}, "code"),
        ({"code": "A" * 513, "list": 1}, "code"),
        ({"code": "X", "list": "1"}, "list"),
        ({"code": "X", "list": True}, "list"),
        ({"code": "X", "list": 1.5}, "list"),
        ({"code": "X", "list": -3}, "list"),
        ({"code": "X", "list": 1, "type": "sideways"}, "type"),
        ({"code": "X", "list": 1, "type": 1}, "type"),
        ({"code": "X", "list": 1, "nonce": 42}, "nonce"),
        ({"code": "X", "list": 1, "nonce": "n" * 65}, "nonce"),
        ({"code": "X", "list": 1, "scanned_at": "yesterday"}, "scanned_at"),
        ({"code": "X", "list": 1, "scanned_at": "2017-13-45T99:00:00"}, "scanned_at"),
        ({"code": "X", "list": 1, "scanned_at": 1506065400}, "scanned_at"),
    ],
)
def test_malformed_requests_are_400_naming_the_field(door, body, field):
    response = door.post(SCAN_URL, body)
    assert response.status_code == 400
    data = response.json()
    assert data["error"] == "invalid"
    assert field in data["fields"]
    assert field in data["detail"]
    assert not ScanLog.objects.exists()


@pytest.mark.parametrize(
    "raw", ["not json", "{\"code\": ", "[1, 2]", "\"code\"", "", b"\xff\xfe"]
)
def test_non_json_or_non_object_bodies_are_400(door, raw):
    response = door.post(SCAN_URL, raw, raw=True)
    assert response.status_code == 400
    assert "body" in response.json()["fields"]


def test_oversized_body_is_400(door, ticket):
    body = json.dumps({"code": services.ticket_code(ticket), "list": door.list.pk,
                       "padding": "x" * 70_000})
    response = door.post(SCAN_URL, body, raw=True)
    assert response.status_code == 400
    assert "body" in response.json()["fields"]


def test_missing_or_bad_token_is_401(door, ticket, staff, transport):
    body = json.dumps({"code": services.ticket_code(ticket), "list": door.list.pk})
    client = transport()
    cases = [
        {},
        {"HTTP_AUTHORIZATION": "Token"},
        {"HTTP_AUTHORIZATION": "Bearer " + door.token},
        {"HTTP_AUTHORIZATION": "Token vd_not-a-real-token"},
        {"HTTP_AUTHORIZATION": "Token " + staff.api_token},  # an organiser's token is no device
    ]
    for headers in cases:
        response = client.post(SCAN_URL, body, content_type="application/json", **headers)
        assert response.status_code == 401, headers
        assert response.json()["error"] == "not_authenticated"
        assert response["WWW-Authenticate"] == "Token"
    assert not ScanLog.objects.exists()


def test_revoked_device_is_401(event, door_list, ticket, transport):
    from checkin import services as checkin_services

    device, token = make_device(event, [door_list])
    door = Door(token, door_list, transport())
    assert door.scan(services.ticket_code(ticket))["status"] == "ok"
    checkin_services.revoke_device(device)
    response = door.post(SCAN_URL, {"code": services.ticket_code(ticket), "list": door_list.pk})
    assert response.status_code == 401


def test_list_of_another_event_or_not_allowed_is_403(event, organiser, door, ticket):
    other_event = make_event(organiser, slug="other-conf")
    foreign_list = make_list(other_event, "Ingresso")
    same_event_other_list = make_list(event, "Uscita")
    code = services.ticket_code(ticket)
    for list_id in (foreign_list.pk, same_event_other_list.pk, 987654):
        response = door.post(SCAN_URL, {"code": code, "list": list_id})
        assert response.status_code == 403
        data = response.json()
        assert data["error"] == "permission_denied"
        assert "list" in data["fields"]
    assert not ScanLog.objects.exists()


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_other_methods_are_405(door, method):
    response = getattr(door.client, method)(SCAN_URL, HTTP_AUTHORIZATION=f"Token {door.token}")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["error"] == "method_not_allowed"


def test_a_valid_scan_uses_few_queries(door, ticket, register, django_assert_max_num_queries):
    # PostgreSQL: one raw prepared statement (not in Django's query log); SQLite: a handful.
    code = services.ticket_code(ticket)
    door.scan(services.ticket_code(register(email="warm@example.org")))  # warm the caches
    with django_assert_max_num_queries(9):  # 5 statements + 4 savepoint commands
        door.scan(code)


def test_gunicorns_app_answers_scans_in_front_of_django(event, door_list, ticket, settings):
    _, token = make_device(event, [door_list])
    body = {"code": services.ticket_code(ticket), "list": door_list.pk}
    fast = Door(token, door_list, WsgiClient()).post(SCAN_URL, body)
    assert fast.status_code == 200 and fast["X-Content-Type-Options"] == "nosniff"
    assert "x-frame-options" not in fast.headers  # Django's middleware was not involved
    settings.VARCO_SCAN_FAST_PATH = False
    slow = Door(token, door_list, WsgiClient()).post(SCAN_URL, body)
    assert slow.json()["reason"] == "already_checked_in"
    assert slow["X-Frame-Options"] == "DENY"


def test_fast_path_keeps_ssl_redirect_and_hsts(event, door_list, ticket, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    _, token = make_device(event, [door_list])
    body = json.dumps({"code": services.ticket_code(ticket), "list": door_list.pk})
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    secure = WsgiClient().post(SCAN_URL, body, "application/json", HTTP_X_FORWARDED_PROTO="https",
                               **auth)
    assert secure.status_code == 200 and secure.json()["status"] == "ok"
    assert secure["Strict-Transport-Security"] == "max-age=3600"
    assert "x-frame-options" not in secure.headers
    # plain HTTP is left to Django, whose SecurityMiddleware redirects it (configured at start-up,
    # so in this process it answers itself: the X-Frame-Options header shows who did)
    plain = WsgiClient().post(SCAN_URL, body, "application/json", **auth)
    assert plain["X-Frame-Options"] == "DENY"


def test_fast_path_keeps_the_allowed_hosts_check(event, door_list, ticket):
    _, token = make_device(event, [door_list])
    response = WsgiClient().post(
        SCAN_URL, json.dumps({"code": services.ticket_code(ticket), "list": door_list.pk}),
        "application/json", HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="evil.example",
    )
    assert response.status_code == 400
    assert not ScanLog.objects.exists()


def test_unexpected_errors_are_a_json_500(event, door_list, ticket, monkeypatch):
    from checkin import scanning

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(scanning, "scan_code", broken)
    _, token = make_device(event, [door_list])
    response = Door(token, door_list, WsgiClient()).post(
        SCAN_URL, {"code": services.ticket_code(ticket), "list": door_list.pk}
    )
    assert response.status_code == 500
    assert response.json()["error"] == "server_error"
