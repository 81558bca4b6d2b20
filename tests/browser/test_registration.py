"""Debian's Chromium (Playwright, headless) registers on the public page like a person would:
switches to English, submits an incomplete form, fixes it, sees the confirmation, and the
ticket e-mail reaches the SMTP server with a PDF whose QR code is the ticket's own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.ticket_files import pdf_qr_codes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.timeout(120)]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def chromium_page(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls made by the test
    # itself (not by the server under test) are safe here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844},  # a phone
                                      locale="it-IT")
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def test_register_on_a_phone_and_receive_the_ticket(live_server, chromium_page, event,
                                                    ticket_type, smtp_sink):
    from tickets import services
    from tickets.models import Attendee

    page = chromium_page
    page.goto(f"{live_server.url}/e/{event.slug}/register/")
    assert page.locator("html").get_attribute("lang") == "it"
    assert page.get_by_label("Nome e cognome").is_visible()
    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"

    page.get_by_role("button", name="Register and get my ticket").click()
    alert = page.get_by_role("alert")
    assert alert.is_visible() and "Please check the form" in alert.inner_text()
    assert page.get_by_label("E-mail").get_attribute("aria-invalid") == "true"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "registration-errors.png"), full_page=True)

    page.get_by_label("Full name").fill("Chiara Verdi")
    page.get_by_label("E-mail").fill("chiara.verdi@example.org")
    page.get_by_label("Organisation").fill("Cooperativa La Rete")
    page.get_by_role("button", name="Register and get my ticket").click()
    page.get_by_role("heading", name="You are registered").wait_for()
    assert "chiara.verdi@example.org" in page.content()
    page.screenshot(path=str(ARTIFACTS / "registration-confirmed.png"), full_page=True)

    assert smtp_sink.wait_for(1, timeout=30)
    received = smtp_sink.messages[0]
    assert received.envelope_to == ["chiara.verdi@example.org"]
    attendee = Attendee.objects.get(email="chiara.verdi@example.org")
    assert attendee.language == "en"
    ticket = attendee.tickets.get()
    assert pdf_qr_codes(received.attachment(".pdf")) == [services.ticket_code(ticket)]

    # The link in the e-mail opens the ticket page with the QR code on the phone.
    body = received.message.get_body(preferencelist=("plain",)).get_content()
    link = next(line for line in body.splitlines() if "/t/" in line).strip()
    page.goto(live_server.url + link[link.index("/t/"):])
    assert page.get_by_text(ticket.reference).is_visible()
    assert page.locator("figure.qr svg").is_visible()
    page.screenshot(path=str(ARTIFACTS / "ticket-page.png"), full_page=True)
    assert os.path.getsize(ARTIFACTS / "ticket-page.png") > 0
