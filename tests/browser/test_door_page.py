"""The door page in a real browser: Debian's chromium driven by Playwright against a live server.

Keyboard-wedge a valid code -> green with the name; again -> amber "already checked in";
offline (context.set_offline) -> the scan is decided locally and queued -> back online -> it is
uploaded and the server has it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from checkin.models import Presence, ScanLog
from tests.support.checkin import make_device, make_list
from tests.support.chromium import launch, shot
from tests.support.door_browser import record_requests
from tickets import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

def _wedge(page, code: str) -> float:
    """Type a code the way a USB/Bluetooth scanner does (text + Enter); return the time."""
    page.fill("#code", code)
    started = time.monotonic()
    page.press("#code", "Enter")
    return started


def test_door_page_online_then_offline_then_synced(live_server, browser, event, register):
    door_list = make_list(event)
    _, token = make_device(event, [door_list], name="Telefono 1", gate="Ingresso A")
    first = register(name="Giulia Rossi", email="g@example.org", organisation="Coop Il Sole")
    second = register(name="Marco Bianchi", email="m@example.org", organisation="ACLI")
    context = browser.new_context(locale="it-IT", viewport={"width": 390, "height": 820})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}/scan/#pair={token}")
    page.wait_for_selector("#door:not([hidden])")
    page.wait_for_selector("#event-name:not(:empty)")  # no string eval: the page has a CSP
    assert "#pair=" not in page.url  # the token left the address bar
    assert page.inner_text("#device-name") == "Telefono 1 · Ingresso A"

    # online: green with the name, within a second
    started = _wedge(page, services.ticket_code(first) + "\n")
    page.wait_for_selector("#result[data-kind='ok']:not([hidden])", timeout=5000)
    assert time.monotonic() - started < 1.0
    result = page.inner_text("#result")
    assert "Benvenuto" in result and "Giulia Rossi" in result and "Coop Il Sole" in result
    assert page.input_value("#code") == ""  # ready for the next scan at once
    shot(page, "door-ok")

    # the same code again: amber, already checked in, with the first time
    _wedge(page, services.ticket_code(first))
    page.wait_for_selector("#result[data-kind='warn']:not([hidden])", timeout=5000)
    assert "Già entrato" in page.inner_text("#result")
    assert "Entrato alle" in page.inner_text("#result")
    shot(page, "door-already")
    assert ScanLog.objects.filter(ticket=first).count() == 2

    # offline: decided on the phone, queued, nothing reaches the server yet
    context.set_offline(True)
    _wedge(page, services.ticket_code(second))
    page.wait_for_selector("#result[data-kind='ok']:not([hidden])", timeout=5000)
    assert "Marco Bianchi" in page.inner_text("#result")
    assert "registrato offline" in page.inner_text("#result")
    page.wait_for_selector("#sync-state[data-state='offline'][data-queue='1']", timeout=5000)
    assert not ScanLog.objects.filter(ticket=second).exists()
    # the offline copy knows who is in: the first ticket is refused locally too
    _wedge(page, services.ticket_code(first))
    page.wait_for_selector("#result[data-kind='warn']:not([hidden])", timeout=5000)
    page.wait_for_selector("#sync-state[data-queue='2']", timeout=5000)
    shot(page, "door-offline")

    # back online: the queue uploads by itself
    context.set_offline(False)
    page.wait_for_selector("#sync-state[data-state='online'][data-queue='0']", timeout=15000)
    row = ScanLog.objects.get(ticket=second)
    assert (row.result, row.source) == ("ok", "offline")
    assert Presence.objects.get(ticket=second).entries == 1
    local_refusal = ScanLog.objects.filter(ticket=first, source="offline").get()
    assert (local_refusal.reason, local_refusal.conflict) == ("already_checked_in", False)
    shot(page, "door-synced")

    # English on demand
    page.click("#lang")
    assert page.get_attribute("#code", "placeholder").startswith("Scan or type")
    assert errors == []
    context.close()


def test_door_page_says_so_when_the_scanner_floods_invalid_codes(live_server, browser, event,
                                                                  register, settings):
    """Past the device's allowance of invalid codes (checkin/flood.py) the server answers 429:
    the page shows a red answer telling staff to check the scanner, in the page's language,
    and a real ticket still gets in."""
    settings.VARCO_SCAN_INVALID_RATE = 0.01  # one code back every 100 s: none during the test
    settings.VARCO_SCAN_INVALID_BURST = 2
    door_list = make_list(event)
    _, token = make_device(event, [door_list], name="Telefono 2", gate="Ingresso B")
    ticket = register(name="Giulia Rossi", email="g@example.org")
    context = browser.new_context(locale="it-IT", viewport={"width": 390, "height": 820})
    page = context.new_page()
    requests = record_requests(page)
    try:
        page.goto(f"{live_server.url}/scan/#pair={token}")
        page.wait_for_selector("#event-name:not(:empty)")
        for index in range(2):
            # Answered by the server, or decided on the phone if the answer was slower than the
            # page waits (2.5 s: a loaded CI machine): "invalid" either way, logged either way.
            assert _scan_status(page, f"GARBAGE-{index}") in (200, None)
            page.wait_for_selector(
                "#result[data-kind='bad'][data-reason='invalid']:not([hidden])", timeout=5000)
            deadline = time.monotonic() + 5
            while ScanLog.objects.filter(reason="invalid").count() <= index:
                assert time.monotonic() < deadline, "the invalid scan was not logged"
                time.sleep(0.05)
        # Past the allowance the server answers 429 and the page says so. A page that gave up
        # waiting (a loaded CI machine) decides offline, where it keeps the same allowance
        # (src/flood.js, numbers from the snapshot): it says so too (it said only "Codice non
        # valido" before, which failed two full CI runs). The refusals stay refusals: no live
        # invalid scan past the allowance is logged.
        status = _scan_status(page, "GARBAGE-flood")
        assert status in (429, None)
        page.wait_for_selector("#result[data-kind='bad'][data-reason='']:not([hidden])",
                               timeout=5000)
        assert "Troppi codici illeggibili da questo scanner" in page.inner_text("#result")
        assert ScanLog.objects.filter(reason="invalid", source="scan").count() <= 2
        page.wait_for_selector("#sync-state[data-state='online']", timeout=15000)
        assert _scan_status(page, services.ticket_code(ticket)) == 200
        page.wait_for_selector("#result[data-kind='ok']:not([hidden])", timeout=5000)
        assert "Giulia Rossi" in page.inner_text("#result")
    except Exception as exc:
        shown = page.evaluate("""() => ({
            result: document.querySelector('#result').dataset,
            title: document.querySelector('#result-title').textContent,
            sync: document.querySelector('#sync-state').dataset})""")
        raise AssertionError(f"{exc}\npage: {shown}\nrequests:\n" + "\n".join(requests)) from exc
    context.close()


def _fail_scans(page) -> None:
    """The scan endpoint unreachable (the request fails): the page decides offline."""
    page.route("**/api/v1/checkin/scan/", lambda route: route.abort())


def _wait_offline_queue(page, queued: int) -> None:
    page.wait_for_selector(f"#sync-state[data-state='offline'][data-queue='{queued}']",
                           timeout=5000)


def test_door_page_offline_says_so_when_the_scanner_floods_invalid_codes(
        live_server, browser, event, register, settings):
    """Offline (the scan endpoint fails), the page keeps the device's allowance of invalid codes
    itself, with the server's numbers from the snapshot: past it, the flood message, not just
    "invalid"; a real ticket still gets in. Every scan is queued and uploaded once back."""
    settings.VARCO_SCAN_INVALID_RATE = 0.01  # one code back every 100 s: none during the test
    settings.VARCO_SCAN_INVALID_BURST = 2
    door_list = make_list(event)
    _, token = make_device(event, [door_list], name="Telefono 4", gate="Ingresso D")
    ticket = register(name="Giulia Rossi", email="g@example.org")
    context = browser.new_context(locale="it-IT", viewport={"width": 390, "height": 820})
    page = context.new_page()
    requests = record_requests(page)
    page.goto(f"{live_server.url}/scan/#pair={token}")
    page.wait_for_selector("#event-name:not(:empty)")
    # the probe would bring the page back online between scans and upload part of the queue
    page.route("**/api/v1/checkin/ping/", lambda route: route.abort())
    _fail_scans(page)
    try:
        for index in range(2):
            _wedge(page, f"GARBAGE-{index}")
            _wait_offline_queue(page, index + 1)
            page.wait_for_selector(
                "#result[data-kind='bad'][data-reason='invalid']:not([hidden])", timeout=5000)
            assert "Codice non valido" in page.inner_text("#result")
        _wedge(page, "GARBAGE-flood")
        _wait_offline_queue(page, 3)
        page.wait_for_selector("#result[data-kind='bad'][data-reason='']:not([hidden])",
                               timeout=5000)
        text = page.inner_text("#result")
        assert "Troppi codici illeggibili da questo scanner" in text
        assert "registrato offline" not in text  # the flood, not a decision
        shot(page, "door-offline-flood")
        row = page.wait_for_selector("#recent-list li:first-child")
        assert "Troppi codici illeggibili" in row.inner_text()
        assert "registrato offline" in row.inner_text()
        # signed codes are never limited
        _wedge(page, services.ticket_code(ticket))
        _wait_offline_queue(page, 4)
        page.wait_for_selector("#result[data-kind='ok']:not([hidden])", timeout=5000)
        assert "Giulia Rossi" in page.inner_text("#result")
        page.set_viewport_size({"width": 1366, "height": 900})
        _wedge(page, "GARBAGE-flood-2")
        _wait_offline_queue(page, 5)
        page.wait_for_selector("#result[data-kind='bad'][data-reason='']:not([hidden])",
                               timeout=5000)
        shot(page, "door-offline-flood-desktop")
        # back online: everything is uploaded, the server decides (its upload allowance is
        # 500: every invalid code logged)
        page.unroute("**/api/v1/checkin/ping/")
        page.wait_for_selector("#sync-state[data-state='online'][data-queue='0']",
                               timeout=15000)
        assert ScanLog.objects.filter(reason="invalid", source="offline").count() == 4
        assert ScanLog.objects.get(ticket=ticket).result == "ok"
    except Exception as exc:
        raise AssertionError(f"{exc}\nrequests:\n" + "\n".join(requests)) from exc
    context.close()


def test_door_page_says_so_when_an_upload_had_too_many_invalid_codes(
        live_server, browser, event, settings):
    """Offline scans of garbage within the page's allowance, uploaded past the server's upload
    allowance: the server answers `invalid_not_logged`, and the page tells staff (flood message
    with the count), in the answer and in the recent scans."""
    settings.VARCO_SCAN_INVALID_RATE = 0.01
    settings.VARCO_SCAN_INVALID_BURST = 20  # the page's allowance offline: no flood locally
    settings.VARCO_SYNC_INVALID_BURST = 1  # the server logs one invalid code of the upload
    door_list = make_list(event)
    _, token = make_device(event, [door_list], name="Telefono 5", gate="Ingresso E")
    context = browser.new_context(locale="it-IT", viewport={"width": 390, "height": 820})
    page = context.new_page()
    requests = record_requests(page)
    uploads: list[dict] = []
    page.on("response", lambda response: uploads.append(response.json())
            if "/api/v1/checkin/sync/" in response.url and response.status == 200 else None)
    page.goto(f"{live_server.url}/scan/#pair={token}")
    page.wait_for_selector("#event-name:not(:empty)")
    page.route("**/api/v1/checkin/ping/", lambda route: route.abort())
    _fail_scans(page)
    try:
        for index in range(3):
            _wedge(page, f"GARBAGE-{index}")
            _wait_offline_queue(page, index + 1)
            page.wait_for_selector(
                "#result[data-kind='bad'][data-reason='invalid']:not([hidden])", timeout=5000)
        page.unroute("**/api/v1/checkin/ping/")
        # shown at once, or after the answer on screen (a person at the door) had its time
        result = page.wait_for_selector(
            "#result[data-kind='bad'][data-reason='']:not([hidden])", timeout=15000)
        shot(page, "door-upload-flood")
        assert "Troppi codici illeggibili da questo scanner mentre era offline" in \
            result.inner_text()
        assert "2 non registrati" in result.inner_text()
        row = page.wait_for_selector("#recent-list li:first-child")
        assert "2 non registrati" in row.inner_text()
        assert [u.get("invalid_not_logged") for u in uploads] == [2]
        assert ScanLog.objects.filter(reason="invalid", source="offline").count() == 1
        page.click("#lang")
        assert "Too many unreadable codes from this scanner while offline" in \
            page.inner_text("#recent-list li:first-child")
        page.wait_for_selector("#sync-state[data-state='online'][data-queue='0']")
    except Exception as exc:
        raise AssertionError(f"{exc}\nrequests:\n" + "\n".join(requests)) from exc
    context.close()


def _scan_status(page, code: str) -> int | None:
    """Wedge ``code``; the HTTP status the scan endpoint answered it with, or None if the page
    gave up waiting (it then decides offline and queues the scan)."""
    with page.expect_request("**/api/v1/checkin/scan/", timeout=10000) as sent:
        _wedge(page, code)
    response = sent.value.response()
    return None if response is None else response.status


# --- the camera ----------------------------------------------------------------------------------

BUNDLE_LIMIT = 200 * 1024  # issue 11: QR-only decoding in a bundle of at most 200 KB


def _camera_feed(path: Path, code: str, width: int = 640, height: int = 480) -> None:
    """A Y4M clip (what chromium's fake camera plays) of the ticket's QR as tickets/documents/qr.py
    draws it for the PDF: black modules on white, centred, 4:2:0 with neutral chroma."""
    from tickets.documents.qr import matrix

    modules = matrix(code)
    scale = min(width, height) * 9 // 10 // len(modules)
    side = scale * len(modules)
    left, top = (width - side) // 2, (height - side) // 2
    luma = bytearray(b"\xff" * (width * height))
    for r, row in enumerate(modules):
        line = b"".join((b"\x00" if dark else b"\xff") * scale for dark in row)
        for y in range(top + r * scale, top + (r + 1) * scale):
            luma[y * width + left:y * width + left + side] = line
    chroma = b"\x80" * (width * height // 2)
    header = f"YUV4MPEG2 W{width} H{height} F5:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + b"FRAME\n" + bytes(luma) + chroma)


def test_door_page_decodes_a_ticket_qr_from_the_camera(live_server, event, register, tmp_path):
    """Chromium's fake camera films a real ticket QR: the page's QR-only decoder reads it and
    the server admits the ticket. The bundle the page loads is at most 200 KB."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    door_list = make_list(event)
    _, token = make_device(event, [door_list], name="Telefono 3", gate="Ingresso C")
    ticket = register(name="Giulia Rossi", email="g@example.org", organisation="Coop Il Sole")
    feed = tmp_path / "ticket.y4m"
    _camera_feed(feed, services.ticket_code(ticket))
    camera_args = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                   f"--use-file-for-fake-video-capture={feed}"]
    with launch(camera_args) as browser:
        context = browser.new_context(locale="it-IT", viewport={"width": 390, "height": 820})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        bundles: list[int] = []
        page.on("response", lambda response: bundles.append(len(response.body()))
                if "/static/checkin/door.js" in response.url else None)

        page.goto(f"{live_server.url}/scan/#pair={token}")
        page.wait_for_selector("#event-name:not(:empty)")
        page.click("#camera-toggle")
        # Wait on the recent list's row, which stays, not on the green answer, which shows for
        # under a second: under CPU load the decoder may take long to read the QR and the
        # browser long to paint, and a wait could miss that second (the flake this replaced).
        # Returns as soon as the row appears, so an idle run is as fast as before.
        try:
            row = page.wait_for_selector("#recent-list li[data-kind='ok']", timeout=90000)
        except PlaywrightTimeout:  # say what the page showed
            # (this once caught 1 ticket code in 12 that ZXing's port could not read in any
            # frame: tests/checkin/test_door_decoder.py now holds the reader to every code)
            state = page.evaluate("""() => ({
                note: document.querySelector('#camera-note').textContent,
                toggle: document.querySelector('#camera-toggle').textContent,
                video: (v => v && {hidden: v.hidden, ready: v.readyState, w: v.videoWidth})(
                    document.querySelector('#camera')),
                recent: document.querySelector('#recent-list').textContent,
            })""")
            raise AssertionError(f"no admitted row after 90 s: {state}, errors {errors}") from None
        assert "Giulia Rossi" in row.text_content()
        # (the answer can come before start() has returned and relabelled the button)
        page.wait_for_selector("#camera-toggle:has-text('Ferma fotocamera')", timeout=10000)
        # admitted once, from a camera read (the camera keeps filming: a slow run may read the
        # QR again after the page's 2.5 s pause, which is "already checked in")
        row = ScanLog.objects.filter(ticket=ticket).order_by("pk").first()
        assert (row.result, row.source) == ("ok", "scan")
        assert ScanLog.objects.filter(ticket=ticket, result="ok").count() == 1
        assert errors == []
        assert bundles and all(0 < size <= BUNDLE_LIMIT for size in bundles), bundles
