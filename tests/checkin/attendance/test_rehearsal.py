"""The arrivals chart's rehearsal window (issue 13, item 9): while the event's day has no
arrival, the chart shows the latest other day that has some, labelled as a rehearsal; the
demo (dated 2017) scanned today, or an organiser testing the doors the day before, sees the
scans. The event's first real arrival brings the chart back to the event's day."""

from __future__ import annotations

import datetime as dt
import uuid
import xml.etree.ElementTree as ET
import zoneinfo
from collections import Counter

import pytest
from django.utils import timezone

from checkin import attendance
from checkin.attendance import snapshots
from checkin.attendance.state import EventState, bucket_of
from tests.support.checkin import Door, make_device, make_list
from tests.support.factories import make_event
from tickets import services
from tickets.models import TicketType

pytestmark = pytest.mark.django_db
ROME = zoneinfo.ZoneInfo("Europe/Rome")
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def _fresh_attendance(settings):
    settings.VARCO_ATTENDANCE_TICK_MS = 0
    attendance.reset()
    yield
    attendance.reset()


def _door_and_people(event):
    admission = TicketType.objects.create(event=event, name="Ingresso")
    hall = make_list(event, "Ingresso principale")
    _, token = make_device(event, [hall], name="Porta A", gate="Ingresso A")

    def person(n: int):
        return services.register(event, services.Registration(
            f"Persona {n}", f"p{n}@example.org", "", ticket_type_id=admission.pk))

    return Door(token, hall), hall, person


def _arrivals(api, event) -> dict:
    response = api.get(f"/api/v1/events/{event.pk}/attendance/")
    assert response.status_code == 200
    return response.json()["arrivals"]


def test_the_demo_scanned_today_shows_todays_scans_as_a_rehearsal(api, organiser):
    event = make_event(organiser, slug="demo-2017")  # 22 September 2017, like the demo
    door, _, person = _door_and_people(event)
    before = timezone.now()
    for n in range(3):
        assert door.scan(services.ticket_code(person(n)))["status"] == "ok"
    arrivals = _arrivals(api, event)
    today = before.astimezone(ROME).date()
    assert arrivals["rehearsal"] == today.isoformat()
    assert arrivals["outside"] == 3  # still not the event's day: counted there as before
    assert sum(b["count"] for b in arrivals["buckets"]) == 3
    # From the hour of the first scan to the end of the hour of the last, in the event's zone.
    start = dt.datetime.fromisoformat(arrivals["start"])
    end = dt.datetime.fromisoformat(arrivals["end"])
    assert start.date() == today and start.minute == 0
    assert start <= before < end and (end - start) % dt.timedelta(hours=1) == dt.timedelta(0)
    assert len(arrivals["buckets"]) == (end - start) // dt.timedelta(minutes=5)

    # The report's chart says so, in either language, and draws the bars.
    for lang, words in (("it", "Prova: scansioni del"), ("en", "Rehearsal: scans of")):
        svg = api.get(f"/api/v1/events/{event.pk}/attendance/arrivals.svg",
                      {"lang": lang}).content.decode()
        root = ET.fromstring(svg)
        texts = [t.text or "" for t in root.iter(f"{SVG}text")]
        assert any(t.startswith(words) and today.strftime("%d/%m/%Y") in t for t in texts)
        assert 1 <= len(root.findall(f"{SVG}g/{SVG}rect")) <= 3


def test_the_first_arrival_on_the_event_day_brings_the_chart_back(api, organiser):
    event = make_event(organiser, slug="demo-2017")
    door, hall, person = _door_and_people(event)
    for n in range(2):
        door.scan(services.ticket_code(person(n)))
    assert _arrivals(api, event)["rehearsal"] is not None
    # An offline scan made at the event (its device time is trusted within the event's dates).
    at = event.start + dt.timedelta(minutes=12)
    door.post("/api/v1/checkin/sync/", {"scans": [
        {"code": services.ticket_code(person(9)), "list": hall.pk,
         "nonce": str(uuid.uuid4()), "scanned_at": at.isoformat()}]})
    arrivals = _arrivals(api, event)
    assert arrivals["rehearsal"] is None
    assert arrivals["start"].startswith("2017-09-22")
    assert sum(b["count"] for b in arrivals["buckets"]) == 1
    assert arrivals["outside"] == 2


def test_an_organiser_testing_the_doors_the_day_before_sees_the_tests(api, organiser):
    now = timezone.now()
    tomorrow = now.astimezone(ROME) + dt.timedelta(days=1)
    event = make_event(organiser, slug="domani", start=tomorrow.replace(hour=9, minute=30),
                       end=tomorrow.replace(hour=18, minute=0))
    door, _, person = _door_and_people(event)
    door.scan(services.ticket_code(person(1)))
    arrivals = _arrivals(api, event)
    assert arrivals["rehearsal"] == now.astimezone(ROME).date().isoformat()
    assert sum(b["count"] for b in arrivals["buckets"]) == 1


def test_no_arrival_at_all_keeps_the_event_window(api, organiser):
    event = make_event(organiser, slug="vuoto")
    arrivals = _arrivals(api, event)
    assert arrivals["rehearsal"] is None
    assert arrivals["start"] == "2017-09-22T09:30:00+02:00"
    assert arrivals["end"] == "2017-09-22T17:00:00+02:00"


def _state(arrivals: dict[dt.datetime, int]) -> EventState:
    state = EventState(event_id=1, created_at=dt.datetime.now(dt.UTC), timezone="Europe/Rome",
                       start=dt.datetime(2017, 9, 22, 9, 30, tzinfo=ROME),
                       end=dt.datetime(2017, 9, 22, 17, tzinfo=ROME))
    state.arrivals = Counter({bucket_of(at, 300): n for at, n in arrivals.items()})
    return state


def test_the_latest_other_day_is_shown_and_each_day_stays_whole():
    arrivals = snapshots._arrivals(_state({
        dt.datetime(2026, 12, 4, 10, 2, tzinfo=ROME): 4,
        dt.datetime(2026, 12, 6, 0, 20, tzinfo=ROME): 1,   # just after local midnight
        dt.datetime(2026, 12, 6, 23, 58, tzinfo=ROME): 2,  # just before the next one
        dt.datetime(2017, 9, 21, 16, 0, tzinfo=ROME): 0,   # an undone arrival: no day
    }))
    assert arrivals["rehearsal"] == "2026-12-06"
    assert arrivals["start"] == "2026-12-06T00:00:00+01:00"
    assert arrivals["end"] == "2026-12-07T00:00:00+01:00"
    assert sum(b["count"] for b in arrivals["buckets"]) == 3
    assert arrivals["outside"] == 7


def test_an_arrival_on_the_event_day_wins_over_any_rehearsal():
    arrivals = snapshots._arrivals(_state({
        dt.datetime(2026, 12, 6, 10, 0, tzinfo=ROME): 5,
        dt.datetime(2017, 9, 22, 8, 55, tzinfo=ROME): 1,  # doors open before the start
    }))
    assert arrivals["rehearsal"] is None
    assert arrivals["start"] == "2017-09-22T08:55:00+02:00"
    assert arrivals["buckets"][0]["count"] == 1
    assert arrivals["outside"] == 5
