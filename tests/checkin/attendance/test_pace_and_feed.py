"""The gates' pace (a sliding minute, not the last complete calendar minute) and the recent
scans feed (ordered by scan time, also after an offline upload of older scans).

The rules are checked on the aggregate itself (``EventState``, exact instants) and then through
the real door endpoints and the dashboard's polling answer.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from checkin import attendance
from checkin.attendance import snapshots
from checkin.attendance.state import FEED_LENGTH, EventState, Row
from checkin.models import Direction, Result
from tests.support.checkin import Door, make_device, make_list
from tests.support.factories import make_event
from tickets import onboarding, services
from tickets.models import TicketType

UTC = dt.UTC
T0 = dt.datetime(2026, 5, 14, 10, 0, 0, tzinfo=UTC)  # a minute's first second


def _state() -> EventState:
    return EventState(event_id=1, created_at=T0, timezone="Europe/Rome",
                      start=T0 - dt.timedelta(hours=1), end=T0 + dt.timedelta(hours=7))


def _row(pk: int, at: dt.datetime, device_id: int | None = 7, result: str = Result.OK) -> Row:
    return Row(id=pk, event_id=1, list_id=1, device_id=device_id, user_id=None, ticket_id=pk,
               direction=Direction.ENTRY, result=result,
               reason=None if result == Result.OK else "invalid", source="scan",
               scanned_at=at, conflict=False, annuls_id=None, name=f"P{pk}")


# --- the pace -----------------------------------------------------------------------------------


def test_twenty_scans_in_the_current_minute_are_a_pace_of_twenty():
    state = _state()
    for k in range(20):  # 10:02:00 .. 10:02:38, two seconds apart
        state.apply_row(_row(k + 1, T0 + dt.timedelta(minutes=2, seconds=2 * k)))
    now = T0 + dt.timedelta(minutes=2, seconds=40)
    assert state.pace(7, now) == 20
    # The last complete calendar minute (10:01) had none: the old "0/min".
    assert state.minutes.get((7, int((T0 + dt.timedelta(minutes=1)).timestamp())), 0) == 0
    assert state.pace(8, now) == 0  # another device


def test_the_pace_slides_and_falls_to_zero_a_minute_after_the_last_scan():
    state = _state()
    for k in range(12):  # one scan every 5 s from 10:00:00 to 10:00:55
        state.apply_row(_row(k + 1, T0 + dt.timedelta(seconds=5 * k)))
    assert state.pace(7, T0 + dt.timedelta(seconds=59)) == 12
    # The window is the current 5-second step and the eleven before it (55 to 60 s).
    assert state.pace(7, T0 + dt.timedelta(seconds=64)) == 11  # 10:00:00 left
    assert state.pace(7, T0 + dt.timedelta(seconds=65)) == 10  # and 10:00:05
    assert state.pace(7, T0 + dt.timedelta(seconds=90)) == 5
    assert state.pace(7, T0 + dt.timedelta(seconds=116)) == 0
    # Rejected scans are scans too (the pace measures the queue, not the admissions).
    state.apply_row(_row(100, T0 + dt.timedelta(seconds=117), result=Result.REJECTED))
    assert state.pace(7, T0 + dt.timedelta(seconds=118)) == 1


def test_the_gates_answer_the_pace_summed_over_their_devices_and_forget_old_steps():
    state = _state()
    state.device_names = {7: ("Telefono 1", "Ingresso A"), 8: ("Telefono 2", "Ingresso A")}
    for k in range(15):
        state.apply_row(_row(k + 1, T0 + dt.timedelta(seconds=30 + k), device_id=7))
    for k in range(5):
        state.apply_row(_row(50 + k, T0 + dt.timedelta(seconds=40 + k), device_id=8))
    state.apply_row(_row(99, T0 - dt.timedelta(hours=1), device_id=8))  # an old offline scan
    gates = snapshots._gates(state, state.device_names, T0 + dt.timedelta(seconds=50))
    assert [(g["gate"], g["last_minute"]) for g in gates] == [("Ingresso A", 20)]
    assert all(step >= int(T0.timestamp()) - 60 for _, step in state.steps)


def test_a_new_pace_step_recomputes_the_view_without_a_new_scan():
    state = _state()
    state.device_names = {7: ("Telefono 1", "Ingresso A")}
    state.names_read_at = float("inf")  # names given above: no database read
    state.apply_row(_row(1, T0))
    first = snapshots.current_view(state, T0 + dt.timedelta(seconds=1))
    assert first.payload["attendance"]["by_gate"][0]["last_minute"] == 1
    same_step = snapshots.current_view(state, T0 + dt.timedelta(seconds=3))
    assert same_step is first
    later = snapshots.current_view(state, T0 + dt.timedelta(seconds=61))
    assert later.payload["attendance"]["by_gate"][0]["last_minute"] == 0
    assert later.etag != first.etag  # so a stream pushes the fallen pace


# --- the feed -----------------------------------------------------------------------------------


def test_the_feed_is_in_scan_time_order_after_an_offline_upload():
    state = _state()
    state.apply_row(_row(1, T0 + dt.timedelta(minutes=10)))
    state.apply_row(_row(2, T0 + dt.timedelta(minutes=12)))
    # Uploaded later (higher log ids) but scanned earlier, between and before the others.
    state.apply_row(_row(3, T0 + dt.timedelta(minutes=11)))
    state.apply_row(_row(4, T0 + dt.timedelta(minutes=5)))
    feed = snapshots._feed(state, {})
    assert [item["id"] for item in feed] == [2, 3, 1, 4]  # newest scan first


def test_the_feed_keeps_the_latest_scans_by_scan_time():
    state = _state()
    for k in range(FEED_LENGTH):
        state.apply_row(_row(k + 1, T0 + dt.timedelta(minutes=30, seconds=k)))
    state.apply_row(_row(1000, T0))  # older than everything shown: not listed
    state.apply_row(_row(1001, T0 + dt.timedelta(hours=1)))  # newest: listed first
    feed = snapshots._feed(state, {})
    assert len(feed) == FEED_LENGTH
    assert feed[0]["id"] == 1001
    assert 1000 not in {item["id"] for item in feed}
    assert 1 not in {item["id"] for item in feed}  # the oldest of the first thirty left
    times = [item["scanned_at"] for item in feed]
    assert times == sorted(times, reverse=True)


# --- through the real endpoints -----------------------------------------------------------------


@pytest.fixture
def _fresh_attendance(settings):
    settings.VARCO_ATTENDANCE_TICK_MS = 0
    attendance.reset()
    yield
    attendance.reset()


@pytest.mark.django_db
def test_dashboard_feed_and_pace_after_live_scans_and_an_offline_sync(organiser,
                                                                    _fresh_attendance):
    now = timezone.now()
    event = make_event(organiser, slug="pace-conf", start=now - dt.timedelta(hours=2),
                       end=now + dt.timedelta(hours=6))
    TicketType.objects.create(event=event, name="Ingresso")
    hall = make_list(event, "Sala")
    _, token = make_device(event, [hall], name="Porta A", gate="Ingresso A")
    door = Door(token, hall)
    tickets = [services.register(event, services.Registration(f"Persona {n}",
                                                              f"p{n}@example.org"))
               for n in range(24)]
    for ticket in tickets[:20]:
        assert door.scan(services.ticket_code(ticket))["status"] == "ok"
    # Offline scans from 20 and 10 minutes ago, uploaded now.
    scans = [{"code": services.ticket_code(tickets[20 + k]), "list": hall.pk,
              "nonce": str(uuid.uuid4()),
              "scanned_at": (now - dt.timedelta(minutes=20 - 10 * k)).isoformat()}
             for k in range(2)]
    assert door.post("/api/v1/checkin/sync/", {"scans": scans}).status_code == 200

    user, _, _ = onboarding.create_staff_user(organiser, "pace", "pace@example.org",
                                              "a-long-test-password")
    session = Client()
    session.force_login(user)
    payload = session.get(f"/events/{event.pk}/dashboard/live/").json()
    (gate,) = payload["attendance"]["by_gate"]
    assert gate["last_minute"] == 20  # not the last complete minute's count
    times = [dt.datetime.fromisoformat(item["scanned_at"]) for item in payload["feed"]]
    assert times == sorted(times, reverse=True)
    assert payload["feed"][-1]["name"] == "Persona 20"  # the oldest, uploaded last


@pytest.mark.django_db
def test_a_stream_waiting_on_a_view_time_has_moved_on_gets_the_new_one_at_once(
        organiser, _fresh_attendance):
    """``wait_for_change`` compares views, not only versions: a view whose pace or minutes time
    moved on (same version, other content) is sent without waiting for a scan."""
    import dataclasses
    import time

    from checkin.attendance import selectors

    now = timezone.now()
    event = make_event(organiser, slug="idle-conf", start=now - dt.timedelta(hours=1),
                       end=now + dt.timedelta(hours=1))
    current = selectors.live_view(event)
    waited = selectors.wait_for_change(event, current, 0.3)
    # Nothing new: it waits it out (unless the chart's 5 minutes turned meanwhile).
    assert waited is None or waited.etag != current.etag
    stale = dataclasses.replace(current, etag="an-older-minute")
    started = time.monotonic()
    newer = selectors.wait_for_change(event, stale, 5)
    assert newer is not None and newer.etag == current.etag
    assert time.monotonic() - started < 1
