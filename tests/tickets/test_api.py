"""The organiser and public REST API end to end, through DRF's APIClient.

Every refusal is checked for its status and for the JSON error shape naming the field at
fault; nothing here may answer 500.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.support.api_errors import assert_error
from tests.support.factories import make_event
from tickets import onboarding, services
from tickets.models import Attendee, Event, Ticket, TicketType

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def rival(db):
    """Another organiser team with its own event, staff member and attendee."""
    team = services.create_organiser("Rival Events", "rival")
    user, _, token = onboarding.create_staff_user(team, "rival", "rival@example.org", "pw")
    event = make_event(team, slug="rival-conf", capacity=50)
    ticket_type = TicketType.objects.create(event=event, name="Rival ticket")
    ticket = services.register(event, services.Registration("Secret Person", "secret@rival.org"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return {"team": team, "user": user, "event": event, "type": ticket_type, "ticket": ticket,
            "api": client}


def event_payload(organiser_id: int, **extra) -> dict:
    payload = {
        "organiser": organiser_id,
        "name": "Welfare Day",
        "slug": "welfare-day",
        "venue": "Teatro",
        "address": "Via Roma 1, Milano",
        "timezone": "Europe/Rome",
        "start": "2017-09-22T09:30:00+02:00",
        "end": "2017-09-22T17:00:00+02:00",
        "languages": ["it", "en"],
        "capacity": 100,
    }
    payload.update(extra)
    return payload


# --- authentication -----------------------------------------------------------------------


def test_token_auth_lists_own_events(api, event):
    response = api.get(f"{V1}/events/")
    assert response.status_code == 200
    assert [e["slug"] for e in response.json()["results"]] == [event.slug]


@pytest.mark.parametrize(
    "path",
    ["/events/", "/organisers/", "/events/{event}/", "/events/{event}/attendees/",
     "/events/{event}/tickets/", "/events/{event}/ticket-types/",
     "/events/{event}/attendees/export/"],
)
def test_anonymous_gets_401_json(event, path):
    response = APIClient().get(V1 + path.format(event=event.pk), HTTP_ACCEPT_LANGUAGE="en")
    body = assert_error(response, 401, code="not_authenticated")
    assert "credentials" in body["detail"].lower()
    assert response["WWW-Authenticate"].startswith("Token")


def test_bad_token_gets_401(event):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef")
    assert_error(client.get(f"{V1}/events/"), 401, code="authentication_failed")
    client.credentials(HTTP_AUTHORIZATION="Token")
    assert_error(client.get(f"{V1}/events/"), 401)


def test_session_auth_reads_and_needs_csrf_to_write(staff, event):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff)
    assert client.get(f"{V1}/events/{event.pk}/").json()["slug"] == event.slug
    response = client.post(
        f"{V1}/events/{event.pk}/attendees/", {"name": "A", "email": "a@example.org"},
        format="json",
    )
    body = assert_error(response, 403, code="permission_denied")
    assert "csrf" in body["detail"].lower()
    assert not Attendee.objects.exists()


def test_session_auth_write_with_csrf_token(staff, event, ticket_type):
    """Log in through the admin's login form, then write with the CSRF token, as a browser."""
    client = APIClient(enforce_csrf_checks=True)
    client.get("/admin/login/")
    login = client.post("/admin/login/?next=/admin/", {
        "username": "staff", "password": "pw",
        "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
    })
    assert login.status_code == 302, login.content[:300]
    response = client.post(
        f"{V1}/events/{event.pk}/attendees/", {"name": "A", "email": "a@example.org"},
        format="json", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert response.status_code == 201, response.content


def test_user_without_team_sees_nothing(event):
    from django.contrib.auth.models import User

    from tickets.onboarding import issue_api_token

    loner = User.objects.create_user("loner", password="pw")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_api_token(loner)}")
    assert client.get(f"{V1}/events/").json()["results"] == []
    assert client.get(f"{V1}/organisers/").json()["results"] == []
    assert_error(client.get(f"{V1}/events/{event.pk}/"), 404)
    response = client.post(f"{V1}/events/", event_payload(event.organiser_id), format="json")
    assert_error(response, 400, field="organiser")


# --- isolation between organisers -----------------------------------------------------------


def test_other_organisers_event_is_404_everywhere(api, event, rival):
    ev = rival["event"]
    ticket = rival["ticket"]
    for method, path in [
        ("get", f"/events/{ev.pk}/"),
        ("patch", f"/events/{ev.pk}/"),
        ("put", f"/events/{ev.pk}/"),
        ("delete", f"/events/{ev.pk}/"),
        ("get", f"/events/{ev.pk}/attendees/"),
        ("post", f"/events/{ev.pk}/attendees/"),
        ("get", f"/events/{ev.pk}/attendees/{ticket.attendee_id}/"),
        ("patch", f"/events/{ev.pk}/attendees/{ticket.attendee_id}/"),
        ("get", f"/events/{ev.pk}/attendees/export/"),
        ("post", f"/events/{ev.pk}/attendees/import/"),
        ("get", f"/events/{ev.pk}/ticket-types/"),
        ("post", f"/events/{ev.pk}/ticket-types/"),
        ("get", f"/events/{ev.pk}/ticket-types/{rival['type'].pk}/"),
        ("delete", f"/events/{ev.pk}/ticket-types/{rival['type'].pk}/"),
        ("get", f"/events/{ev.pk}/tickets/"),
        ("get", f"/events/{ev.pk}/tickets/{ticket.pk}/"),
        ("post", f"/events/{ev.pk}/tickets/{ticket.pk}/revoke/"),
        ("post", f"/events/{ev.pk}/tickets/{ticket.pk}/reissue/"),
        # the rival's objects reached through one's own event
        ("get", f"/events/{event.pk}/attendees/{ticket.attendee_id}/"),
        ("get", f"/events/{event.pk}/tickets/{ticket.pk}/"),
        ("post", f"/events/{event.pk}/tickets/{ticket.pk}/revoke/"),
        ("get", f"/events/{event.pk}/ticket-types/{rival['type'].pk}/"),
        ("get", f"/organisers/{rival['team'].pk}/"),
    ]:
        response = getattr(api, method)(V1 + path, {"name": "x"}, format="json")
        body = assert_error(response, 404, code="not_found")
        text = response.content.decode()
        assert "secret" not in text.lower() and "rival" not in text.lower(), (path, body)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.version) == ("valid", 1)
    assert Event.objects.get(pk=ev.pk).name == "Ma come gira questo Welfare"


def test_lists_never_include_other_organisers_data(api, event, register, rival):
    register(email="mine@example.org")
    assert [e["id"] for e in api.get(f"{V1}/events/").json()["results"]] == [event.pk]
    assert [o["id"] for o in api.get(f"{V1}/organisers/").json()["results"]] == [
        event.organiser_id
    ]
    people = api.get(f"{V1}/events/{event.pk}/attendees/?search=secret").json()
    assert people["results"] == []
    search = api.get(f"{V1}/events/{event.pk}/attendees/?search={rival['ticket'].reference}")
    assert search.json()["results"] == []


def test_superuser_sees_every_event(event, rival):
    from django.contrib.auth.models import User

    admin = User.objects.create_superuser("root", "root@example.org", "pw")
    client = APIClient()
    client.force_authenticate(admin)
    slugs = {e["slug"] for e in client.get(f"{V1}/events/").json()["results"]}
    assert slugs == {event.slug, rival["event"].slug}


# --- events -------------------------------------------------------------------------------


def test_create_event_gives_key_and_defaults(api, organiser):
    response = api.post(f"{V1}/events/", event_payload(organiser.pk), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["organiser"] == organiser.pk and body["issued_count"] == 0
    event = Event.objects.get(pk=body["id"])
    assert event.keys.filter(active=True).count() == 1
    assert event.start.isoformat() == "2017-09-22T07:30:00+00:00"
    # languages default to Italian then English
    payload = event_payload(organiser.pk, slug="other")
    del payload["languages"]
    assert api.post(f"{V1}/events/", payload, format="json").json()["languages"] == ["it", "en"]


def test_create_event_for_a_team_one_is_not_in(api, organiser, rival):
    response = api.post(f"{V1}/events/", event_payload(rival["team"].pk), format="json")
    body = assert_error(response, 400, field="organiser")
    assert "Rival" not in str(body)
    assert not Event.objects.filter(slug="welfare-day").exists()


def test_member_of_two_teams_may_pick_either(api, staff, organiser, rival):
    rival["team"].members.add(staff)
    response = api.post(f"{V1}/events/", event_payload(rival["team"].pk), format="json")
    assert response.status_code == 201
    assert Event.objects.get(slug="welfare-day").organiser == rival["team"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": 5}, "timezone"),
        ({"end": "2017-09-22T09:00:00+02:00"}, "end"),
        ({"end": "2017-09-22T09:30:00+02:00"}, "end"),
        ({"start": "yesterday"}, "start"),
        ({"start": None}, "start"),
        ({"capacity": -1}, "capacity"),
        ({"capacity": "many"}, "capacity"),
        ({"capacity": 10**12}, "capacity"),
        ({"capacity": 1.5}, "capacity"),
        ({"languages": ["de"]}, "languages.0"),
        ({"languages": []}, "languages"),
        ({"languages": "it"}, "languages"),
        ({"slug": "not a slug!"}, "slug"),
        ({"slug": "rival-conf"}, "slug"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": ["list"]}, "name"),
        ({"name": "nul\x00byte"}, "name"),
        ({"organiser": "one"}, "organiser"),
        ({"organiser": 999999}, "organiser"),
        ({"registration_open": "perhaps"}, "registration_open"),
        ({"capacty": 10}, "capacty"),
        ({"issued_count": 10}, None),  # read-only: ignored, not an error
    ],
)
def test_create_event_rejects_bad_input(api, organiser, rival, change, field):
    response = api.post(f"{V1}/events/", event_payload(organiser.pk, **change), format="json")
    if field is None:
        assert response.status_code == 201
        assert Event.objects.get(slug="welfare-day").issued_count == 0
        return
    body = assert_error(response, 400, field=field, code="invalid")
    assert field in body["detail"]
    assert not Event.objects.filter(slug="welfare-day").exists()


def test_unknown_field_is_named(api, organiser):
    response = api.post(f"{V1}/events/", event_payload(organiser.pk, capacty=10, colour="red"),
                        format="json")
    body = assert_error(response, 400)
    assert set(body["fields"]) == {"capacty", "colour"}


def test_create_event_missing_fields_named(api):
    body = assert_error(api.post(f"{V1}/events/", {}, format="json"), 400)
    assert {"organiser", "name", "slug", "start", "end"} <= set(body["fields"])


def test_body_that_is_not_an_object(api, organiser):
    assert_error(api.post(f"{V1}/events/", [1, 2], format="json"), 400)
    assert_error(api.post(f"{V1}/events/", "null", content_type="application/json"), 400)


def test_update_event(api, event):
    response = api.patch(f"{V1}/events/{event.pk}/", {"venue": "Altrove", "capacity": 5},
                         format="json")
    assert response.status_code == 200, response.content
    event.refresh_from_db()
    assert (event.venue, event.capacity) == ("Altrove", 5)
    # only the end given: checked against the stored start
    response = api.patch(f"{V1}/events/{event.pk}/", {"end": "2017-09-21T10:00:00+02:00"},
                         format="json")
    assert_error(response, 400, field="end")


def test_capacity_below_issued_is_refused(api, event, register):
    register(email="a@example.org")
    register(email="b@example.org")
    response = api.patch(f"{V1}/events/{event.pk}/", {"capacity": 1}, format="json")
    assert_error(response, 400, field="capacity")
    assert api.patch(f"{V1}/events/{event.pk}/", {"capacity": 2}, format="json").status_code == 200


def test_event_update_does_not_touch_counters(api, event, register):
    """A PATCH carrying stale or forged counters leaves issued_count/last_serial alone."""
    register(email="a@example.org")
    response = api.patch(
        f"{V1}/events/{event.pk}/", {"issued_count": 0, "name": "Renamed"}, format="json"
    )
    assert response.status_code == 200
    event.refresh_from_db()
    assert (event.name, event.issued_count, event.last_serial) == ("Renamed", 1, 1)


def test_delete_event(api, organiser, event, register):
    empty = make_event(organiser, slug="empty")
    assert api.delete(f"{V1}/events/{empty.pk}/").status_code == 204
    assert not Event.objects.filter(pk=empty.pk).exists()
    register()
    assert_error(api.delete(f"{V1}/events/{event.pk}/"), 400, field="event")
    assert Event.objects.filter(pk=event.pk).exists()


def test_unknown_event_is_404(api):
    assert_error(api.get(f"{V1}/events/999999/"), 404, code="not_found")
    response = api.post(f"{V1}/events/999999/attendees/", {"name": "A", "email": "a@x.org"},
                        format="json")
    assert_error(response, 404, code="not_found")


def test_method_not_allowed_is_json(api, event):
    assert_error(api.delete(f"{V1}/events/{event.pk}/attendees/"), 405,
                 code="method_not_allowed")
    assert_error(api.put(f"{V1}/events/{event.pk}/tickets/1/"), 405)


def test_unsupported_media_type_is_json(api, event):
    response = api.post(f"{V1}/events/", "name=x", content_type="text/plain")
    assert_error(response, 415, code="unsupported_media_type")


# --- ticket types -------------------------------------------------------------------------


def test_ticket_type_crud(api, event):
    url = f"{V1}/events/{event.pk}/ticket-types/"
    response = api.post(url, {"name": "Relatore", "name_i18n": {"en": "Speaker"},
                              "capacity": 20, "public": False}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["price"], body["issued_count"], body["public"]) == ("0.00", 0, False)
    detail = f"{url}{body['id']}/"
    assert api.patch(detail, {"price": "12.50"}, format="json").json()["price"] == "12.50"
    assert [t["name"] for t in api.get(url).json()["results"]] == ["Relatore"]
    assert api.delete(detail).status_code == 204
    assert not TicketType.objects.filter(event=event).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "Ingresso"}, "name"),  # the fixture's type already has it
        ({"name": ""}, "name"),
        ({"name": "X", "price": "-1"}, "price"),
        ({"name": "X", "price": "abc"}, "price"),
        ({"name": "X", "price": "NaN"}, "price"),
        ({"name": "X", "price": "1.234"}, "price"),
        ({"name": "X", "price": "1e12"}, "price"),
        ({"name": "X", "capacity": -5}, "capacity"),
        ({"name": "X", "name_i18n": "Speaker"}, "name_i18n"),
        ({"name": "X", "name_i18n": {"en": ["a"]}}, "name_i18n.en"),
        ({"name": "X", "position": -1}, "position"),
        ({"name": "X", "public": "maybe"}, "public"),
    ],
)
def test_ticket_type_rejects_bad_input(api, event, ticket_type, payload, field):
    response = api.post(f"{V1}/events/{event.pk}/ticket-types/", payload, format="json")
    assert_error(response, 400, field=field, code="invalid")
    assert TicketType.objects.filter(event=event).count() == 1


def test_ticket_type_same_name_in_another_event_is_fine(api, event, rival):
    response = api.post(f"{V1}/events/{event.pk}/ticket-types/", {"name": "Rival ticket"},
                        format="json")
    assert response.status_code == 201


def test_ticket_type_rename_to_existing_name(api, event, ticket_type):
    other = TicketType.objects.create(event=event, name="Relatore")
    response = api.patch(f"{V1}/events/{event.pk}/ticket-types/{other.pk}/",
                         {"name": "Ingresso"}, format="json")
    assert_error(response, 400, field="name")
    same = api.patch(f"{V1}/events/{event.pk}/ticket-types/{ticket_type.pk}/",
                     {"name": "Ingresso"}, format="json")
    assert same.status_code == 200


def test_ticket_type_capacity_below_issued(api, event, ticket_type, register):
    register(email="a@example.org")
    register(email="b@example.org")
    url = f"{V1}/events/{event.pk}/ticket-types/{ticket_type.pk}/"
    assert_error(api.patch(url, {"capacity": 1}, format="json"), 400, field="capacity")
    assert api.patch(url, {"capacity": 2}, format="json").json()["issued_count"] == 2
    ticket_type.refresh_from_db()
    assert (ticket_type.capacity, ticket_type.issued_count) == (2, 2)


def test_ticket_type_with_tickets_cannot_be_deleted(api, event, ticket_type, register):
    register()
    response = api.delete(f"{V1}/events/{event.pk}/ticket-types/{ticket_type.pk}/")
    assert_error(response, 400, field="ticket_type")
    assert TicketType.objects.filter(pk=ticket_type.pk).exists()


# --- attendees ----------------------------------------------------------------------------


def test_create_attendee_registers_with_ticket(api, event, ticket_type):
    response = api.post(
        f"{V1}/events/{event.pk}/attendees/",
        {"name": " Giulia Rossi ", "email": "Giulia.Rossi@Example.org",
         "organisation": "Coop Il Sole", "language": "en"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["attendee"]["name"] == "Giulia Rossi"
    assert body["attendee"]["email"] == "giulia.rossi@example.org"
    assert body["attendee"]["language"] == "en"
    assert body["ticket"]["serial"] == 1 and body["ticket"]["status"] == "valid"
    assert body["ticket"]["ticket_type_id"] == ticket_type.pk
    ticket = Ticket.objects.get()
    assert ticket.reference == body["ticket"]["reference"]
    listed = api.get(f"{V1}/events/{event.pk}/attendees/").json()
    assert listed["count"] == 1
    assert listed["results"][0]["tickets"][0]["reference"] == ticket.reference
    # default language: the event's first
    response = api.post(f"{V1}/events/{event.pk}/attendees/",
                        {"name": "B", "email": "b@example.org"}, format="json")
    assert response.json()["attendee"]["language"] == "it"


def test_create_attendee_with_chosen_ticket_type(api, event, ticket_type):
    speaker = TicketType.objects.create(event=event, name="Relatore", public=False)
    response = api.post(f"{V1}/events/{event.pk}/attendees/",
                        {"name": "A", "email": "a@example.org", "ticket_type": speaker.pk},
                        format="json")
    assert response.status_code == 201  # organisers may use non-public types
    assert response.json()["ticket"]["ticket_type"] == "Relatore"


def test_duplicate_email_names_email(api, event, ticket_type, register):
    register(email="giulia@example.org")
    response = api.post(f"{V1}/events/{event.pk}/attendees/",
                        {"name": "G", "email": "GIULIA@example.org"}, format="json")
    assert_error(response, 400, field="email", code="duplicate")
    assert Attendee.objects.count() == 1


def test_over_capacity_is_sold_out(api, event, ticket_type):
    ticket_type.capacity = 1
    ticket_type.save()
    url = f"{V1}/events/{event.pk}/attendees/"
    assert api.post(url, {"name": "A", "email": "a@example.org"}, format="json").status_code == 201
    response = api.post(url, {"name": "B", "email": "b@example.org"}, format="json")
    assert_error(response, 400, field="ticket_type", code="sold_out")
    Event.objects.filter(pk=event.pk).update(capacity=1)
    TicketType.objects.filter(pk=ticket_type.pk).update(capacity=None)
    response = api.post(url, {"name": "B", "email": "b@example.org"}, format="json")
    assert_error(response, 400, field="event", code="sold_out")
    assert Attendee.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "a@example.org"}, "name"),
        ({"name": "   ", "email": "a@example.org"}, "name"),
        ({"name": "A"}, "email"),
        ({"name": "A", "email": "not-an-email"}, "email"),
        ({"name": "A", "email": 42}, "email"),
        ({"name": "A", "email": "a@example.org", "language": "de"}, "language"),
        ({"name": "A", "email": "a@example.org", "ticket_type": "first"}, "ticket_type"),
        ({"name": "A", "email": "a@example.org", "ticket_type": 999999}, "ticket_type"),
        ({"name": "A", "email": "a@example.org", "organisation": "x" * 201}, "organisation"),
        ({"name": "A", "email": "a@example.org", "nmae": "typo"}, "nmae"),
        ({"name": "Anna\nVerdi", "email": "a@example.org"}, "name"),
        ({"name": "A", "email": "a@example.org", "organisation": "Coop\tX"}, "organisation"),
    ],
)
def test_create_attendee_rejects_bad_input(api, event, ticket_type, payload, field):
    response = api.post(f"{V1}/events/{event.pk}/attendees/", payload, format="json")
    assert_error(response, 400, field=field)
    assert not Attendee.objects.exists()


def test_ticket_type_of_another_event_is_refused(api, event, ticket_type, rival):
    response = api.post(f"{V1}/events/{event.pk}/attendees/",
                        {"name": "A", "email": "a@example.org", "ticket_type": rival["type"].pk},
                        format="json")
    body = assert_error(response, 400, field="ticket_type")
    assert "Rival" not in str(body)


def test_language_outside_event_languages(api, organiser, ticket_type):
    event = make_event(organiser, slug="it-only", languages=["it"])
    TicketType.objects.create(event=event, name="Ingresso")
    response = api.post(f"{V1}/events/{event.pk}/attendees/",
                        {"name": "A", "email": "a@example.org", "language": "en"}, format="json")
    assert_error(response, 400, field="language")


def test_event_without_ticket_types(api, event):
    response = api.post(f"{V1}/events/{event.pk}/attendees/",
                        {"name": "A", "email": "a@example.org"}, format="json")
    assert_error(response, 400, field="ticket_type")


@pytest.mark.parametrize(
    "body",
    ['{"name": "A", "email": ', "{'name': 'A'}", "\xff\xfe garbage", "", "{" * 5000,
     '{"name": NaN, "email": "a@example.org"}'],
)
def test_malformed_json_is_400_with_error_shape(api, event, ticket_type, body):
    response = api.generic("POST", f"{V1}/events/{event.pk}/attendees/",
                           body.encode("latin-1") if body.startswith("\xff") else body,
                           content_type="application/json")
    if body == "":
        assert_error(response, 400, field="name")  # an empty body is an empty object
        return
    payload = assert_error(response, 400, code="parse_error")
    assert "json" in payload["detail"].lower()
    assert payload["fields"], payload
    assert not Attendee.objects.exists()


def test_attendee_search_and_pagination(api, event, register):
    ticket = register(name="Mario Bianchi", email="mario@example.org", organisation="ACLI Milano")
    register(name="Anna Verdi", email="anna@example.org", organisation="Caritas")
    url = f"{V1}/events/{event.pk}/attendees/"
    for term in ("bianchi", "ACLI", "mario@", ticket.reference.lower()):
        names = [a["name"] for a in api.get(url, {"search": term}).json()["results"]]
        assert names == ["Mario Bianchi"], term
    page = api.get(url, {"limit": 1, "offset": 1}).json()
    assert page["count"] == 2 and len(page["results"]) == 1
    assert api.get(url, {"limit": "abc", "offset": -4}).status_code == 200


def test_update_attendee(api, event, register):
    ticket = register(email="a@example.org")
    register(email="b@example.org")
    url = f"{V1}/events/{event.pk}/attendees/{ticket.attendee_id}/"
    response = api.patch(url, {"organisation": "Nuova Coop", "email": "A2@example.org"},
                         format="json")
    assert response.status_code == 200, response.content
    assert response.json()["email"] == "a2@example.org"
    assert_error(api.patch(url, {"email": "B@example.org"}, format="json"), 400, field="email")
    assert_error(api.patch(url, {"language": "de"}, format="json"), 400, field="language")
    assert_error(api.patch(url, {"name": ""}, format="json"), 400, field="name")
    assert_error(api.patch(url, {"nmae": "typo"}, format="json"), 400, field="nmae")
    # known read-only fields are ignored, so a GET body can be sent back as a PUT
    current = api.get(url).json()
    assert api.put(url, current, format="json").json() == current


def test_attendee_language_update_checked_against_event(api, organiser):
    event = make_event(organiser, slug="it-only", languages=["it"])
    TicketType.objects.create(event=event, name="Ingresso")
    ticket = services.register(event, services.Registration("A", "a@example.org"))
    url = f"{V1}/events/{event.pk}/attendees/{ticket.attendee_id}/"
    assert_error(api.patch(url, {"language": "en"}, format="json"), 400, field="language")


# --- tickets: revoke and reissue ------------------------------------------------------------


def test_revoke_and_reissue(api, event, ticket_type, register):
    ticket = register()
    base = f"{V1}/events/{event.pk}/tickets/{ticket.pk}"
    reissued = api.post(f"{base}/reissue/")
    assert reissued.status_code == 200
    assert (reissued.json()["version"], reissued.json()["status"]) == (2, "valid")
    revoked = api.post(f"{base}/revoke/")
    assert (revoked.json()["version"], revoked.json()["status"]) == (3, "revoked")
    again = api.post(f"{base}/revoke/")  # idempotent: no second release of the place
    assert again.status_code == 200 and again.json()["version"] == 3
    ticket_type.refresh_from_db()
    event.refresh_from_db()
    assert (ticket_type.issued_count, event.issued_count) == (0, 0)
    assert_error(api.post(f"{base}/reissue/"), 400, field="ticket")
    listed = api.get(f"{V1}/events/{event.pk}/tickets/").json()["results"]
    assert [(t["serial"], t["status"]) for t in listed] == [(1, "revoked")]


def test_revoke_frees_a_place_for_someone_else(api, event, ticket_type, register):
    ticket_type.capacity = 1
    ticket_type.save()
    ticket = register()
    url = f"{V1}/events/{event.pk}/attendees/"
    response = api.post(url, {"name": "B", "email": "b@example.org"}, format="json")
    assert_error(response, 400, code="sold_out")
    api.post(f"{V1}/events/{event.pk}/tickets/{ticket.pk}/revoke/")
    response = api.post(url, {"name": "B", "email": "b@example.org"}, format="json")
    assert response.status_code == 201
    assert response.json()["ticket"]["serial"] == 2  # serials are never reused


def test_unknown_ticket_is_404(api, event):
    assert_error(api.post(f"{V1}/events/{event.pk}/tickets/999999/revoke/"), 404)


# --- public endpoints ---------------------------------------------------------------------


def test_public_event(event, ticket_type):
    TicketType.objects.create(event=event, name="Staff", public=False)
    response = APIClient().get(f"{V1}/public/events/{event.slug}/")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == event.name and body["registration_open"] is True
    assert body["sold_out"] is False
    assert [t["name"] for t in body["ticket_types"]] == ["Ingresso"]
    assert "issued_count" not in body and "capacity" not in body
    assert_error(APIClient().get(f"{V1}/public/events/nope/"), 404)


def test_public_registration(event, ticket_type):
    response = APIClient().post(
        f"{V1}/public/events/{event.slug}/register/",
        {"name": "Anna", "email": "Anna@Example.org", "organisation": "Coop"}, format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["attendee"] == {"name": "Anna", "email": "anna@example.org"}
    assert body["ticket"]["status"] == "valid"
    assert Ticket.objects.get().reference == body["ticket"]["reference"]
    again = APIClient().post(f"{V1}/public/events/{event.slug}/register/",
                             {"name": "Anna", "email": "anna@example.org"}, format="json")
    assert_error(again, 400, field="email", code="duplicate")


def test_public_registration_closed_event(event, ticket_type):
    event.registration_open = False
    event.save()
    response = APIClient().post(f"{V1}/public/events/{event.slug}/register/",
                                {"name": "A", "email": "a@example.org"}, format="json")
    assert_error(response, 400, field="event", code="closed")
    assert not Attendee.objects.exists()


def test_public_registration_full_event(organiser):
    event = make_event(organiser, slug="tiny", capacity=1)
    TicketType.objects.create(event=event, name="Ingresso")
    url = f"{V1}/public/events/tiny/register/"
    assert APIClient().post(url, {"name": "A", "email": "a@example.org"},
                            format="json").status_code == 201
    response = APIClient().post(url, {"name": "B", "email": "b@example.org"}, format="json")
    assert_error(response, 400, field="event", code="sold_out")
    assert APIClient().get(f"{V1}/public/events/tiny/").json()["sold_out"] is True


def test_public_registration_refuses_non_public_type(event, ticket_type):
    hidden = TicketType.objects.create(event=event, name="Staff", public=False)
    response = APIClient().post(f"{V1}/public/events/{event.slug}/register/",
                                {"name": "A", "email": "a@example.org", "ticket_type": hidden.pk},
                                format="json")
    assert_error(response, 400, field="ticket_type")
    # and with only a non-public type there is nothing to register for
    ticket_type.public = False
    ticket_type.save()
    response = APIClient().post(f"{V1}/public/events/{event.slug}/register/",
                                {"name": "A", "email": "a@example.org"}, format="json")
    assert_error(response, 400, field="ticket_type")
    assert not Attendee.objects.exists()


def test_public_registration_default_type_is_the_first_public_one_by_position(event):
    """The view reads the default type with the event (one query); naming it or another
    public type still works, and the counters follow the type actually taken."""
    TicketType.objects.create(event=event, name="Staff", public=False, position=0)
    later = TicketType.objects.create(event=event, name="Ridotto", position=2)
    first = TicketType.objects.create(event=event, name="Intero", position=1)
    url = f"{V1}/public/events/{event.slug}/register/"
    for email, chosen in [("a@example.org", None), ("b@example.org", first.pk),
                          ("c@example.org", later.pk)]:
        body = {"name": "A", "email": email} | ({"ticket_type": chosen} if chosen else {})
        assert APIClient().post(url, body, format="json").status_code == 201
    taken = dict(Ticket.objects.filter(event=event).values_list("attendee__email",
                                                                  "ticket_type__name"))
    assert taken == {"a@example.org": "Intero", "b@example.org": "Intero",
                     "c@example.org": "Ridotto"}
    first.refresh_from_db()
    later.refresh_from_db()
    assert (first.issued_count, later.issued_count) == (2, 1)


def test_public_registration_bad_input_and_unknown_event(event, ticket_type):
    client = APIClient()
    assert_error(client.post(f"{V1}/public/events/{event.slug}/register/", {"name": "A"},
                             format="json"), 400, field="email")
    assert_error(client.post(f"{V1}/public/events/{event.slug}/register/", "{",
                             content_type="application/json"), 400, code="parse_error")
    assert_error(client.post(f"{V1}/public/events/nope/register/",
                             {"name": "A", "email": "a@example.org"}, format="json"), 404)
    assert_error(client.get(f"{V1}/public/events/{event.slug}/register/"), 405)


def test_public_registration_ignores_credentials(event, ticket_type, rival):
    """A token of another organiser neither helps nor hurts on the public endpoint."""
    response = rival["api"].post(f"{V1}/public/events/{event.slug}/register/",
                                 {"name": "A", "email": "a@example.org"}, format="json")
    assert response.status_code == 201
    assert set(response.json()) == {"attendee", "ticket"}


def test_public_registration_is_rate_limited(organiser):
    event = make_event(organiser, slug="busy")
    TicketType.objects.create(event=event, name="Ingresso")
    url = f"{V1}/public/events/busy/register/"
    client = APIClient()
    codes = [client.post(url, {"name": "A", "email": f"{i}@example.org"}, format="json")
             for i in range(31)]
    assert [r.status_code for r in codes[:30]] == [201] * 30
    assert_error(codes[30], 429, code="throttled")
    assert Attendee.objects.count() == 30


# --- schema and docs ----------------------------------------------------------------------


def test_schema_and_docs_render():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/v1/events/", "/api/v1/events/{event_pk}/attendees/",
                 "/api/v1/events/{event_pk}/attendees/import/",
                 "/api/v1/events/{event_pk}/tickets/{id}/revoke/",
                 "/api/v1/public/events/{slug}/register/"):
        assert path in paths, path
    docs = APIClient().get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_schema_validates_without_warnings(capsys):
    """drf-spectacular's own validation of the generated schema, failing on any warning."""
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_huge_ids_are_404_not_500(api, event, ticket_type):
    huge = 10**30
    assert_error(api.get(f"{V1}/events/{huge}/"), 404)
    assert_error(api.get(f"{V1}/events/{huge}/attendees/"), 404)
    assert_error(api.get(f"{V1}/events/{event.pk}/tickets/{huge}/"), 404)
    response = api.post(f"{V1}/events/{event.pk}/attendees/",
                        {"name": "A", "email": "a@example.org", "ticket_type": huge},
                        format="json")
    assert_error(response, 400, field="ticket_type")
    response = api.post(f"{V1}/events/", event_payload(huge), format="json")
    assert_error(response, 400, field="organiser")


def test_times_without_offset_are_the_events_local_time(api, organiser):
    payload = event_payload(organiser.pk, timezone="Europe/London",
                            start="2017-09-22T09:30:00", end="2017-09-22T17:00")
    response = api.post(f"{V1}/events/", payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["start"], body["end"]) == ("2017-09-22T09:30:00+01:00",
                                            "2017-09-22T17:00:00+01:00")
    event = Event.objects.get(pk=body["id"])
    assert event.start.isoformat() == "2017-09-22T08:30:00+00:00"
    # a PATCH without a time zone uses the stored one
    response = api.patch(f"{V1}/events/{event.pk}/", {"end": "2017-09-22T18:00"}, format="json")
    assert response.json()["end"] == "2017-09-22T18:00:00+01:00"
    public = APIClient().get(f"{V1}/public/events/{event.slug}/").json()
    assert public["start"] == "2017-09-22T09:30:00+01:00"


def test_unknown_api_url_is_json_404():
    response = APIClient().get("/api/v1/no-such-thing/")
    assert_error(response, 404, code="not_found")
    assert APIClient().get("/no-such-page/")["Content-Type"].startswith("text/html")


def test_server_error_under_api_is_json(rf):
    import json

    from core.api.exceptions import server_error

    response = server_error(rf.get("/api/v1/events/"))
    assert response.status_code == 500
    assert json.loads(response.content)["error"] == "server_error"
    assert server_error(rf.get("/admin/"))["Content-Type"].startswith("text/html")


@pytest.mark.django_db(transaction=True)
def test_a_clash_only_the_database_sees_is_409(api, event, ticket_type, monkeypatch):
    """Two requests validated at the same moment: the unique constraint refuses the second."""
    from tickets.services import events  # the module whose global save_ticket_type reads

    monkeypatch.setattr(events, "ticket_type_name_taken", lambda *args: False)
    response = api.post(f"{V1}/events/{event.pk}/ticket-types/", {"name": "Ingresso"},
                        format="json")
    assert_error(response, 409, code="conflict")
    assert TicketType.objects.filter(event=event).count() == 1


# --- no 500 for any JSON body ---------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40) | st.sampled_from(["", "2017-09-22T09:30:00+02:00", "Europe/Rome",
                                              "a@example.org", "it", "-1", "1e400", "0"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=3),
    max_leaves=6,
)
_field_names = st.sampled_from([
    "organiser", "name", "slug", "description", "venue", "address", "timezone", "start", "end",
    "languages", "capacity", "registration_open", "email", "organisation", "language",
    "ticket_type", "price", "name_i18n", "public", "position", "id", "issued_count",
])
_bodies = st.dictionaries(_field_names, _json_values, max_size=8) | _json_values


@hypothesis_settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=_bodies, target=st.sampled_from(["events", "event", "ticket-types", "ticket-type",
                                             "attendees", "attendee", "public"]),
       method=st.sampled_from(["post", "put", "patch"]))
def test_no_json_body_causes_a_server_error(api, event, ticket_type, register, throttle_cache,
                                            body, target, method):
    throttle_cache.clear()
    attendee = Attendee.objects.filter(event=event).first() or register().attendee
    url = {
        "events": f"{V1}/events/",
        "event": f"{V1}/events/{event.pk}/",
        "ticket-types": f"{V1}/events/{event.pk}/ticket-types/",
        "ticket-type": f"{V1}/events/{event.pk}/ticket-types/{ticket_type.pk}/",
        "attendees": f"{V1}/events/{event.pk}/attendees/",
        "attendee": f"{V1}/events/{event.pk}/attendees/{attendee.pk}/",
        "public": f"{V1}/public/events/{event.slug}/register/",
    }[target]
    client = APIClient() if target == "public" else api
    response = getattr(client, method)(url, body, format="json")
    assert response.status_code < 500, (response.status_code, response.content[:300])
    if response.status_code >= 400:
        assert_error(response, response.status_code)
    event.refresh_from_db()
    ticket_type.refresh_from_db()
    assert event.issued_count == Ticket.objects.filter(event=event, status="valid").count()


def test_lone_surrogates_are_refused(api, event, ticket_type):
    response = api.generic("POST", f"{V1}/events/{event.pk}/attendees/",
                           '{"name": "\\ud800", "email": "a@example.org"}',
                           content_type="application/json")
    assert_error(response, 400, field="name")
    assert not Attendee.objects.exists()


def test_delete_attendee_frees_the_place(api, event, ticket_type, register, rival):
    ticket_type.capacity = 1
    ticket_type.save()
    ticket = register()
    url = f"{V1}/events/{event.pk}/attendees/{ticket.attendee_id}/"
    assert api.delete(url).status_code == 204
    assert not Attendee.objects.filter(pk=ticket.attendee_id).exists()
    ticket_type.refresh_from_db()
    assert ticket_type.issued_count == 0
    assert_error(api.delete(url), 404)
    response = api.post(f"{V1}/events/{event.pk}/attendees/",
                        {"name": "B", "email": "b@example.org"}, format="json")
    assert response.status_code == 201
    theirs = f"{V1}/events/{rival['event'].pk}/attendees/{rival['ticket'].attendee_id}/"
    assert_error(api.delete(theirs), 404)
    assert Attendee.objects.filter(pk=rival["ticket"].attendee_id).exists()


@pytest.mark.django_db(transaction=True)
def test_delete_blocked_by_protected_rows_is_409(api, event, ticket_type, register, monkeypatch):
    """Another app's PROTECT foreign key (e.g. a scan log) must give a 409, not a 500."""
    from django.db.models import ProtectedError

    ticket = register()

    def refuse(self, *args, **kwargs):
        raise ProtectedError("protected", {ticket})

    monkeypatch.setattr(Attendee, "delete", refuse)
    response = api.delete(f"{V1}/events/{event.pk}/attendees/{ticket.attendee_id}/",
                          HTTP_ACCEPT_LANGUAGE="en")
    body = assert_error(response, 409, code="protected")
    assert "tickets" in body["detail"]
    italian = api.delete(f"{V1}/events/{event.pk}/attendees/{ticket.attendee_id}/",
                         HTTP_ACCEPT_LANGUAGE="it")
    assert "biglietti" in assert_error(italian, 409, code="protected")["detail"]
    ticket.refresh_from_db()
    assert ticket.status == "valid"  # the revocation before the delete was rolled back


def test_browsable_api_pages_render(api, staff, event, ticket_type, register):
    """The HTML view of each endpoint (what an organiser sees in a browser) renders."""
    ticket = register()
    client = APIClient()
    client.force_login(staff)
    for path in ["/organisers/", "/events/", f"/events/{event.pk}/",
                 f"/events/{event.pk}/ticket-types/", f"/events/{event.pk}/ticket-types/"
                 f"{ticket_type.pk}/", f"/events/{event.pk}/attendees/",
                 f"/events/{event.pk}/attendees/{ticket.attendee_id}/",
                 f"/events/{event.pk}/tickets/", f"/events/{event.pk}/tickets/{ticket.pk}/",
                 f"/public/events/{event.slug}/"]:
        response = client.get(V1 + path, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, (path, response.status_code)
        assert response["Content-Type"].startswith("text/html")
