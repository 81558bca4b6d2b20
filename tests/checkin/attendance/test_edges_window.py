"""The arrivals chart is bounded whatever an event's dates: an event stored as lasting 17 years
(the API accepts it; schemathesis set one) answered 1.8 million 5-minute buckets in 11 s.
It now covers at most two weeks from the start's day; later arrivals count in ``outside``."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from checkin import attendance
from tests.support.factories import make_event

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_attendance():
    attendance.reset()
    yield
    attendance.reset()


def test_a_years_long_event_gets_a_bounded_chart(api, organiser):
    event = make_event(organiser, slug="eterno",
                       start=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
                       end=dt.datetime(2017, 9, 22, 15, tzinfo=dt.UTC))
    began = time.monotonic()
    response = api.get(f"/api/v1/events/{event.pk}/attendance/")
    assert response.status_code == 200
    assert time.monotonic() - began < 2
    arrivals = response.json()["arrivals"]
    assert len(arrivals["buckets"]) <= 14 * 288
    assert arrivals["start"].startswith("2000-01-01")
    assert arrivals["end"].startswith("2000-01-15")
