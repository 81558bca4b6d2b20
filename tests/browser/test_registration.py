"""Debian's Chromium (Playwright, headless) registers on the public page like a person would:
switches to English, submits an incomplete form, fixes it, sees the confirmation, and the
ticket e-mail reaches the SMTP server with a PDF whose QR code is the ticket's own.
"""

from __future__ import annotations

import os

import pytest

from tests.support.chromium import ARTIFACTS, new_page, shot
from tests.support.ticket_files import pdf_qr_codes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.timeout(120)]

def test_register_on_a_phone_and_receive_the_ticket(live_server, browser, event,
                                                    ticket_type, smtp_sink):
    from tickets import services
    from tickets.models import Attendee

    page = new_page(browser, 390, locale="it-IT")  # a phone
    page.goto(f"{live_server.url}/e/{event.slug}/register/")
    assert page.locator("html").get_attribute("lang") == "it"
    assert page.get_by_label("Nome e cognome").is_visible()
    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"

    page.get_by_role("button", name="Register and get my ticket").click()
    alert = page.get_by_role("alert")
    assert alert.is_visible() and "Please check the form" in alert.inner_text()
    assert page.get_by_label("E-mail").get_attribute("aria-invalid") == "true"
    shot(page, "registration-errors", full_page=True)

    page.get_by_label("Full name").fill("Chiara Verdi")
    page.get_by_label("E-mail").fill("chiara.verdi@example.org")
    page.get_by_label("Organisation").fill("Cooperativa La Rete")
    page.get_by_role("button", name="Register and get my ticket").click()
    page.get_by_role("heading", name="You are registered").wait_for()
    assert "chiara.verdi@example.org" in page.content()
    shot(page, "registration-confirmed", full_page=True)

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
    shot(page, "ticket-page", full_page=True)
    assert os.path.getsize(ARTIFACTS / "ticket-page.png") > 0
