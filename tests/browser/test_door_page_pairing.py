"""Issue 13, door page item 3: the printed pairing link pairs when pasted into the token field,
and a `#pair=` link opened in a tab already on /scan/ pairs (hashchange). 390 px and 1,366 px."""

from __future__ import annotations

import pytest

from tests.support.checkin import make_device, make_list
from tests.support.door_browser import WIDTHS, chromium, scanner_types, shot
from tickets import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_pasting_the_pairing_link_pairs(live_server, event, monkeypatch, width):
    door_list = make_list(event)
    _, token = make_device(event, [door_list], name="Telefono 6", gate="Ingresso E")
    w, h = WIDTHS[width]
    with chromium(monkeypatch) as browser:
        context = browser.new_context(locale="en-GB", viewport={"width": w, "height": h})
        page = context.new_page()
        page.goto(f"{live_server.url}/scan/")
        page.wait_for_selector("#pair:not([hidden])")
        # what the admin and `make run` print: the whole link, with a stray newline
        page.fill("#pair-token", f"{live_server.url}/scan/#pair={token}\n")
        page.click("#pair-form button[type=submit]")
        page.wait_for_selector("#door:not([hidden])", timeout=10000)
        page.wait_for_selector("#device-name:not(:empty)")
        assert page.inner_text("#device-name") == "Telefono 6 · Ingresso E"
        assert page.inner_text("#pair-error") == ""
        shot(page, f"door-paired-by-pasted-link-{width}")
        context.close()


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_opening_a_pairing_link_in_a_tab_already_on_scan_pairs(live_server, event, register,
                                                              monkeypatch, width):
    door_list = make_list(event)
    _, first = make_device(event, [door_list], name="Telefono 7", gate="A")
    _, second = make_device(event, [door_list], name="Telefono 8", gate="B")
    w, h = WIDTHS[width]
    with chromium(monkeypatch) as browser:
        context = browser.new_context(locale="it-IT", viewport={"width": w, "height": h})
        page = context.new_page()
        page.goto(f"{live_server.url}/scan/")
        page.wait_for_selector("#pair:not([hidden])")
        # same document, only the fragment changes: no load, a hashchange
        page.goto(f"{live_server.url}/scan/#pair={first}")
        page.wait_for_selector("#door:not([hidden])", timeout=10000)
        page.wait_for_selector("#device-name:has-text('Telefono 7')")
        assert "#pair=" not in page.url
        scanner_types(page, services.ticket_code(register()))
        page.wait_for_selector("#recent-list li[data-kind='ok']", timeout=10000)
        # the same device's link again: still paired, its recent scans kept
        with page.expect_response("**/api/v1/checkin/snapshot/"):  # pairing done by then
            page.goto(f"{live_server.url}/scan/#pair={first}")
        page.wait_for_selector("#door:not([hidden])")
        assert "#pair=" not in page.url
        assert page.locator("#recent-list li").count() == 1
        # and a paired tab moves to the device of the next link opened in it, with a new list
        page.goto(f"{live_server.url}/scan/#pair={second}")
        page.wait_for_selector("#device-name:has-text('Telefono 8')", timeout=10000)
        assert "#pair=" not in page.url
        assert page.locator("#recent-list li").count() == 0
        shot(page, f"door-paired-by-hashchange-{width}")
        context.close()
