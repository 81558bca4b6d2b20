"""Attendee search, accent-, case- and script-blind, on whichever database the run has (issue
13, item 2): the door (checkin search API), the organiser API (``?search=``) and the console
(the attendee admin's search box) all find "Zoë" by "zoe" and "ZOË", "Müller" by "muller"...

The one match is ``tickets.selectors.matching_attendees`` over the folded columns
``Attendee.search_name``/``search_email``; the last tests hold every write path to keeping
those columns equal to ``attendee_search_keys`` of the row.
"""

from __future__ import annotations

import pathlib
import re

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from tests.support.checkin import Door, make_device, make_list
from tickets import attendee_csv, demo, selectors, services
from tickets.models import Attendee, attendee_search_keys

pytestmark = pytest.mark.django_db

V1 = "/api/v1"

PEOPLE = [
    # (name, e-mail, organisation)
    ("Zoë Ferrari", "zoe.f@example.org", "Coop Il Sole"),
    ("Hans Müller", "hans@example.org", "Stadtwerke"),
    ("Jan Łukasiewicz", "jan@example.org", "Politechnika"),
    ("Greta Weiß", "greta@example.org", "Verein Straße der Kinder"),
    ("Åsa Lindqvist", "asa@example.org", ""),
    ("Søren Ørsted", "soren@example.org", "Æble ApS"),
    ("Αθηνά Παπαδοπούλου", "athina@example.org", "Δήμος Αθηναίων"),
    ("Иван Петров", "ivan@example.org", "Кооператив"),
    ("Mario Rossi", "m.zollner@example.org", "ACLI"),
]

# query -> the names it must find, exactly (in name order)
FINDS = {
    "ZOË": ["Zoë Ferrari"],
    "zoe": ["Zoë Ferrari"],
    "Zoë": ["Zoë Ferrari"],
    "muller": ["Hans Müller"],
    "MÜLLER": ["Hans Müller"],
    "lukasiewicz": ["Jan Łukasiewicz"],
    "ŁUKASIEWICZ": ["Jan Łukasiewicz"],
    "strasse": ["Greta Weiß"],  # the organisation "Straße"
    "weiss": ["Greta Weiß"],
    "asa lind": ["Åsa Lindqvist"],
    "orsted": ["Søren Ørsted"],
    "aeble": ["Søren Ørsted"],
    "αθηνα": ["Αθηνά Παπαδοπούλου"],  # Greek without the tonos finds it with
    "ΑΘΗΝΑ": ["Αθηνά Παπαδοπούλου"],
    "δημος": ["Αθηνά Παπαδοπούλου"],
    "иван": ["Иван Петров"],
    "ИВАН": ["Иван Петров"],
    "ivan": ["Иван Петров"],  # a Latin keyboard at the door finds a Cyrillic name
    "zoey": [],
    "%": [],  # LIKE's wildcards are not wildcards
    "z_e": [],  # (as a LIKE pattern, "_" would match the "o" of "zoe")
    "  ": [],
}


@pytest.fixture
def people(register):
    return {name: register(name=name, email=email, organisation=organisation)
            for name, email, organisation in PEOPLE}


@pytest.fixture
def door(event) -> Door:
    checkin_list = make_list(event)
    _, token = make_device(event, [checkin_list], name="Porta A")
    return Door(token, checkin_list)


def _expected(query: str) -> list[str]:
    return sorted(FINDS[query])


@pytest.mark.parametrize("query", list(FINDS))
def test_door_search(people, door, query):
    results = door.get(f"{V1}/checkin/search/", q=query).json()["results"]
    assert sorted(r["name"] for r in results) == _expected(query)


@pytest.mark.parametrize("query", list(FINDS))
def test_organiser_api_search(people, api, event, query):
    response = api.get(f"{V1}/events/{event.pk}/attendees/", {"search": query})
    assert response.status_code == 200
    body = response.json()
    names = sorted(a["name"] for a in body["results"])
    if query.strip():
        assert names == _expected(query)
        assert body["count"] == len(names)
    else:  # a blank search is no search
        assert body["count"] == len(PEOPLE)


@pytest.mark.parametrize("query", [q for q in FINDS if q.strip()])
def test_console_search(people, staff, query):
    client = Client()
    client.force_login(staff)
    response = client.get("/admin/tickets/attendee/", {"q": query})
    assert response.status_code == 200
    html = response.content.decode()
    shown = sorted(name for name, _, _ in PEOPLE if f">{name}<" in html)
    assert shown == _expected(query)


def test_email_is_searched_by_the_api_and_console_but_not_at_the_door(people, api, event,
                                                                      staff, door):
    # "zollner" is only in Mario Rossi's address
    found = api.get(f"{V1}/events/{event.pk}/attendees/", {"search": "ZÖLLNER"}).json()
    assert [a["name"] for a in found["results"]] == ["Mario Rossi"]
    client = Client()
    client.force_login(staff)
    assert ">Mario Rossi<" in client.get("/admin/tickets/attendee/", {"q": "zollner"}
                                         ).content.decode()
    assert door.get(f"{V1}/checkin/search/", q="zollner").json()["results"] == []


def test_a_reference_is_found_however_typed(people, api, event, door):
    ticket = people["Hans Müller"]
    typed = ticket.reference.replace("-", " ").lower()
    assert [r["ticket"] for r in door.get(f"{V1}/checkin/search/", q=typed).json()["results"]
            ] == [ticket.pk]
    found = api.get(f"{V1}/events/{event.pk}/attendees/", {"search": typed}).json()
    assert [a["id"] for a in found["results"]] == [ticket.attendee_id]


def test_a_match_never_spans_name_and_organisation(register, api, event):
    register(name="Anna Verdi", email="anna@example.org", organisation="Caritas")
    found = api.get(f"{V1}/events/{event.pk}/attendees/", {"search": "verdi caritas"}).json()
    assert found["count"] == 0
    found = api.get(f"{V1}/events/{event.pk}/attendees/", {"search": "verdi"}).json()
    assert found["count"] == 1


# --- every write path keeps the folded columns in step ---------------------------------------


def _assert_keys_in_step() -> int:
    rows = list(Attendee.objects.values_list("pk", "name", "organisation", "email",
                                             "search_name", "search_email"))
    for pk, name, organisation, email, search_name, search_email in rows:
        assert (search_name, search_email) == attendee_search_keys(name, organisation, email), pk
    return len(rows)


def _csrf_post(client: Client, url: str, data: dict):
    page = client.get(url).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    return client.post(url, {"csrfmiddlewaretoken": token, **data})


def test_every_write_path_keeps_the_search_keys_in_step(event, ticket_type, api, staff,
                                                       register, tmp_path):
    event.registration_open = True
    event.save()
    # the service, as every path below ends in it
    ticket = register(name="Zoë Ferrari", email="zoe@example.org", organisation="Coop")
    services.update_attendee(ticket.attendee, {"name": "Zoë Ferrari-Łukasiewicz"})
    # the organiser API: create, PATCH each field, PUT
    created = api.post(f"{V1}/events/{event.pk}/attendees/",
                       {"name": "Hans Müller", "email": "Hans@Example.org"}, format="json")
    assert created.status_code == 201, created.content
    url = f"{V1}/events/{event.pk}/attendees/{created.json()['attendee']['id']}/"
    for change in ({"name": "Hans Straße"}, {"organisation": "Øresund"},
                   {"email": "hans.weiss@example.org"}):
        assert api.patch(url, change, format="json").status_code == 200
    assert api.put(url, {"name": "Иван Петров", "email": "ivan@example.org",
                         "organisation": "Кооператив", "language": "it"},
                   format="json").status_code == 200
    # the public API and the public page
    assert APIClient().post(f"{V1}/public/events/{event.slug}/register/",
                            {"name": "Αθηνά", "email": "athina@example.org"},
                            format="json").status_code == 201
    page = _csrf_post(Client(enforce_csrf_checks=True), f"/e/{event.slug}/register/",
                      {"name": "Åsa Lind", "email": "asa@example.org", "organisation": "Ærø"})
    assert page.status_code == 302, page.content[:500]
    # the console: add, then change
    console = Client()
    console.force_login(staff)
    added = console.post("/admin/tickets/attendee/add/", {
        "event": event.pk, "name": "Søren Ørsted", "email": "soren@example.org",
        "organisation": "", "language": "it", "ticket_type": ticket_type.pk,
        "tickets-TOTAL_FORMS": 0, "tickets-INITIAL_FORMS": 0,
    })
    assert added.status_code == 302, added.content[:500]
    soren = Attendee.objects.get(email="soren@example.org")
    changed = console.post(f"/admin/tickets/attendee/{soren.pk}/change/", {
        "name": "Søren Æbelø", "email": "soren.ae@example.org", "organisation": "Đakovo",
        "language": "it", "tickets-TOTAL_FORMS": 1, "tickets-INITIAL_FORMS": 1,
        "tickets-MIN_NUM_FORMS": 0, "tickets-MAX_NUM_FORMS": 1000,
        "tickets-0-id": soren.tickets.get().pk, "tickets-0-attendee": soren.pk,
    })
    assert changed.status_code == 302, changed.content.decode()[:2000]
    assert Attendee.objects.get(pk=soren.pk).name == "Søren Æbelø"
    # CSV import, in code and by the command
    result = attendee_csv.import_attendees(
        event, "name,email,organisation\nJan Łukasiewicz,jan@example.org,Politechnika\n")
    assert result.created == 1
    csv_file = pathlib.Path(tmp_path, "people.csv")
    csv_file.write_text("name,email\nGreta Weiß,greta@example.org\n", encoding="utf-8")
    call_command("import_attendees", str(csv_file), event=event.slug)
    # the demo seed
    assert demo.seed_attendees(event, 5) == 5
    assert _assert_keys_in_step() == 12
    # and a search finds what the paths wrote
    found = api.get(f"{V1}/events/{event.pk}/attendees/", {"search": "aebelo"}).json()
    assert [a["name"] for a in found["results"]] == ["Søren Æbelø"]


def test_a_save_of_some_fields_updates_their_keys():
    """``save(update_fields=[...])`` (what a future partial write would use) carries the keys
    derived from those fields with it."""
    from tests.support.factories import make_event
    from tickets.models import TicketType

    organiser = services.create_organiser("Fondazione Chiave", "chiave")
    event = make_event(organiser, slug="chiave")
    TicketType.objects.create(event=event, name="Ingresso")
    ticket = services.register(event, services.Registration("Zoë", "zoe@example.org"))
    attendee = ticket.attendee
    attendee.name, attendee.organisation, attendee.email = "Müller", "Łódź", "M@example.org"
    for field in ("name", "organisation", "email"):
        attendee.save(update_fields=[field])
    _assert_keys_in_step()
    assert Attendee.objects.get(pk=attendee.pk).search_name == "muller\nlodz"


# Writes that skip ``Attendee.save`` (and so the keys): none may exist outside migrations.
BYPASSES = re.compile(
    r"Attendee\.objects\b[^\n]*\.(update|bulk_create|bulk_update|raw)\(|"
    r"UPDATE\s+tickets_attendee|INSERT\s+INTO\s+tickets_attendee",
    re.IGNORECASE,
)


def test_no_code_writes_attendees_around_save():
    root = pathlib.Path(__file__).resolve().parents[2]
    offenders = []
    for room in ("core", "tickets", "checkin", "backend", "worker"):
        for path in (root / room).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if BYPASSES.search(line):
                    offenders.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert offenders == []


@pytest.mark.django_db(transaction=True)  # migrating back and forth needs real transactions
def test_the_migration_fills_the_keys_of_existing_rows(event):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("tickets", "0006_dates_in_range")]
    after = [("tickets", "0007_attendee_search_keys")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("tickets", "Attendee")
    for number, (name, email, organisation) in enumerate(PEOPLE):
        old.objects.create(event_id=event.pk, name=name, email=email, organisation=organisation,
                           email_key=f"{number}@example.org")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    try:
        assert _assert_keys_in_step() == len(PEOPLE)
        found = selectors.attendees_for_event(event, "lukasiewicz")
        assert [a.name for a in found] == ["Jan Łukasiewicz"]
    finally:
        # Leave the schema as every later test expects it: all migrations applied.
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
