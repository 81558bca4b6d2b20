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
import os
import subprocess
import sys
import time
import urllib.request
import uuid
import zoneinfo
from pathlib import Path

import pytest

from tests.support.smtp_sink import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture
def demo(tmp_path):
    """The demo, served: yield (base URL, export dir)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "VARCO_VAR_DIR": str(tmp_path / "var"),
        "SITE_URL": base,
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "4",
        "VARCO_LIVE_HEARTBEAT_SECONDS": "1",
        "VARCO_SEND_ON_ISSUE": "false",  # no e-mails needed here
        "DJANGO_SETTINGS_MODULE": "backend.settings",
    }
    export = tmp_path / "demo"
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env,
                   check=True, timeout=180)
    subprocess.run([python, "manage.py", "seed_demo", "--attendees", "20", "--export",
                    str(export)], cwd=ROOT, env=env, check=True, timeout=180,
                   stdout=subprocess.DEVNULL)
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(Path(python).parent / "gunicorn"), "-c", "gunicorn.conf.py", "--bind",
             f"127.0.0.1:{port}", "backend.wsgi"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=2).read()
                    break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError(log_path.read_text()) from None
                    time.sleep(0.2)
            yield base, export
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _scan(url: str, token: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def _log_in(page, base: str, path: str, organiser: dict) -> None:
    page.goto(base + path)
    page.fill("#id_username", organiser["username"])
    page.fill("#id_password", organiser["password"])
    page.click("input[type=submit]")
    page.wait_for_url(base + path)


def test_demo_scans_made_today_are_on_the_chart_as_a_rehearsal(demo):
    from playwright.sync_api import sync_playwright

    base, export = demo
    organiser = json.loads((export / "organiser.json").read_text())
    device = json.loads((export / "device.json").read_text())
    codes = (export / "codes.txt").read_text().split()
    path = f"/events/{organiser['event_id']}/dashboard/"
    for code in codes[:3]:
        answer = _scan(device["scan_url"], device["token"],
                       {"code": code, "list": device["list"], "nonce": str(uuid.uuid4())})
        assert answer["status"] == "ok"
    today = dt.datetime.now(zoneinfo.ZoneInfo("Europe/Rome"))
    ARTIFACTS.mkdir(exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            for name, context_args, words in (
                ("desktop", {"viewport": {"width": 1366, "height": 900}, "locale": "it-IT"},
                 ("Prova:", "ecco le scansioni di", str(today.year))),
                ("phone", {"viewport": {"width": 390, "height": 844}, "locale": "en-GB",
                           "is_mobile": True, "has_touch": True, "device_scale_factor": 2},
                 ("Rehearsal:", "here are the scans of", str(today.year))),
            ):
                page = browser.new_context(**context_args).new_page()
                _log_in(page, base, path + ("?lang=en" if name == "phone" else ""), organiser)
                note = page.locator("#rehearsal")
                note.wait_for(state="visible", timeout=5000)
                text = note.inner_text()
                assert all(w in text for w in words), text
                assert today.strftime("%B" if name == "phone" else "%d").lstrip("0") in text
                # The three scans are bars on the chart (one 5-minute bar, or two across a
                # boundary), under the hour-long window of today.
                bars = page.locator("#chart svg g rect")
                assert 1 <= bars.count() <= 3
                titles = [bars.nth(i).locator("title").text_content() for i in range(bars.count())]
                assert sum(int(t.rsplit(": ", 1)[1]) for t in titles) == 3, titles
                assert note.bounding_box()["width"] <= context_args["viewport"]["width"]
                page.screenshot(path=str(ARTIFACTS / f"attendance-rehearsal-{name}.png"),
                                full_page=True)
        finally:
            browser.close()
