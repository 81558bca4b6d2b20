"""Who may read attendance, the exports, the dashboard page and its live updates, and the
cost of keeping the figures current."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
import uuid
import xml.etree.ElementTree as ET
import zoneinfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from checkin import attendance
from checkin.attendance import selectors as attendance_selectors
from checkin.attendance import stream as attendance_stream
from checkin.models import Device, ScanLog
from tests.support.factories import make_event
from tickets import onboarding, services
from tickets.dates import event_when_html
from tickets.models import TicketType

pytestmark = pytest.mark.django_db

API_PATHS = (
    "/api/v1/events/{}/attendance/",
    "/api/v1/events/{}/attendance/checkins.csv",
    "/api/v1/events/{}/attendance/no-shows.csv",
    "/api/v1/events/{}/attendance/arrivals.svg",
)
PAGE_PATHS = ("/events/{}/dashboard/stream/", "/events/{}/dashboard/live/")
DASHBOARD = "/events/{}/dashboard/"


@pytest.fixture(autouse=True)
def _fresh_attendance(settings):
    settings.VARCO_ATTENDANCE_TICK_MS = 0
    attendance.reset()
    yield
    attendance.reset()


@pytest.fixture
def admission(live_event):
    return TicketType.objects.create(event=live_event, name="Ingresso",
                                     name_i18n={"en": "Admission"})


@pytest.fixture
def people(live_event, admission):
    def make(n: int, organisation: str = "Coop Il Sole"):
        return services.register(
            live_event,
            services.Registration(f"Persona {n}", f"p{n}@example.org", organisation,
                                  ticket_type_id=admission.pk),
        )

    return make


@pytest.fixture
def session(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def outsider():
    """A staff member of another organiser, with an event of their own."""
    other = services.create_organiser("Altra Fondazione", "altra")
    make_event(other, slug="altra-conf")
    user, _, token = onboarding.create_staff_user(other, "outsider", "o@example.org", "pw")
    user.api_token = token
    return user


# --- permissions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", API_PATHS)
def test_api_and_exports_for_the_organiser_only(path, live_event, api, outsider, door):
    url = path.format(live_event.pk)
    assert api.get(url).status_code == 200
    # anonymous
    anonymous = APIClient().get(url)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "not_authenticated"
    # a door device's token is not an organiser's
    device = APIClient()
    device.credentials(HTTP_AUTHORIZATION=f"Token {door.token}")
    refused = device.get(url)
    assert refused.status_code == 401
    assert "registered" not in refused.content.decode()
    # another organiser's staff, by token and by session: the event does not exist for them
    foreign = APIClient()
    foreign.credentials(HTTP_AUTHORIZATION=f"Token {outsider.api_token}")
    assert foreign.get(url).status_code == 404
    foreign_session = Client()
    foreign_session.force_login(outsider)
    assert foreign_session.get(url).status_code == 404
    # an event that does not exist
    assert api.get(path.format(live_event.pk + 1000)).status_code == 404


@pytest.mark.parametrize("path", PAGE_PATHS)
def test_live_updates_for_the_organiser_only(path, live_event, outsider, door):
    url = path.format(live_event.pk)
    anonymous = Client().get(url)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "not_authenticated"
    assert Client().get(url, HTTP_AUTHORIZATION=f"Token {door.token}").status_code == 401
    foreign = Client()
    foreign.force_login(outsider)
    assert foreign.get(url).status_code == 404


def test_dashboard_page_needs_an_organiser_login(live_event, session, outsider, door):
    url = DASHBOARD.format(live_event.pk)
    anonymous = Client().get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/admin/login/?next=")
    device = Client().get(url, HTTP_AUTHORIZATION=f"Token {door.token}")
    assert device.status_code == 302
    foreign = Client()
    foreign.force_login(outsider)
    assert foreign.get(url).status_code == 404
    assert session.get(url).status_code == 200


def test_other_methods_are_refused(live_event, api, session):
    assert api.post(API_PATHS[0].format(live_event.pk), {}).status_code == 405
    assert session.post(DASHBOARD.format(live_event.pk)).status_code == 405
    assert session.post(PAGE_PATHS[1].format(live_event.pk)).status_code == 405


# --- the dashboard page --------------------------------------------------------------------------


def test_dashboard_in_italian_and_english(live_event, session, people, door):
    door.scan(services.ticket_code(people(1)))
    url = DASHBOARD.format(live_event.pk)
    italian = session.get(url).content.decode()
    assert '<html lang="it">' in italian
    assert "Entrati" in italian and "Ora presenti" in italian
    assert live_event.name in italian
    english = session.get(url + "?lang=en")
    assert english.cookies["django_language"].value == "en"
    text = english.content.decode()
    assert '<html lang="en">' in text
    assert "Checked in" in text and "Inside now" in text
    # The first figures are in the page itself: no wait for the first update.
    initial = text.split('id="dashboard-initial" type="application/json">')[1].split("</script>")[0]
    assert json.loads(initial)["attendance"]["checked_in"] == 1
    config = json.loads(
        text.split('id="dashboard-config" type="application/json">')[1].split("</script>")[0]
    )
    assert config["labels"]["reason"]["already_checked_in"] == "already checked in"
    assert config["urls"]["stream"] == f"/events/{live_event.pk}/dashboard/stream/"
    # The language stays chosen (cookie) for the next visit.
    assert '<html lang="en">' in session.get(url).content.decode()


def test_dashboard_says_when_as_the_attendee_pages_do(organiser, session):
    """One day: its date and range; past midnight in the event's zone, both days (it said
    "22 settembre 2017, 18:00-02:00")."""
    rome = zoneinfo.ZoneInfo("Europe/Rome")
    one_day = make_event(organiser, slug="one-day")
    page = session.get(DASHBOARD.format(one_day.pk)).content.decode()
    assert 'venerdì 22 settembre 2017, <span class="nowrap">09:30\u201317:00</span>' in page
    night = make_event(organiser, slug="night", start=dt.datetime(2017, 9, 22, 18, tzinfo=rome),
                       end=dt.datetime(2017, 9, 23, 2, tzinfo=rome))
    page = session.get(DASHBOARD.format(night.pk) + "?lang=en").content.decode()
    assert str(event_when_html(night, "en")) in page
    assert "Saturday 23 September 2017" in page and ">02:00</span>" in page


# --- live updates: polling fallback and Server-Sent Events -----------------------------------


def test_polling_answers_unchanged_until_a_scan(live_event, session, people, door):
    url = PAGE_PATHS[1].format(live_event.pk)
    ticket = people(1)
    first = session.get(url).json()
    assert first["attendance"]["checked_in"] == 0
    assert set(first) == {"attendance", "feed", "chart", "chart_phone", "etag", "seq"}
    assert session.get(url, {"since": first["etag"]}).json() == {
        "etag": first["etag"], "unchanged": True}
    door.scan(services.ticket_code(ticket))
    after = session.get(url, {"since": first["etag"]}).json()
    assert after["etag"] != first["etag"]
    assert after["attendance"]["checked_in"] == 1
    assert after["feed"][0]["name"] == "Persona 1"
    assert after["feed"][0]["gate"] == "Ingresso A"
    assert after["chart"].startswith("<svg")
    assert 'viewBox="0 0 360 ' in after["chart_phone"]
    assert after["seq"] == ScanLog.objects.get().pk


def _close(response) -> None:
    """Close a stream the test stopped reading, as the test client would after reading it all
    (without letting ``request_finished`` close the test's database connection)."""
    from django.core.signals import request_finished
    from django.db import close_old_connections

    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def _next(iterator) -> str:
    return next(iterator).decode()


def _data(message: str) -> dict:
    line = next(part for part in message.split("\n") if part.startswith("data: "))
    return json.loads(line[len("data: "):])


def test_stream_pushes_a_scan_within_a_second(live_event, session, people, door, settings):
    settings.VARCO_LIVE_HEARTBEAT_SECONDS = 5
    ticket = people(1)
    response = session.get(PAGE_PATHS[0].format(live_event.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache"
    messages = iter(response.streaming_content)
    assert _next(messages).startswith("retry: ")
    first = _next(messages)
    assert first.startswith("id: ")
    assert _data(first)["attendance"]["checked_in"] == 0
    door.scan(services.ticket_code(ticket))
    started = time.monotonic()
    update = _data(_next(messages))
    assert time.monotonic() - started < 1.0
    assert update["attendance"]["checked_in"] == 1
    assert update["attendance"]["inside"] == 1
    assert update["feed"][0]["result"] == "ok"
    _close(response)
    assert attendance_stream.slots.open == 0


def test_stream_sends_heartbeats_and_ends_after_its_lifetime(live_event, session, settings):
    settings.VARCO_LIVE_HEARTBEAT_SECONDS = 1
    settings.VARCO_LIVE_STREAM_SECONDS = 2
    response = session.get(PAGE_PATHS[0].format(live_event.pk))
    started = time.monotonic()
    chunks = [chunk.decode() for chunk in response.streaming_content]  # ends by itself
    elapsed = time.monotonic() - started
    assert 1.8 < elapsed < 3.5
    assert chunks[0].startswith("retry: ")
    assert chunks[1].startswith("id: ")
    later = chunks[2:]
    heartbeats = [chunk for chunk in later if chunk == ": keep-alive\n\n"]
    # With no scan the figures stay; only the clock can move the view on, when these two
    # seconds cross a 5-minute line of the chart (one update at most).
    updates = [chunk for chunk in later if chunk.startswith("id: ")]
    assert len(heartbeats) >= 1 and len(updates) <= 1
    assert len(heartbeats) + len(updates) == len(later)
    assert attendance_stream.slots.open == 0  # the thread's slot is back


def test_streams_per_process_are_bounded(live_event, session, settings):
    settings.VARCO_LIVE_STREAMS_PER_PROCESS = 1
    url = PAGE_PATHS[0].format(live_event.pk)
    first = session.get(url)
    assert first.status_code == 200
    refused = session.get(url)
    assert refused.status_code == 503
    assert refused["Retry-After"] == "30"
    assert refused.json()["error"] == "busy"
    _close(first)  # closed before a single byte was read: the slot still comes back
    again = session.get(url)
    assert again.status_code == 200
    _close(again)
    assert attendance_stream.slots.open == 0


# --- exports ----------------------------------------------------------------------------------


def _csv(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_checkins_and_no_shows_csv(live_event, api, people, door, hall):
    sole = [people(1), people(2)]
    formula = people(3, organisation="=HYPERLINK(\"http://x\")")
    annulled, _never, revoked = people(4), people(5), people(6)
    services.revoke_ticket(revoked)
    door.scan(services.ticket_code(sole[0]))
    door.scan(services.ticket_code(sole[0]), type="exit")
    door.scan(services.ticket_code(sole[0]))
    early = live_event.start + dt.timedelta(minutes=7)
    door.post("/api/v1/checkin/sync/", {"scans": [
        {"code": services.ticket_code(sole[1]), "list": hall.pk, "nonce": str(uuid.uuid4()),
         "scanned_at": early.isoformat()}]})
    door.scan(services.ticket_code(formula))
    nonce = str(uuid.uuid4())
    door.scan(services.ticket_code(annulled), nonce=nonce)
    assert door.post("/api/v1/checkin/annul/", {"nonce": nonce}).status_code == 200

    response = api.get(API_PATHS[1].format(live_event.pk))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="live-conf-checkins.csv"'
    rows = _csv(response)
    assert [r["name"] for r in rows] == ["Persona 2", "Persona 1", "Persona 3"]  # by arrival
    first = rows[0]
    assert first["first_entry_at"] == early.astimezone(live_event.tzinfo).isoformat(
        timespec="seconds")
    assert first["first_entry_at"].endswith(("+01:00", "+02:00"))
    assert (first["first_source"], first["first_gate"], first["first_device"]) == (
        "offline", "Ingresso A", "Porta A")
    again = rows[1]
    assert (again["entries"], again["exits"], again["inside"]) == ("2", "1", "1")
    assert again["reference"] == sole[0].reference
    assert again["email"] == "p1@example.org"
    assert rows[2]["organisation"].startswith("'=")  # no formula reaches a spreadsheet

    no_shows = _csv(api.get(API_PATHS[2].format(live_event.pk)))
    assert [r["name"] for r in no_shows] == ["Persona 4", "Persona 5"]  # undone, never came
    assert set(no_shows[0]) == {"reference", "name", "email", "organisation", "ticket_type",
                                "language"}


def test_arrivals_svg_for_the_report(live_event, api, people, door, hall):
    for n in range(3):
        at = live_event.start + dt.timedelta(minutes=3 + 11 * n)
        door.post("/api/v1/checkin/sync/", {"scans": [
            {"code": services.ticket_code(people(n)), "list": hall.pk,
             "nonce": str(uuid.uuid4()), "scanned_at": at.isoformat()}]})
    response = api.get(API_PATHS[3].format(live_event.pk), {"lang": "it"})
    assert response["Content-Type"] == "image/svg+xml; charset=utf-8"
    svg = response.content.decode()
    root = ET.fromstring(svg)  # well-formed
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert root.find("s:title", ns).text == live_event.name
    bars = root.findall("s:g/s:rect", ns)
    assert len(bars) == 3  # three 5-minute slots with one arrival each
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert any("3 entrati su 3" in (t or "") for t in texts), texts
    english = api.get(API_PATHS[3].format(live_event.pk), {"lang": "en"}).content.decode()
    assert "3 checked in of 3" in english


# --- cost ------------------------------------------------------------------------------------


def _tick_queries(event) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        attendance.attendance(event)
    return [q["sql"] for q in queries.captured_queries]


def test_a_tick_costs_the_same_few_indexed_queries_however_long_the_log(
    live_event, people, door
):
    tickets = [people(n) for n in range(40)]
    codes = [services.ticket_code(t) for t in tickets]
    attendance.attendance(live_event)  # built once
    door.scan(codes[0])
    small = _tick_queries(live_event)
    for code in codes[1:]:
        door.scan(code)
        door.scan(code)  # already checked in
    large = _tick_queries(live_event)
    assert len(large) == len(small) <= 8, large
    for sql in large:
        if "checkin_scanlog" in sql:
            # new rows by primary key, never the event's whole log
            assert '"checkin_scanlog"."id" >' in sql, sql
    assert attendance.attendance(live_event)["checked_in"] == 40
    # With nothing new, a tick is a couple of primary-key look-ups.
    assert len(_tick_queries(live_event)) <= 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_row_committed_after_a_later_one_is_still_counted(live_event, people, door, hall):
    """Ids are handed out before commit: a tick that saw id n+1 must still pick up id n."""
    import psycopg

    ticket = people(1)
    attendance.attendance(live_event)
    params = connection.get_connection_params()
    slow = psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"})
    try:
        with slow.cursor() as cursor:
            cursor.execute(
                "INSERT INTO checkin_scanlog (event_id, list_id, device_id, direction, result,"
                " reason, source, scanned_at, received_at, conflict) VALUES (%s, %s, %s,"
                " 'entry', 'rejected', 'invalid', 'scan', now(), now(), false) RETURNING id",
                [live_event.pk, hall.pk, Device.objects.get(name="Porta A").pk],
            )
            slow_id = cursor.fetchone()[0]
        door.scan(services.ticket_code(ticket))  # committed with a higher id
        assert ScanLog.objects.filter(id__gt=slow_id).exists()
        seen = attendance.attendance(live_event)
        assert (seen["checked_in"], seen["rejected"]["invalid"]) == (1, 0)
        slow.commit()
    finally:
        slow.close()
    later = attendance.attendance(live_event)
    assert (later["checked_in"], later["rejected"]["invalid"]) == (1, 1)
    assert later["by_gate"][0]["scans"] == 2


# --- translations ------------------------------------------------------------------------------


def test_every_dashboard_string_has_an_italian_translation_and_the_mo_is_current():
    import gettext
    import re
    from pathlib import Path

    import polib

    root = Path(__file__).resolve().parents[3] / "checkin"
    catalogue = root / "locale" / "it" / "LC_MESSAGES"
    # polib, not a regex: a msgstr may be wrapped over several lines
    entries = {(e.msgctxt, e.msgid): e.msgstr or (all(e.msgstr_plural.values()) and "plural")
               for e in polib.pofile(str(catalogue / "django.po")) if not e.obsolete}
    used = set()
    template = (root / "templates/checkin/attendance/dashboard.html").read_text()
    used |= {m for m in re.findall(r'\{% translate ["\'](.*?)["\'] context "attendance" %\}',
                                   template)}
    for module in ("attendance/views.py", "attendance/exports.py"):
        source = (root / module).read_text()
        used |= set(re.findall(r'pgettext\(\s*"attendance",\s*"((?:[^"\\]|\\.)*)"', source))
    assert len(used) > 50
    missing = [m for m in used if ("attendance", m) not in entries]
    assert not missing, f"not in the .po: {missing}"
    assert all(entries.values())
    with open(catalogue / "django.mo", "rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = [m for (ctx, m), tr in entries.items() if tr != "plural"
             and (compiled.pgettext(ctx, m) if ctx else compiled.gettext(m)) != tr]
    assert not stale, f"recompile the .mo (make messages): {stale}"


def test_a_database_outage_is_a_503_not_a_500(live_event, api, session, monkeypatch):
    from django.db import OperationalError

    def down(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(attendance_selectors, "attendance", down)
    monkeypatch.setattr(attendance_selectors, "live_view", down)
    response = api.get(API_PATHS[0].format(live_event.pk))
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    polled = session.get(PAGE_PATHS[1].format(live_event.pk))
    assert polled.status_code == 503
    assert polled.json()["error"] == "unavailable"


def test_the_answer_matches_its_openapi_schema(live_event, api, people, door, hall, staff):
    """What the API answers is what the published schema says (clients generate from it)."""
    import jsonschema
    from drf_spectacular.generators import SchemaGenerator
    from referencing import Registry, Resource

    first, second = people(1), people(2, organisation="")
    door.scan(services.ticket_code(first))
    door.scan(services.ticket_code(first))  # rejected
    door.scan("garbage")
    door.post("/api/v1/checkin/sync/", {"scans": [
        {"code": services.ticket_code(first), "list": hall.pk, "nonce": str(uuid.uuid4()),
         "scanned_at": timezone.now().isoformat()}]})  # a conflict
    api.post(f"/api/v1/events/{live_event.pk}/checkin-lists/{hall.pk}/check-in/",
             {"ticket": second.pk}, format="json")
    answer = api.get(API_PATHS[0].format(live_event.pk)).json()
    assert answer["conflicts"]["count"] == 1 and answer["checked_in"] == 2

    def json_schema(node):
        """OpenAPI 3.0's ``nullable`` as JSON Schema's ``"null"`` type."""
        if isinstance(node, dict):
            node = {k: json_schema(v) for k, v in node.items()}
            if node.pop("nullable", False) and "type" in node:
                node["type"] = [node["type"], "null"]
            return node
        if isinstance(node, list):
            return [json_schema(v) for v in node]
        return node

    schema = json_schema(json.loads(json.dumps(
        SchemaGenerator().get_schema(request=None, public=True))))
    operation = schema["paths"]["/api/v1/events/{event_id}/attendance/"]["get"]
    response = operation["responses"]["200"]["content"]["application/json"]["schema"]
    registry = Registry().with_resource("urn:schema", Resource.opaque(schema))
    component = {"$ref": "urn:schema" + response["$ref"]}
    jsonschema.Draft202012Validator(component, registry=registry).validate(answer)
