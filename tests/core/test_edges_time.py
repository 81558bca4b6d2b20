"""Issue 10, the time class: every time a client sends is bounded at the edge, and no stored
row can take a read path down.

A door device's ``scanned_at`` is a claim (checkin/clock.py): believed within a window, else
the scan is recorded at the server's receipt time and the claim kept as text, flagged. Other
times (the changes cursor, event dates, list hours) must lie in core/instants.py's range or
are refused with a 400 naming the field. CHECK constraints hold the same bounds in the
database, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from checkin import attendance
from checkin.attendance import snapshots
from checkin.models import CheckinList, Presence, ScanLog
from checkin.scanning import clock
from tests.support.checkin import Door, WsgiClient, make_device, make_list
from tests.support.factories import make_event
from tickets import services
from tickets.models import Event, TicketType

pytestmark = pytest.mark.django_db

YEAR_ONE = "0001-01-01T00:00:00+14:00"  # the scan: the year 0 in UTC
# Dates at the edges of the calendar, of Python's and of JavaScript's toISOString().
EDGE_CLAIMS = [
    YEAR_ONE,
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00-12:00",
    "0001-01-01",
    "9999-12-31T23:59:59-12:00",  # the year 10000 in UTC
    "9999-12-31T23:59:59.999999+14:00",
    "9999-12-31T23:59:59Z",
    "0000-12-31T10:00:00.000Z",  # JavaScript's year 0
    "-000001-12-31T10:00:00.000Z",  # JavaScript's expanded years
    "+275760-09-13T00:00:00.000Z",
    "1899-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z",  # a phone whose clock reset
    "2016-12-31T23:59:60Z",  # a leap second
    "2999-12-31T23:59:59Z",
]
NOT_DATES = ["yesterday", "99999-01-01T00:00:00Z", "2017-13-45T99:00:00", "1" * 41,
             "2017-09-22T10:00:00+25:00", "", "2017-09-22T10:00:00\x00"]
READ_PATHS_API = (
    "/api/v1/events/{}/attendance/",
    "/api/v1/events/{}/scans/",
    "/api/v1/events/{}/attendance/arrivals.svg",
    "/api/v1/events/{}/attendance/checkins.csv",
)


@pytest.fixture(autouse=True)
def _fresh_attendance(settings):
    settings.VARCO_ATTENDANCE_TICK_MS = 0
    settings.VARCO_INVALID_SCAN_FLUSH_SECONDS = 0  # invalid scans written at once
    attendance.reset()
    yield
    attendance.reset()


@pytest.fixture
def fast_door(live_event, hall) -> Door:
    """Through the WSGI application gunicorn serves (the scan fast path included)."""
    _, token = make_device(live_event, [hall], name="Porta B", gate="Ingresso B")
    return Door(token, hall, WsgiClient())


@pytest.fixture
def ticket_code(live_event):
    admission = TicketType.objects.create(event=live_event, name="Ingresso")
    counter = iter(range(1, 10_000))

    def make() -> str:
        n = next(counter)
        ticket = services.register(live_event, services.Registration(
            f"Persona {n}", f"p{n}@example.org", "Coop", ticket_type_id=admission.pk))
        return services.ticket_code(ticket)

    return make


@pytest.fixture
def session(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def _assert_read_paths_answer(event: Event, api: APIClient, session: Client) -> None:
    attendance.reset()  # the reads build their figures from the database, not from memory
    for path in READ_PATHS_API:
        response = api.get(path.format(event.pk))
        assert response.status_code == 200, (path, response.content[:300])
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    for path in ("/events/{}/dashboard/", "/events/{}/dashboard/live/",
                 "/admin/checkin/scanlog/"):
        response = session.get(path.format(event.pk))
        assert response.status_code == 200, (path, response.content[:300])
    stream = session.get(f"/events/{event.pk}/dashboard/stream/")
    assert stream.status_code == 200
    chunks = iter(stream.streaming_content)
    assert next(chunks).startswith(b"retry: ")
    assert b'"attendance"' in next(chunks)
    _close(stream)  # (this ends the test's database connection on PostgreSQL: call it last)


def _close(response) -> None:
    from django.core.signals import request_finished
    from django.db import close_old_connections

    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


# --- the scan -----------------------------------------------------------------------


@pytest.mark.parametrize("code", ["QQQQQQQQQQ", "ticket"])
@pytest.mark.parametrize("through", ["scan", "sync"])
def test_a_year_one_scan_is_recorded_at_receipt_and_every_read_path_answers(
        code, through, live_event, door, fast_door, ticket_code, api, session):
    """On main: the scan itself was a 500 on SQLite; on PostgreSQL the row was written and
    from then on the attendance API answered 503, the scan list, chart, dashboard and admin
    500 — for good."""
    code = ticket_code() if code == "ticket" else code
    before = timezone.now()
    for client in (door, fast_door):
        item = {"code": code, "list": client.list.pk, "nonce": str(uuid.uuid4()),
                "scanned_at": YEAR_ONE}
        if through == "scan":
            response = client.post("/api/v1/checkin/scan/", item)
        else:
            response = client.post("/api/v1/checkin/sync/", {"scans": [item]})
        assert response.status_code == 200, response.content
    rows = list(ScanLog.objects.order_by("id"))
    assert len(rows) == 2
    for row in rows:
        assert row.untrusted_scanned_at == YEAR_ONE  # the claim, kept and flagged
        assert row.scanned_at == row.received_at >= before  # recorded at receipt
    if code != "QQQQQQQQQQ":
        assert [r.result for r in rows] == ["ok", "rejected"]
        assert Presence.objects.get().first_entry_at >= before
    listed = api.get(f"/api/v1/events/{live_event.pk}/scans/").json()["results"]
    assert {r["untrusted_scanned_at"] for r in listed} == {YEAR_ONE}
    only = api.get(f"/api/v1/events/{live_event.pk}/scans/", {"untrusted_time": "true"})
    assert len(only.json()["results"]) == 2
    _assert_read_paths_answer(live_event, api, session)


@pytest.mark.parametrize("claim", EDGE_CLAIMS)
def test_edge_claims_are_flagged_never_a_500_and_reads_survive(
        claim, live_event, door, ticket_code, api, session):
    code = ticket_code()
    live = door.post("/api/v1/checkin/scan/", {"code": code, "list": door.list.pk,
                                               "nonce": str(uuid.uuid4()), "scanned_at": claim})
    assert live.status_code == 200, live.content
    assert live.json()["status"] == "ok"  # a wrong clock still gets people in
    synced = door.post("/api/v1/checkin/sync/", {"scans": [
        {"code": "GARBAGE", "list": door.list.pk, "nonce": str(uuid.uuid4()),
         "scanned_at": claim},
        {"code": ticket_code(), "list": door.list.pk, "nonce": str(uuid.uuid4()),
         "scanned_at": claim},
    ]})
    assert synced.status_code == 200, synced.content
    assert [r["status"] for r in synced.json()["results"]] == ["rejected", "ok"]
    assert set(ScanLog.objects.values_list("untrusted_scanned_at", flat=True)) == {claim}
    for row in ScanLog.objects.all():
        assert row.scanned_at == row.received_at
    _assert_read_paths_answer(live_event, api, session)


@pytest.mark.parametrize("value", NOT_DATES)
def test_a_scan_time_that_is_no_date_is_a_400_naming_the_field(value, door):
    response = door.post("/api/v1/checkin/scan/", {"code": "X", "list": door.list.pk,
                                                   "scanned_at": value})
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"scanned_at"}
    response = door.post("/api/v1/checkin/sync/", {"scans": [
        {"code": "X", "list": door.list.pk, "nonce": "n", "scanned_at": value}]})
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"scans[0].scanned_at"}
    assert not ScanLog.objects.exists()


# --- the window -------------------------------------------------------------------------------


def _upload(door: Door, code: str, at: dt.datetime | str) -> ScanLog:
    nonce = str(uuid.uuid4())
    text = at if isinstance(at, str) else at.isoformat()
    response = door.post("/api/v1/checkin/sync/", {"scans": [
        {"code": code, "list": door.list.pk, "nonce": nonce, "scanned_at": text}]})
    assert response.status_code == 200, response.content
    return ScanLog.objects.get(nonce=nonce)


def test_claims_inside_the_window_are_believed_outside_flagged(
        live_event, door, ticket_code, settings):
    settings.VARCO_SCAN_CLOCK_BEHIND_HOURS = 3
    settings.VARCO_SCAN_CLOCK_AHEAD_SECONDS = 60
    now = timezone.now()
    believed = {
        "an hour ago": now - dt.timedelta(hours=1),
        "at the event's start": live_event.start,
        "within the hours before the start": live_event.start - dt.timedelta(hours=2),
        "in 30 seconds (taken as now)": now + dt.timedelta(seconds=30),
    }
    for name, at in believed.items():
        row = _upload(door, ticket_code(), at)
        assert row.untrusted_scanned_at is None, name
        assert row.scanned_at == min(at, row.received_at), name
    flagged = {
        "in 5 minutes": now + dt.timedelta(minutes=5),
        "a day before the start": live_event.start - dt.timedelta(hours=5),
        "last year": now - dt.timedelta(days=365),
    }
    for name, at in flagged.items():
        row = _upload(door, ticket_code(), at)
        assert row.untrusted_scanned_at == at.isoformat(), name
        assert row.scanned_at == row.received_at, name


def test_a_late_upload_keeps_times_within_the_event(organiser, settings, ticket_code):
    """A device that uploads its queue days after the event: its times, within the event's
    dates, are still believed."""
    settings.VARCO_SCAN_CLOCK_BEHIND_HOURS = 1
    now = timezone.now()
    past = make_event(organiser, slug="past", start=now - dt.timedelta(days=3),
                      end=now - dt.timedelta(days=2))
    admission = TicketType.objects.create(event=past, name="Ingresso")
    ticket = services.register(past, services.Registration(
        "Anna", "anna@example.org", "", ticket_type_id=admission.pk))
    checkin_list = make_list(past)
    _, token = make_device(past, [checkin_list])
    row = _upload(Door(token, checkin_list), services.ticket_code(ticket),
                  past.start + dt.timedelta(hours=1))
    assert row.untrusted_scanned_at is None
    assert row.scanned_at == past.start + dt.timedelta(hours=1)


def test_an_untrusted_claim_does_not_decide_the_opening_hours(live_event, ticket_code):
    """The list opened an hour ago: a device claiming 1970 is judged at the receipt time."""
    hall = make_list(live_event, "Sala", opens_at=timezone.now() - dt.timedelta(hours=1))
    _, token = make_device(live_event, [hall])
    row = _upload(Door(token, hall), ticket_code(), "1970-01-01T00:00:00Z")
    assert (row.result, row.untrusted_scanned_at) == ("ok", "1970-01-01T00:00:00Z")


def test_the_window_settings_come_from_the_environment(monkeypatch):
    import importlib

    from django.core.exceptions import ImproperlyConfigured

    import backend.settings as settings_module

    monkeypatch.setenv("VARCO_SCAN_CLOCK_AHEAD_SECONDS", "5")
    monkeypatch.setenv("VARCO_SCAN_CLOCK_BEHIND_HOURS", "48")
    try:
        reloaded = importlib.reload(settings_module)
        assert (reloaded.VARCO_SCAN_CLOCK_AHEAD_SECONDS,
                reloaded.VARCO_SCAN_CLOCK_BEHIND_HOURS) == (5, 48)
        monkeypatch.setenv("VARCO_SCAN_CLOCK_BEHIND_HOURS", "-1")
        with pytest.raises(ImproperlyConfigured):
            importlib.reload(settings_module)
    finally:
        monkeypatch.delenv("VARCO_SCAN_CLOCK_AHEAD_SECONDS")
        monkeypatch.delenv("VARCO_SCAN_CLOCK_BEHIND_HOURS")
        importlib.reload(settings_module)


def test_claim_parsing():
    assert clock.parse(YEAR_ONE) == clock.Claim(YEAR_ONE, None)
    assert clock.parse("2016-12-31T23:59:60Z").at == dt.datetime(2016, 12, 31, 23, 59, 59,
                                                                  tzinfo=dt.UTC)
    assert clock.parse("2017-09-22T10:00:00").at == dt.datetime(2017, 9, 22, 10, tzinfo=dt.UTC)
    assert clock.parse("+010000-01-01T00:00:00.000Z") == clock.Claim(
        "+010000-01-01T00:00:00.000Z", None)
    for value in [*NOT_DATES, None, 12, ["2017-09-22"]]:
        assert clock.parse(value) is None


# --- the changes cursor ---------------------------------------------------------------------


@pytest.mark.parametrize("since", [
    "0001-01-01T00:00:00", YEAR_ONE, "0001-01-01T00:00:00-12:00", "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59+14:00", "1899-12-31T23:59:59Z", "3000-01-01T00:00:00Z",
    "0000-12-31T10:00:00.000Z", "+275760-09-13T00:00:00.000Z", "2017-13-45T99:00:00",
    "yesterday", "",
])
def test_changes_since_out_of_range_is_a_400_naming_since(since, door):
    """On main ``since=0001-01-01T00:00:00`` was a 500 (on both databases)."""
    response = door.get("/api/v1/checkin/changes/", since=since)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "invalid" and set(body["fields"]) == {"since"}


@pytest.mark.parametrize("since", ["1900-01-01T00:00:00Z", "2999-12-31T23:59:59Z",
                                   "2016-12-31T23:59:60Z", "2017-09-22T10:00:00+14:00"])
def test_changes_since_at_the_edges_of_the_range_answers(since, door, ticket_code):
    door.scan(ticket_code())
    response = door.get("/api/v1/checkin/changes/", since=since)
    assert response.status_code == 200, response.content
    assert len(response.json()["scans"]) == (0 if since.startswith("2999") else 1)


# --- organiser writes: event dates and list hours ---------------------------------------------


OUT_OF_RANGE = ["0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00Z", "1899-12-31T23:59:59Z",
                "9999-12-31T23:59:59-12:00", "9999-12-31T23:00:00Z", "3000-01-01T00:00:00Z",
                "2016-12-31T23:59:60Z", "+275760-09-13T00:00:00.000Z"]


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize("field", ["start", "end"])
def test_event_dates_out_of_range_are_a_400_naming_the_field(value, field, api, organiser):
    """On main the year 9999 was stored, and every page showing the event in a time zone
    east of UTC overflowed."""
    body = {"organiser": organiser.pk, "name": "Edge", "slug": "edge",
            "timezone": "Pacific/Kiritimati",
            "start": "2030-01-01T10:00:00Z", "end": "2030-01-01T12:00:00Z", field: value}
    if field == "end" and value.startswith("0"):
        body["start"] = "1000-01-01T00:00:00Z"  # not the end-before-start rule answering
    response = api.post("/api/v1/events/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert not Event.objects.filter(slug="edge").exists()
    event = make_event(organiser, slug="kept")
    patched = api.patch(f"/api/v1/events/{event.pk}/", {field: value}, format="json")
    assert patched.status_code == 400
    assert field in patched.json()["fields"]


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize("field", ["opens_at", "closes_at"])
def test_list_hours_out_of_range_are_a_400_naming_the_field(value, field, api, live_event):
    url = f"/api/v1/events/{live_event.pk}/checkin-lists/"
    response = api.post(url, {"name": "Sala", field: value}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]


def test_event_dates_at_the_edges_of_the_range_are_kept_and_shown(api, organiser):
    response = api.post("/api/v1/events/", {
        "organiser": organiser.pk, "name": "Edge", "slug": "edge",
        "timezone": "Pacific/Kiritimati",
        "start": "2999-12-31T23:00:00Z", "end": "2999-12-31T23:59:59Z"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["end"] == "3000-01-01T13:59:59+14:00"
    assert Client().get("/e/edge/register/").status_code == 200


def test_an_event_longer_than_the_limit_is_a_400_naming_end(api, organiser):
    """On main an event from 2026 to 2999 was accepted, and its attendance, chart and
    dashboard then built a bar per 5 minutes of ten centuries: every read hung."""
    body = {"organiser": organiser.pk, "name": "Long", "slug": "long",
            "start": "2030-01-01T10:00:00Z", "end": "2999-12-31T10:00:00Z"}
    response = api.post("/api/v1/events/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"end"}
    body["end"] = "2030-02-01T10:00:00Z"  # 31 days: the limit
    assert api.post("/api/v1/events/", body, format="json").status_code == 201


def test_an_event_stored_longer_than_the_limit_still_reads(live_event, door, ticket_code, api,
                                                           session):
    door.scan(ticket_code())
    Event.objects.filter(pk=live_event.pk).update(end=dt.datetime(2999, 12, 31, tzinfo=dt.UTC))
    attendance.reset()
    arrivals = api.get(f"/api/v1/events/{live_event.pk}/attendance/").json()["arrivals"]
    assert len(arrivals["buckets"]) <= (snapshots.MAX_CHART_SECONDS // 300) + 1
    assert sum(b["count"] for b in arrivals["buckets"]) + arrivals["outside"] == 1
    _assert_read_paths_answer(live_event, api, session)


def test_admin_refuses_out_of_range_event_dates(staff, organiser):
    client = Client()
    client.force_login(staff)
    response = client.post("/admin/tickets/event/add/", {
        "organiser": organiser.pk, "name": "Old", "slug": "old", "timezone": "Europe/Rome",
        "start_0": "0001-01-01", "start_1": "00:00:00",
        "end_0": "0001-01-02", "end_1": "00:00:00",
        "languages": '["it"]',
    })
    assert response.status_code == 200  # the form again, with the error
    assert b"between 1900-01-01 and 2999-12-31" in response.content
    assert not Event.objects.filter(slug="old").exists()


# --- the database holds the same bounds -------------------------------------------------------


@pytest.mark.parametrize("column", ["scanned_at", "received_at", "checked_in_at",
                                    "first_checked_in_at"])
def test_the_scan_log_refuses_out_of_range_times(column, live_event, hall):
    row = {"event_id": live_event.pk, "list_id": hall.pk, "result": "rejected",
           "reason": "invalid", "scanned_at": timezone.now(), "received_at": timezone.now()}
    with pytest.raises(IntegrityError), transaction.atomic():
        ScanLog.objects.create(**row | {column: dt.datetime(1899, 12, 31, tzinfo=dt.UTC)})
    with pytest.raises(IntegrityError), transaction.atomic():
        ScanLog.objects.create(**row | {column: dt.datetime(3000, 1, 1, tzinfo=dt.UTC)})


def test_presence_lists_and_events_refuse_out_of_range_times(live_event, hall, ticket_code):
    old = dt.datetime(1899, 1, 1, tzinfo=dt.UTC)
    for model, pk, column in ((Event, live_event.pk, "start"),
                              (CheckinList, hall.pk, "opens_at")):
        with pytest.raises(IntegrityError), transaction.atomic():
            model.objects.filter(pk=pk).update(**{column: old})
    ticket_code()
    with pytest.raises(IntegrityError), transaction.atomic():
        Presence.objects.create(event=live_event, list=hall,
                                ticket=live_event.tickets.first(), first_entry_at=old)


@pytest.mark.postgres
def test_postgres_refuses_the_year_one_written_in_sql(live_event, hall):
    """The very row of the issue, written past the ORM, is refused by the database."""
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO checkin_scanlog (event_id, list_id, direction, result, reason,"
            " source, scanned_at, received_at, conflict) VALUES (%s, %s, 'entry', 'rejected',"
            " 'invalid', 'scan', %s::timestamptz, now(), false)",
            [live_event.pk, hall.pk, YEAR_ONE],
        )


# --- the migrations repair rows written before the bounds -------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migrations_repair_old_rows_then_every_read_path_answers(organiser, staff):
    """Rows as main could write them (on PostgreSQL through the scan endpoint; here in SQL on
    both databases): the migrations repair them before adding the constraints."""
    from django.db.migrations.executor import MigrationExecutor

    old_state = [("checkin", "0002_scanlog_request_key"),
                 ("tickets", "0005_encrypted_keys_hashed_tokens")]
    # Made with today's models before going back (their later columns are dropped on the way):
    # the old schema lacks columns today's models write.
    now = timezone.now()
    event = make_event(organiser, slug="old-rows", start=now - dt.timedelta(hours=1),
                       end=now + dt.timedelta(hours=1))
    hall = CheckinList.objects.create(event=event, name="Sala")
    executor = MigrationExecutor(connection)
    executor.migrate(old_state)
    try:
        year_zero = (YEAR_ONE if connection.vendor == "postgresql"
                     else "0000-12-31 10:00:00")  # what SQLite would hold: text
        received = connection.ops.adapt_datetimefield_value(now)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO checkin_scanlog (event_id, list_id, direction, result, reason,"
                " source, scanned_at, received_at, conflict) VALUES (%s, %s, 'entry',"
                " 'rejected', 'invalid', 'offline', %s, %s, false)",
                [event.pk, hall.pk, year_zero, received],
            )
            cursor.execute('UPDATE tickets_event SET "end" = %s WHERE id = %s',
                           ["9999-12-31 23:00:00+00" if connection.vendor == "postgresql"
                            else "9999-12-31 23:00:00", event.pk])
            cursor.execute("UPDATE checkin_checkinlist SET opens_at = %s WHERE id = %s",
                           [year_zero, hall.pk])
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    row = ScanLog.objects.get()
    assert row.scanned_at == row.received_at
    assert row.untrusted_scanned_at  # the stored value, kept as text
    event.refresh_from_db()
    assert dt.timedelta(hours=23) < event.end - event.start <= dt.timedelta(days=1)
    assert CheckinList.objects.get().opens_at is None
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {staff.api_token}")
    session = Client()
    session.force_login(staff)
    _assert_read_paths_answer(event, api, session)
