"""Issue 10, live-stream slots: one organiser's (or one user's) dashboards cannot take every
stream of a process and turn every other organiser's dashboard into a 503.

The slots stay per process (checkin/attendance/stream.py); each organiser and each user gets a
share, ``VARCO_LIVE_STREAMS_PER_ORGANISER`` / ``VARCO_LIVE_STREAMS_PER_USER``, by default half
of ``VARCO_LIVE_STREAMS_PER_PROCESS`` rounded up.
"""

from __future__ import annotations

import pytest
from django.test import Client

from checkin import attendance
from checkin.attendance import stream as attendance_stream
from tests.support.factories import make_event
from tests.support.settings_process import settings_in_subprocess
from tickets import onboarding, services

pytestmark = pytest.mark.django_db

STREAM = "/events/{}/dashboard/stream/"


@pytest.fixture(autouse=True)
def _fresh(settings):
    settings.VARCO_ATTENDANCE_TICK_MS = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    attendance.reset()
    yield
    attendance.reset()
    assert attendance_stream.slots.open == 0  # every test gives its slots back


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _close(response) -> None:
    """Close a stream unread, keeping the test's database connection (as the client does)."""
    from django.core.signals import request_finished
    from django.db import close_old_connections

    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


@pytest.fixture
def teams(organiser, staff, event):
    colleague, _, _ = onboarding.create_staff_user(organiser, "collega", "c@example.org", "pw")
    other_org = services.create_organiser("Altra Fondazione", "altra")
    other_event = make_event(other_org, slug="altra-conf")
    other, _, _ = onboarding.create_staff_user(other_org, "altro", "o@example.org", "pw")
    return {"a": (_client(staff), _client(colleague), event),
            "b": (_client(other), other_event)}


def _open(client: Client, event) -> tuple[int, object]:
    response = client.get(STREAM.format(event.pk))
    return response.status_code, response


def test_one_organiser_cannot_take_every_stream(teams, settings):
    settings.VARCO_LIVE_STREAMS_PER_PROCESS = 4
    settings.VARCO_LIVE_STREAMS_PER_USER = 4  # here only the organiser's share is at stake
    staff, colleague, event = teams["a"]
    other, other_event = teams["b"]
    held = []
    try:
        answers = []
        for client in (staff, colleague, staff, colleague):  # organiser A's wall of screens
            code, response = _open(client, event)
            answers.append(code)
            held.append(response)
        assert answers == [200, 200, 503, 503]  # A's share: half of 4
        refused = held[2]
        assert refused["Retry-After"] == "30" and refused.json()["error"] == "busy"
        # organiser B still gets its share of the process
        for _ in range(2):
            code, response = _open(other, other_event)
            held.append(response)
            assert code == 200
    finally:
        for response in held:
            _close(response)
    # the shares come back with the slots
    code, response = _open(staff, event)
    _close(response)
    assert code == 200 and not attendance_stream.slots.held


def test_one_user_has_a_share_of_their_organisers(teams, settings):
    settings.VARCO_LIVE_STREAMS_PER_PROCESS = 6
    settings.VARCO_LIVE_STREAMS_PER_ORGANISER = 4
    settings.VARCO_LIVE_STREAMS_PER_USER = 2
    staff, colleague, event = teams["a"]
    held = []
    try:
        codes = []
        for client in (staff, staff, staff, colleague, colleague, colleague):
            code, response = _open(client, event)
            codes.append(code)
            held.append(response)
        assert codes == [200, 200, 503, 200, 200, 503]
    finally:
        for response in held:
            _close(response)


def test_the_process_bound_still_holds(teams, settings):
    settings.VARCO_LIVE_STREAMS_PER_PROCESS = 2
    settings.VARCO_LIVE_STREAMS_PER_ORGANISER = 2
    staff, colleague, event = teams["a"]
    other, other_event = teams["b"]
    held = [_open(staff, event)[1], _open(colleague, event)[1]]
    try:
        assert [r.status_code for r in held] == [200, 200]
        code, response = _open(other, other_event)
        held.append(response)
        assert code == 503  # an operator who sets the share to the whole process gets that
    finally:
        for response in held:
            _close(response)


def test_shares_are_read_from_the_environment():
    names = ["VARCO_LIVE_STREAMS_PER_ORGANISER", "VARCO_LIVE_STREAMS_PER_USER"]
    result = settings_in_subprocess({"VARCO_LIVE_STREAMS_PER_ORGANISER": "3",
                                      "VARCO_LIVE_STREAMS_PER_USER": "1"}, *names)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        '{"VARCO_LIVE_STREAMS_PER_ORGANISER": "3", "VARCO_LIVE_STREAMS_PER_USER": "1"}')
