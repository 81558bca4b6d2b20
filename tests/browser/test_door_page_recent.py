"""Issue 13, door page item 4, at 390 px and 1,366 px: recent scans and their undo survive a
reload; an undone row loses its green bar; an invalid row says what was scanned; the camera
message tells the real cause (no "HTTPS" on 127.0.0.1, a secure context); the ticket type
follows the page language; the code field's hint is not cut."""

from __future__ import annotations

import pytest

from checkin.models import Presence
from tests.support.checkin import make_device, make_list
from tests.support.door_browser import chromium, open_paired, scanner_types, shot
from tickets import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The hint's text width against the room the field gives it (canvas measure, the field's font).
PLACEHOLDER_FITS = """() => {
  const input = document.getElementById("code");
  const style = getComputedStyle(input, "::placeholder");
  const box = getComputedStyle(input);
  const ctx = document.createElement("canvas").getContext("2d");
  ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const room = input.clientWidth - parseFloat(box.paddingLeft) - parseFloat(box.paddingRight);
  return [ctx.measureText(input.placeholder).width, room];
}"""


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_recent_scans_survive_a_reload_and_read_well(live_server, event, register, monkeypatch,
                                                     width):
    from playwright.sync_api import expect

    door_list = make_list(event)
    _, token = make_device(event, [door_list], name="Telefono 9", gate="Ingresso F")
    first = register(name="Giulia Rossi", email="g@example.org")
    second = register(name="Marco Bianchi", email="m@example.org")
    with chromium(monkeypatch) as browser:
        context, page, errors = open_paired(browser, live_server.url, token, width)
        rows = page.locator("#recent-list li")

        # the hint fits the field whole, in both languages
        for _ in range(2):
            text, room = page.evaluate(PLACEHOLDER_FITS)
            assert text <= room, (page.get_attribute("#code", "placeholder"), text, room)
            page.click("#lang")

        # the camera: 127.0.0.1 is a secure context, so no word of HTTPS; the real cause instead
        page.click("#camera-toggle")
        expect(page.locator("#camera-note")).not_to_be_empty(timeout=10000)
        note = page.inner_text("#camera-note")
        assert "HTTPS" not in note
        assert page.get_attribute("#camera-note", "data-problem") in ("missing", "denied",
                                                                      "unavailable")

        scanner_types(page, services.ticket_code(first))
        expect(rows).to_have_count(1, timeout=10000)
        expect(page.locator("#result-type")).to_have_text("Ingresso")  # Italian page
        page.click("#result")
        scanner_types(page, services.ticket_code(second))
        expect(rows).to_have_count(2, timeout=10000)
        page.click("#result")
        scanner_types(page, "NOT-A-TICKET-123")
        expect(rows).to_have_count(3, timeout=10000)
        page.click("#result")
        invalid = rows.nth(0)
        expect(invalid).to_have_attribute("data-kind", "bad")
        assert "— —" not in invalid.inner_text()
        assert "«NOT-A-TICKET-123»" in invalid.inner_text()
        assert "Codice non valido" in invalid.inner_text()

        # undo Marco: his row loses the green bar and says "undone"
        rows.nth(1).get_by_role("button").click()
        expect(rows.nth(1)).to_have_attribute("data-kind", "undone", timeout=10000)
        expect(rows.nth(1)).to_contain_text("Annullato")
        assert rows.nth(1).get_by_role("button").count() == 0
        bar = rows.nth(1).evaluate("li => getComputedStyle(li).borderLeftColor")
        green = rows.nth(2).evaluate("li => getComputedStyle(li).borderLeftColor")
        assert bar != green
        shot(page, f"door-recent-{width}")

        # reload: the list, its states and Giulia's undo are still there
        page.reload()
        page.wait_for_selector("#door:not([hidden])")
        expect(rows).to_have_count(3, timeout=10000)
        expect(rows.nth(1)).to_have_attribute("data-kind", "undone")
        expect(rows.nth(2)).to_contain_text("Giulia Rossi")
        rows.nth(2).get_by_role("button").click()
        expect(rows.nth(2)).to_have_attribute("data-kind", "undone", timeout=10000)
        assert Presence.objects.get(ticket=first).inside is False

        # English: the row labels and the ticket type follow the page language
        page.click("#lang")
        expect(rows.nth(0)).to_contain_text("Invalid code")
        page.click("#result") if page.is_visible("#result") else None
        Presence.objects.filter(ticket=first).delete()
        page.focus("#code")
        scanner_types(page, services.ticket_code(first))
        page.wait_for_selector("#result:not([hidden])")
        expect(page.locator("#result-type")).to_have_text("Admission")
        shot(page, f"door-recent-english-{width}")
        assert errors == []
        context.close()


def test_camera_note_says_https_where_it_is_needed(live_server, event, monkeypatch, settings):
    """On plain HTTP at a host that is not localhost the browser keeps the camera off: there
    the page does say a secure connection (HTTPS) is needed."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "door.test"]
    _, token = make_device(event, [make_list(event)], name="Telefono 10")
    port = live_server.url.rsplit(":", 1)[1]
    rules = ["--host-resolver-rules=MAP door.test 127.0.0.1"]
    with chromium(monkeypatch, rules) as browser:
        context, page, errors = open_paired(browser, f"http://door.test:{port}", token, "phone",
                                            locale="en-GB")
        page.click("#camera-toggle")
        page.wait_for_selector("#camera-note:not(:empty)")
        assert "secure connection (HTTPS)" in page.inner_text("#camera-note")
        assert page.get_attribute("#camera-note", "data-problem") == "insecure"
        shot(page, "door-camera-insecure")
        assert errors == []
        context.close()
