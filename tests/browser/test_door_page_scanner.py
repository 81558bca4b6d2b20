"""Issue 13, door page item 1: a hardware scanner's input is never lost.

After tapping every button on the door page (enumerated from the page itself, not a fixed list),
a code typed the way a USB/Bluetooth scanner types it (fast keystrokes + Enter, aimed at
nothing) gets an answer and a row in the recent list; in the search box a person's text stays
and a scanner's burst is scanned. At 390 px and 1,366 px, in real Chromium.
"""

from __future__ import annotations

import time

import pytest

from checkin.api import door as door_api
from tests.support.checkin import make_device, make_list
from tests.support.door_browser import chromium, open_paired, scanner_types, shot
from tickets import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _answered(page, expect, name: str, before: str | None) -> None:
    """The scan got a full-screen answer and a new top row naming the attendee."""
    page.wait_for_selector("#result:not([hidden])", timeout=10000)
    top = page.locator("#recent-list li").first
    if before is not None:
        expect(top).not_to_have_attribute("data-nonce", before, timeout=10000)
    expect(top).to_contain_text(name, timeout=10000)


def _top_nonce(page) -> str | None:
    rows = page.locator("#recent-list li")
    return rows.first.get_attribute("data-nonce") if rows.count() else None


def _dismiss(page) -> None:
    """Tap the answer away (a tap on a non-focusable layer: focus goes to the page itself)."""
    if page.is_visible("#result"):
        page.click("#result")
    page.wait_for_selector("#result", state="hidden")


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_scanner_keystrokes_reach_the_scan_after_every_button(live_server, event, register,
                                                              monkeypatch, width):
    from playwright.sync_api import expect

    main = make_list(event, allow_exit=True)  # the entry/exit switch shows
    side = make_list(event, name="Ingresso laterale")  # two lists: the list picker shows
    _, token = make_device(event, [main, side], name="Telefono 4", gate="Ingresso D")
    people = [register(name=f"Persona {index:02d}", email=f"p{index}@example.org")
              for index in range(4)]
    codes = [(p.attendee.name, services.ticket_code(p)) for p in people]
    with chromium(monkeypatch) as browser:
        context, page, errors = open_paired(browser, live_server.url, token, width)
        page.on("dialog", lambda dialog: dialog.dismiss())  # "unpair?" -> no
        turn = iter(range(10_000))

        def scan_and_check(label: str) -> None:
            name, code = codes[next(turn) % len(codes)]
            before = _top_nonce(page)
            scanner_types(page, code)
            try:
                _answered(page, expect, name, before)
            except AssertionError as exc:
                raise AssertionError(f"no answer after {label}: {exc}") from None
            assert page.is_visible("#door"), f"after {label}"
            _dismiss(page)

        scan_and_check("page load (focus in the code field)")
        buttons = page.locator("#door button:visible")
        labels = [buttons.nth(i).evaluate("b => b.id || b.className") for i in
                  range(buttons.count())]
        # every control a person can tap on the main screen, and nothing left out
        assert {"dir-entry", "dir-exit", "camera-toggle", "search-open", "lang", "unpair",
                "undo"} <= set(labels), labels
        for index, label in enumerate(labels):
            if label == "search-open":
                continue  # below, with the search screen
            page.locator("#door button:visible").nth(index).click()
            focused = page.evaluate("() => document.activeElement.id || "
                                    "document.activeElement.tagName")
            assert focused != "code" or label in ("dir-entry", "dir-exit"), (label, focused)
            scan_and_check(label)
            if label == "dir-exit":
                page.click("#dir-entry")  # back to entries for the next admissions
        # the list picker has focus
        page.select_option("#list", label="Ingresso laterale")
        assert page.evaluate("() => document.activeElement.id") in ("list", "code")
        page.focus("#list")
        scan_and_check("list picker")
        page.select_option("#list", label="Ingresso principale")
        # the page itself has focus (a tap on empty space)
        page.evaluate("() => document.activeElement.blur()")
        scan_and_check("nothing focused")

        # the search box: a person's typing stays there, a scanner's burst is scanned
        page.click("#search-open")
        page.keyboard.type("Pers", delay=150)
        scan_and_check("search box, a person typing")
        assert page.input_value("#search-q") == "Pers"
        expect(page.locator("#search-results button").first).to_be_visible(timeout=10000)
        shot(page, f"door-scanner-search-{width}")
        page.locator("#search-results button").first.focus()
        scan_and_check("a search result's button")
        page.click("#search-close")
        scan_and_check("search-close")
        page.click("#search-open")
        page.locator("#search-results li").first.wait_for(state="attached", timeout=2000) \
            if page.input_value("#search-q") else None
        page.keyboard.type("Persona 02", delay=120)
        page.locator("#search-results button").first.click()  # a manual check-in
        page.wait_for_selector("#result:not([hidden])", timeout=10000)  # its answer
        _dismiss(page)
        scan_and_check("search result's check-in")
        shot(page, f"door-scanner-{width}")
        assert errors == []
        context.close()


def test_keyboard_users_still_press_buttons(live_server, event, monkeypatch):
    """Space and Enter on a focused button press it when no scanner burst comes first."""
    _, token = make_device(event, [make_list(event)], name="Telefono 5")
    with chromium(monkeypatch) as browser:
        context, page, _ = open_paired(browser, live_server.url, token, "phone")
        page.focus("#search-open")
        page.keyboard.press("Enter")
        page.wait_for_selector("#search:not([hidden])")
        page.focus("#search-close")
        page.keyboard.press(" ")
        page.wait_for_selector("#search", state="hidden")
        context.close()


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_a_scanner_pairs_after_every_button_of_the_pairing_screen(live_server, event,
                                                                  monkeypatch, width):
    """Scanning the printed pairing QR with a hardware scanner pairs, whatever was tapped."""
    from tests.support.door_browser import WIDTHS

    _, token = make_device(event, [make_list(event)], name="Telefono 11", gate="G")
    w, h = WIDTHS[width]
    with chromium(monkeypatch) as browser:
        context = browser.new_context(locale="it-IT", viewport={"width": w, "height": h})
        page = context.new_page()
        page.goto(f"{live_server.url}/scan/")
        page.wait_for_selector("#pair:not([hidden])")
        buttons = page.locator("#pair button:visible")
        labels = [buttons.nth(i).evaluate("b => b.id || b.type") for i in range(buttons.count())]
        assert set(labels) == {"submit", "pair-camera"}, labels
        for index in range(len(labels)):
            page.locator("#pair button:visible").nth(index).click()
            page.wait_for_selector("#pair-error:not(:empty)")  # no token / no camera: said so
        page.locator("#pair-camera").focus()
        scanner_types(page, f"{live_server.url}/scan/#pair={token}")
        page.wait_for_selector("#device-name:has-text('Telefono 11')", timeout=10000)
        shot(page, f"door-scanner-paired-{width}")
        context.close()


def test_a_scan_fired_while_a_manual_check_in_is_answered_is_read_whole(live_server, event,
                                                                        register, monkeypatch):
    """Staff tap "check in" on a search result and scan the next person before the (slow)
    server answers: the page left the search on the tap, so the whole burst is the next scan,
    not half of it in the search box and the rest in the code field."""
    from playwright.sync_api import expect

    _, token = make_device(event, [make_list(event)], name="Telefono 6")
    register(name="Persona Lenta", email="lenta@example.org")
    second = register(name="Persona Dopo", email="dopo@example.org")
    answering = door_api.services.manual_check_in

    def slow_manual_check_in(*args, **kwargs):
        time.sleep(0.6)  # a slow network at the venue: the answer comes mid-burst
        return answering(*args, **kwargs)

    monkeypatch.setattr(door_api.services, "manual_check_in", slow_manual_check_in)
    with chromium(monkeypatch) as browser:
        context, page, errors = open_paired(browser, live_server.url, token, "phone")
        page.click("#search-open")
        page.keyboard.type("Persona Lenta", delay=100)
        expect(page.locator("#search-results button").first).to_be_visible(timeout=10000)
        page.locator("#search-results button").first.click()
        # a slow scanner (15 ms a character: ~2 s for a Varco code), fired before the answer
        page.keyboard.type(services.ticket_code(second), delay=15)
        page.keyboard.press("Enter")
        rows = page.locator("#recent-list li")
        expect(rows).to_have_count(2, timeout=10000)
        names = rows.all_inner_texts()
        assert any("Persona Dopo" in row for row in names), names
        assert any("Persona Lenta" in row for row in names), names
        assert not any("non valido" in row for row in names), names
        assert page.input_value("#code") == ""
        shot(page, "door-scanner-during-manual")
        assert errors == []
        context.close()
