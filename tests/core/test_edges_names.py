"""The edges hold (issue 10): names and e-mail addresses, on every write path.

One rule (``tickets.services.clean_text_fields`` / ``clean_email``) for the public
registration, the organiser API (POST, PUT, PATCH), the admin (add and change), the CSV
import and the management commands: no control characters (CR, LF, BEL, ESC), no invisible
format characters (bidi overrides that make "Mario Rossi" print as "Mario issoR"); and one
attendee per *normalised* address (a long-s ``sam@`` is ``sam@``, an IDN domain is its punycode),
held by the database's unique constraint.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import translation

from core.errors import ServiceError
from tests.support.api_errors import assert_error
from tickets import attendee_csv, services
from tickets.models import Attendee, Event, Organiser

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
ADMIN = "/admin/tickets"

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "Mario \u202eRossi" shows as "Mario issoR"
BAD_TEXTS = {
    "crlf": "Mario\r\nBcc: x@example.org",
    "bel": "Mario\x07Rossi",
    "esc": "Mario\x1b[31mRossi",
    "bidi-override": f"Mario {RLO}Rossi",
    "bidi-isolate": "Mario \u2067Rossi\u2069",
    "zero-width-space": "Mario\u200bRossi",
    "line-separator": "Mario\u2028Rossi",
}
BAD = pytest.mark.parametrize("bad", list(BAD_TEXTS.values()), ids=list(BAD_TEXTS))


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def mario(register):
    return register(name="Mario Rossi", email="mario@example.org").attendee


@pytest.fixture
def browser(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


# --- one text rule on every path ----------------------------------------------------------


@BAD
def test_public_registration_refuses_control_and_format_characters(client, event,
                                                                   ticket_type, bad):
    response = client.post(f"{V1}/public/events/{event.slug}/register/",
                           {"name": bad, "email": "x@example.org"},
                           content_type="application/json")
    assert_error(response, 400, field="name")
    assert not Attendee.objects.exists()


def test_public_registration_page_names_the_field(client, event, ticket_type):
    response = client.post(f"/e/{event.slug}/register/?lang=en",
                           {"name": f"Mario {RLO}Rossi", "email": "x@example.org"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_name-error">Contains an invisible formatting character' in html
    assert not Attendee.objects.exists()


@BAD
@pytest.mark.parametrize("method", ["patch", "put"])
def test_organiser_api_edit_refuses_what_registration_refuses(api, event, mario, bad, method):
    url = f"{V1}/events/{event.pk}/attendees/{mario.pk}/"
    body = {"name": bad} if method == "patch" else {
        "name": bad, "email": "mario@example.org", "organisation": "", "language": "it"}
    assert_error(getattr(api, method)(url, body, format="json"), 400, field="name")
    response = api.patch(url, {"organisation": f"ACLI{RLO} Milano"}, format="json")
    assert_error(response, 400, field="organisation")
    mario.refresh_from_db()
    assert (mario.name, mario.organisation) == ("Mario Rossi", "Coop Il Sole")


def test_organiser_api_edit_keeps_good_names_and_normalises_them(api, event, mario):
    url = f"{V1}/events/{event.pk}/attendees/{mario.pk}/"
    # e + combining acute is stored as é (NFC); a ZWJ emoji sequence and Persian's ZWNJ stay.
    name = "Rene\u0301 \U0001f469\u200d\U0001f4bb \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    response = api.patch(url, {"name": name}, format="json")
    assert response.status_code == 200, response.content
    mario.refresh_from_db()
    assert mario.name == "Ren\u00e9 \U0001f469\u200d\U0001f4bb " \
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"


@BAD
def test_admin_change_of_an_attendee_refuses_it(browser, event, mario, bad):
    url = f"{ADMIN}/attendee/{mario.pk}/change/"
    data = {"name": bad, "email": "mario@example.org", "organisation": "", "language": "it",
            "tickets-TOTAL_FORMS": 0, "tickets-INITIAL_FORMS": 0}
    response = browser.post(url, data)
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    mario.refresh_from_db()
    assert mario.name == "Mario Rossi"


def test_admin_add_of_an_attendee_refuses_a_bidi_override(browser, event, ticket_type):
    data = {"event": event.pk, "name": f"Luca {RLO}Neri", "email": "luca@example.org",
            "organisation": "", "language": "it", "ticket_type": "",
            "tickets-TOTAL_FORMS": 0, "tickets-INITIAL_FORMS": 0}
    response = browser.post(f"{ADMIN}/attendee/add/", data)
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert not Attendee.objects.exists()


@BAD
def test_ticket_type_names_follow_the_rule(api, event, ticket_type, bad):
    url = f"{V1}/events/{event.pk}/ticket-types/"
    assert_error(api.post(url, {"name": bad}, format="json"), 400, field="name")
    assert_error(api.patch(f"{url}{ticket_type.pk}/", {"name": bad}, format="json"), 400,
                 field="name")
    assert_error(api.patch(f"{url}{ticket_type.pk}/", {"name_i18n": {"en": bad}},
                           format="json"), 400, field="name_i18n")
    ticket_type.refresh_from_db()
    assert (ticket_type.name, ticket_type.name_i18n) == ("Ingresso", {"en": "Admission"})


@BAD
def test_event_texts_follow_the_rule(api, organiser, event, bad):
    url = f"{V1}/events/{event.pk}/"
    for field in ("name", "venue", "address"):
        assert_error(api.patch(url, {field: bad}, format="json"), 400, field=field)
    body = {"organiser": organiser.pk, "name": bad, "slug": "new-one",
            "start": "2018-09-22T09:30:00", "end": "2018-09-22T17:00:00"}
    assert_error(api.post(f"{V1}/events/", body, format="json"), 400, field="name")
    event.refresh_from_db()
    assert event.name == "Ma come gira questo Welfare"
    assert not Event.objects.filter(slug="new-one").exists()


def test_event_description_may_have_line_breaks_but_no_overrides(api, event):
    url = f"{V1}/events/{event.pk}/"
    assert api.patch(url, {"description": "Line one\nLine two"}, format="json").status_code == 200
    assert_error(api.patch(url, {"description": f"x{RLO}y"}, format="json"), 400,
                 field="description")
    assert_error(api.patch(url, {"description": "x\x1by"}, format="json"), 400,
                 field="description")


def test_admin_event_and_ticket_type_forms_follow_the_rule(browser, event, ticket_type):
    response = browser.post(f"{ADMIN}/tickettype/{ticket_type.pk}/change/", {
        "name": f"Ingresso{RLO}", "name_it": "", "name_en": "", "price": "0", "capacity": "",
        "public": "on", "position": 0,
    })
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    response = browser.post(f"{ADMIN}/event/{event.pk}/change/", {
        "organiser": event.organiser_id, "name": "Conf\x07", "slug": event.slug,
        "description": "", "venue": event.venue, "address": event.address,
        "timezone": "Europe/Rome", "start_0": "2017-09-22", "start_1": "09:30:00",
        "end_0": "2017-09-22", "end_1": "17:00:00", "languages": ["it", "en"],
        "default_language": "it", "capacity": "", "registration_open": "on",
        "ticket_types-TOTAL_FORMS": 1, "ticket_types-INITIAL_FORMS": 1,
        "ticket_types-MIN_NUM_FORMS": 0, "ticket_types-MAX_NUM_FORMS": 1000,
        "ticket_types-0-id": ticket_type.pk, "ticket_types-0-event": event.pk,
        "ticket_types-0-name": f"Ingresso{RLO}", "ticket_types-0-name_en": f"Entry{RLO}",
        "ticket_types-0-price": "0", "ticket_types-0-capacity": "",
        "ticket_types-0-public": "on", "ticket_types-0-position": 0,
    })
    assert response.status_code == 200 and response.content.decode().count("errorlist") >= 2
    event.refresh_from_db()
    ticket_type.refresh_from_db()
    assert (event.name, ticket_type.name) == ("Ma come gira questo Welfare", "Ingresso")


def test_csv_import_refuses_a_bidi_override_with_its_line(event, ticket_type):
    data = f"name,email,organisation\nMario {RLO}Rossi,mario@example.org,\n".encode()
    result = attendee_csv.import_attendees(event, data)
    assert not result.committed
    assert [(e.line, e.field) for e in result.errors] == [(2, "name")]
    assert not Attendee.objects.exists()


def test_create_organiser_command_refuses_a_control_character(db):
    with pytest.raises(CommandError, match="team name"):
        call_command("create_organiser", "Team\x1b[2J", "--user", "u", "--email", "u@x.org")
    assert not Organiser.objects.filter(name__startswith="Team").exists()


# --- e-mail aliases ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "alias"),
    [
        ("sam@example.org", "\u017fam@example.org"),  # LATIN SMALL LETTER LONG S
        ("kim@example.org", "\u212aim@example.org"),  # KELVIN SIGN
        ("info@m\u00fcller.de", "info@xn--mller-kva.de"),  # an IDN domain and its punycode
        ("info@xn--mller-kva.de", "INFO@M\u00dcLLER.DE"),
    ],
)
def test_an_address_alias_is_the_same_attendee(client, event, ticket_type, first, alias):
    url = f"{V1}/public/events/{event.slug}/register/"
    response = client.post(url, {"name": "Sam", "email": first}, content_type="application/json")
    assert response.status_code == 201, response.content
    response = client.post(url, {"name": "Sam", "email": alias}, content_type="application/json")
    assert_error(response, 400, field="email", code="duplicate")
    assert Attendee.objects.count() == 1
    # The address is kept as typed (shown, and the ticket is sent to it).
    assert Attendee.objects.get().email == first.lower()


def test_the_database_holds_the_normalised_uniqueness(event, register):
    register(email="info@m\u00fcller.de")
    with pytest.raises(IntegrityError), transaction.atomic():
        Attendee.objects.create(event=event, name="Other", email="INFO@xn--mller-kva.de")


def test_idna_2008_keeps_sharp_s_domains_apart(event, register):
    """IDNA 2003 (Python's codec) maps ß to ss; faß.de and fass.de are different domains."""
    register(email="a@fa\u00df.de")
    register(email="a@fass.de")
    assert Attendee.objects.count() == 2


def test_an_edit_to_an_alias_of_another_attendee_is_refused(api, event, mario, register):
    other = register(name="Sam", email="sam@example.org").attendee
    url = f"{V1}/events/{event.pk}/attendees/{other.pk}/"
    response = api.patch(url, {"email": "MARIO@example.org"}, format="json")
    assert_error(response, 400, field="email", code="duplicate")
    response = api.patch(url, {"email": "\u017fam@example.org"}, format="json")
    assert response.status_code == 200, response.content  # its own address, as an alias


def test_csv_import_compares_normalised_addresses(event, ticket_type, register):
    register(email="sam@example.org")
    data = ("name,email\nA,\u017fam@example.org\nB,b@m\u00fcller.de\n"
            "C,B@xn--mller-kva.de\n").encode()
    result = attendee_csv.import_attendees(event, data)
    with translation.override("en"):  # the reasons, rendered in English
        messages = {e.line: str(e.message) for e in result.errors}
    assert "already registered" in messages[2] and "twice" in messages[4], messages
    result = attendee_csv.import_attendees(event, data, partial=True, skip_existing=True)
    assert (result.created, result.skipped) == (1, 1)


def test_service_error_names_the_field_for_every_rule():
    with pytest.raises(ServiceError) as caught:
        services.clean_text_fields(services.EVENT_TEXT, {"venue": "a\u202eb"})
    assert caught.value.field == "venue"
    assert services.clean_email(" Sam@M\u00fcller.DE ") == (
        "sam@m\u00fcller.de", "sam@xn--mller-kva.de")


@pytest.mark.django_db(transaction=True)
def test_the_migration_keys_existing_rows_and_keeps_legacy_aliases(event):
    """Rows from before the key: filled in; two that turn out to be one address are both
    kept (nothing deleted), the later one with a key no address can have."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("tickets", "0003_ticket_type_translation_keys")]
    after = [("tickets", "0004_attendee_email_key")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("tickets", "Attendee")
    first = old.objects.create(event_id=event.pk, name="Sam", email="sam@example.org")
    alias = old.objects.create(event_id=event.pk, name="Sam", email="\u017fam@example.org")
    idn = old.objects.create(event_id=event.pk, name="M", email="info@m\u00fcller.de")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    try:
        keys = dict(Attendee.objects.values_list("pk", "email_key"))
        assert keys[first.pk] == "sam@example.org"
        assert keys[alias.pk] == f"sam@example.org#legacy-duplicate-{alias.pk}"
        assert keys[idn.pk] == "info@xn--mller-kva.de"
        # the model as of this migration: today's has columns later migrations add
        new = executor.loader.project_state(after).apps.get_model("tickets", "Attendee")
        with pytest.raises(IntegrityError), transaction.atomic():
            new.objects.create(event_id=event.pk, name="Again", email="SAM@example.org",
                               email_key="sam@example.org")
    finally:
        # Leave the schema as every later test expects it: all migrations applied.
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
