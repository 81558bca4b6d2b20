"""When an event takes place, as the attendee pages write it: the clock times stay on one line
with their dash (at 390 px the range broke after its dash)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from tests.support.factories import make_event
from tickets.dates import event_when, event_when_html

pytestmark = pytest.mark.django_db

ROME = zoneinfo.ZoneInfo("Europe/Rome")


def test_one_day_keeps_the_time_range_in_one_unbreakable_span(organiser):
    event = make_event(organiser)
    assert event_when(event, "it") == "venerdì 22 settembre 2017, 09:30\u201317:00"
    assert str(event_when_html(event, "it")) == (
        'venerdì 22 settembre 2017, <span class="nowrap">09:30\u201317:00</span>')
    assert 'class="nowrap">09:30\u201317:00<' in str(event_when_html(event, "en"))


def test_two_days_keep_each_time_with_its_dash(organiser):
    event = make_event(organiser, slug="two-days",
                       end=dt.datetime(2017, 9, 23, 13, 0, tzinfo=ROME))
    html = str(event_when_html(event, "en"))
    assert '<span class="nowrap">09:30 \u2013</span>' in html
    assert html.endswith('<span class="nowrap">13:00</span>')
    assert "Saturday 23 September 2017" in html


def test_the_registration_page_uses_the_unbreakable_range(client, event, ticket_type):
    page = client.get(f"/e/{event.slug}/register/").content.decode()
    assert ('<p class="when">venerdì 22 settembre 2017, '
            '<span class="nowrap">09:30\u201317:00</span>') in page
