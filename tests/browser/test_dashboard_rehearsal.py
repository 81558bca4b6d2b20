"""A newcomer scans a few demo codes today and sees them on the dashboard's arrivals chart
(issue 13, item 9), although the demo event is dated 22 September 2017: the chart shows
today's scans as a rehearsal, said so above the chart in the page's language, at desktop and
phone widths. Screenshots go to ``test-artifacts/``.

The demo is seeded into a fresh SQLite file and served by gunicorn with ``gunicorn.conf.py``;
the codes are posted to the demo device's ``scan_url``, as the door page would.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
import zoneinfo

import pytest

from tests.support.chromium import log_in, shot
from tests.support.web_process import post_json, serve_demo

# single_pass: its own SQLite demo whatever DATABASE_URL/REDIS_URL say.
pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.single_pass]


@pytest.fixture
def demo(tmp_path):
    """The demo, served: yield (base URL, export dir)."""
    with serve_demo(tmp_path, database_url=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
                    attendees=20, VARCO_LIVE_HEARTBEAT_SECONDS="1",
                    VARCO_SEND_ON_ISSUE="false") as served:  # no e-mails needed here
        yield served


def test_demo_scans_made_today_are_on_the_chart_as_a_rehearsal(demo, browser):
    base, export = demo
    organiser = json.loads((export / "organiser.json").read_text())
    device = json.loads((export / "device.json").read_text())
    codes = (export / "codes.txt").read_text().split()
    path = f"/events/{organiser['event_id']}/dashboard/"
    for code in codes[:3]:
        answer = post_json(device["scan_url"], device["token"],
                       {"code": code, "list": device["list"], "nonce": str(uuid.uuid4())})
        assert answer["status"] == "ok"
    today = dt.datetime.now(zoneinfo.ZoneInfo("Europe/Rome"))
    for name, context_args, words in (
        ("desktop", {"viewport": {"width": 1366, "height": 900}, "locale": "it-IT"},
         ("Prova:", "ecco le scansioni di", str(today.year))),
        ("phone", {"viewport": {"width": 390, "height": 844}, "locale": "en-GB",
                   "is_mobile": True, "has_touch": True, "device_scale_factor": 2},
         ("Rehearsal:", "here are the scans of", str(today.year))),
    ):
        page = browser.new_context(**context_args).new_page()
        log_in(page, base + path + ("?lang=en" if name == "phone" else ""),
               organiser["username"], organiser["password"])
        note = page.locator("#rehearsal")
        note.wait_for(state="visible", timeout=5000)
        text = note.inner_text()
        assert all(w in text for w in words), text
        assert today.strftime("%B" if name == "phone" else "%d").lstrip("0") in text
        # The three scans are bars on the chart (one 5-minute bar, or two across a boundary),
        # under the hour-long window of today.
        bars = page.locator("#chart svg g rect")
        assert 1 <= bars.count() <= 3
        titles = [bars.nth(i).locator("title").text_content() for i in range(bars.count())]
        assert sum(int(t.rsplit(": ", 1)[1]) for t in titles) == 3, titles
        assert note.bounding_box()["width"] <= context_args["viewport"]["width"]
        shot(page, f"attendance-rehearsal-{name}", full_page=True)
