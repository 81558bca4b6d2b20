"""The live dashboard in a real browser against the production web server.

Black box: a fresh database is migrated and seeded with the demo (``seed_demo --export``),
gunicorn serves it with ``gunicorn.conf.py`` (threaded workers, as in production), Debian's
Chromium logs in as the demo organiser and opens the dashboard; a scan is posted to the door's
scan endpoint with the demo device's token, and the page must show the new count within 2 s
without reloading. One gunicorn worker serving one stream: a second dashboard (a phone-sized
one) is refused a stream and must keep up by polling. Screenshots of both go to
``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def _free_port() -> int:
    """A free port in VARCO_TEST_PORTS (default 8400-8499)."""
    low, high = (int(p) for p in os.environ.get("VARCO_TEST_PORTS", "8400-8499").split("-"))
    for port in range(low, high + 1):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {low}-{high}")


def _database(tmp_path: Path) -> str:
    """A throwaway database of the kind the suite runs on (PostgreSQL or a SQLite file)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return f"sqlite:///{tmp_path / 'e2e.sqlite3'}"
    import psycopg

    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or "varco") + "_attendance_e2e"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture
def server(tmp_path):
    """Migrate, seed the demo, serve it with gunicorn; yield (base URL, export dir)."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")},
        "DATABASE_URL": _database(tmp_path),
        "VARCO_VAR_DIR": str(tmp_path / "var"),
        "SITE_URL": base,
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "4",
        "VARCO_LIVE_STREAMS_PER_PROCESS": "1",
        # A closed browser's stream is noticed at the next heartbeat: keep shutdown quick.
        "VARCO_LIVE_HEARTBEAT_SECONDS": "1",
        "DJANGO_SETTINGS_MODULE": "backend.settings",
    }
    export = tmp_path / "demo"
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env,
                   check=True, timeout=180)
    subprocess.run([python, "manage.py", "seed_demo", "--attendees", "40", "--export",
                    str(export)], cwd=ROOT, env=env, check=True, timeout=180,
                   stdout=subprocess.DEVNULL)
    gunicorn = Path(python).parent / "gunicorn"
    log = open(tmp_path / "gunicorn.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(gunicorn), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
         "backend.wsgi"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/admin/login/", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError((tmp_path / "gunicorn.log").read_text()) from None
                time.sleep(0.2)
        yield base, export
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _post(url: str, token: str, body: dict) -> dict:
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


def _figure(page, name: str) -> str:
    return page.inner_text(f'[data-figure="{name}"]')


def test_dashboard_shows_a_scan_within_two_seconds_without_reload(server):
    from playwright.sync_api import sync_playwright

    base, export = server
    organiser = json.loads((export / "organiser.json").read_text())
    device = json.loads((export / "device.json").read_text())
    codes = (export / "codes.txt").read_text().split()
    scan_url = base + "/api/v1/checkin/scan/"
    sync_url = base + "/api/v1/checkin/sync/"
    path = f"/events/{organiser['event_id']}/dashboard/"
    # Some arrivals during the demo day's hours (22 September 2017), uploaded as offline scans.
    for k, code in enumerate(codes[:12]):
        minute = 9 * 60 + 10 + 7 * k
        at = f"2017-09-22T{minute // 60:02d}:{minute % 60:02d}:00+02:00"
        _post(sync_url, device["token"], {"scans": [
            {"code": code, "list": device["list"], "nonce": str(uuid.uuid4()), "scanned_at": at}]})
    assert _post(scan_url, device["token"], {"code": codes[0], "list": device["list"]})[
        "reason"] == "already_checked_in"
    ARTIFACTS.mkdir(exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            laptop = browser.new_context(viewport={"width": 1366, "height": 900}, locale="it-IT")
            page = laptop.new_page()
            _log_in(page, base, path, organiser)
            page.wait_for_selector('#status[data-state="live"]', timeout=5000)
            assert _figure(page, "checked_in") == "12"
            assert page.inner_text("#status") == "In diretta"
            assert page.locator("#chart svg rect").count() >= 12
            page.evaluate("window.__notReloaded = true")

            phone = browser.new_context(
                viewport={"width": 390, "height": 844}, locale="en-GB", is_mobile=True,
                has_touch=True, device_scale_factor=2,
            )
            small = phone.new_page()
            _log_in(small, base, path + "?lang=en", organiser)
            # The only stream of the only worker is taken: this page polls.
            small.wait_for_selector('#status[data-state="polling"]', timeout=5000)
            assert small.inner_text('[data-figure="checked_in"]') == "12"

            started = time.monotonic()
            answer = _post(scan_url, device["token"], {
                "code": codes[20], "list": device["list"], "nonce": str(uuid.uuid4())})
            assert answer["status"] == "ok"
            # A selector, not a JavaScript string: the page's CSP forbids eval.
            page.wait_for_selector('[data-figure="checked_in"]:text-is("13")', timeout=2000)
            pushed = time.monotonic() - started
            small.wait_for_selector('[data-figure="checked_in"]:text-is("13")', timeout=2000)
            polled = time.monotonic() - started
            assert page.evaluate("window.__notReloaded") is True  # same page, no reload
            first_feed = page.locator("#feed li").first
            assert answer["attendee"]["name"] in first_feed.inner_text()
            assert page.locator("#feed li.rejected").count() >= 1  # the refused re-scan
            page.screenshot(path=str(ARTIFACTS / "attendance-dashboard.png"), full_page=True)
            small.screenshot(path=str(ARTIFACTS / "attendance-dashboard-phone.png"),
                             full_page=True)
            print(f"\nscan shown by the stream after {pushed:.2f}s, by polling after {polled:.2f}s")
            assert pushed < 2.0 and polled < 2.0
        finally:
            browser.close()
