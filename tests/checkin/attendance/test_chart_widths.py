"""The arrivals chart drawn at a phone's width: every clock label inside the drawing, none
touching its neighbour, the whole window (the last hour too) present."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import zoneinfo

import pytest

from checkin.attendance import chart

ROME = zoneinfo.ZoneInfo("Europe/Rome")


def _arrivals(start: dt.datetime, hours: float) -> dict:
    buckets = [{"start": (start + dt.timedelta(minutes=5 * k)).isoformat(), "count": k % 4}
               for k in range(int(hours * 12))]
    return {"bucket_minutes": 5, "timezone": "Europe/Rome", "start": buckets[0]["start"],
            "end": (start + dt.timedelta(hours=hours)).isoformat(), "buckets": buckets,
            "outside": 0}


def _labels(svg: str) -> list[tuple[float, str]]:
    return [(float(x), text) for x, text in re.findall(
        r'<text x="([\d.]+)" y="[\d.]+" text-anchor="middle">(\d\d:\d\d)</text>', svg)]


@pytest.mark.parametrize("hours", [3, 7.5, 12, 24])
@pytest.mark.parametrize("width", [chart.WIDTH, chart.PHONE_WIDTH])
def test_clock_labels_fit_and_keep_apart(width, hours):
    start = dt.datetime(2017, 9, 22, 9, 30, tzinfo=ROME)
    svg = chart.render(_arrivals(start, hours), width=width)
    assert f'viewBox="0 0 {width} ' in svg
    labels = _labels(svg)
    assert len(labels) >= 2
    xs = [x for x, _ in labels]
    assert min(b - a for a, b in itertools.pairwise(xs)) >= chart.MIN_LABEL_GAP
    assert all(chart.MARGIN_LEFT <= x <= width - chart.MARGIN_RIGHT for x in xs)
    # The window's last hours are drawn, not cut: a bar or label beyond 2/3 of the plot.
    assert max(xs) > chart.MARGIN_LEFT + (width - chart.MARGIN_LEFT - chart.MARGIN_RIGHT) * 0.66


def test_the_demo_day_on_a_phone_shows_labels_every_two_hours():
    start = dt.datetime(2017, 9, 22, 9, 30, tzinfo=ROME)
    labels = [text for _, text in _labels(chart.render(_arrivals(start, 7.5),
                                                       width=chart.PHONE_WIDTH))]
    assert labels == ["10:00", "12:00", "14:00", "16:00"]
    wide = [text for _, text in _labels(chart.render(_arrivals(start, 7.5)))]
    assert wide == ["10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00"]
