"""Debian's Chromium on a phone (390 px) and a laptop (1,366 px): a person registers a second
time with the same address, is offered "send my ticket again", asks, and the ticket reaches the
registered address again; the ticket page shows the organiser's logo and practical
information. Screenshots are saved under test-artifacts/."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.support.chromium import new_page, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.timeout(180)]

def _fits(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", [390, 1366])
def test_send_my_ticket_again_from_the_second_registration(live_server, browser, event,
                                                           ticket_type, smtp_sink, width):
    from tickets import services

    services.register(event, services.Registration("Chiara Verdi", "chiara@example.org",
                                                   language="en"))
    assert smtp_sink.wait_for(1, timeout=30)
    page = new_page(browser, width)
    page.goto(f"{live_server.url}/e/{event.slug}/register/?lang=en")
    page.get_by_label("Full name").fill("Chiara Verdi")
    page.get_by_label("E-mail").fill("chiara@example.org")
    page.get_by_role("button", name="Register and get my ticket").click()
    alert = page.get_by_role("alert")
    assert "already registered" in alert.inner_text()
    again = alert.get_by_role("button", name="Send my ticket again")
    assert again.is_visible()
    _fits(page, width)
    shot(page, f"resend-offered-{width}", full_page=True)

    again.click()
    answer = page.get_by_role("status")
    answer.wait_for()
    assert "chiara@example.org" in answer.inner_text()
    assert "on its way to that address again" in answer.inner_text()
    _fits(page, width)
    shot(page, f"resend-sent-{width}", full_page=True)
    assert smtp_sink.wait_for(2, timeout=30)
    assert [m.envelope_to for m in smtp_sink.messages] == [["chiara@example.org"]] * 2
    assert smtp_sink.messages[0].ticket == smtp_sink.messages[1].ticket


def test_the_resend_page_in_italian_on_a_phone(live_server, browser, event):
    page = new_page(browser, 390, locale="it-IT")
    page.goto(f"{live_server.url}/e/{event.slug}/resend/")
    assert page.locator("html").get_attribute("lang") == "it"
    page.get_by_role("button", name="Inviami di nuovo il biglietto").click()
    assert page.get_by_label("E-mail").get_attribute("aria-invalid") == "true"
    page.get_by_label("E-mail").fill("qualcuno@example.org")
    page.get_by_role("button", name="Inviami di nuovo il biglietto").click()
    assert "sta arrivando di nuovo" in page.get_by_role("status").inner_text()
    _fits(page, 390)
    shot(page, "resend-page-it-390", full_page=True)


def test_the_ticket_page_shows_the_logo_and_practical_information(live_server, browser,
                                                                 organiser):
    from tests.support.factories import make_event
    from tickets import links, services
    from tickets.demo import EVENT
    from tickets.models import TicketType

    out = io.BytesIO()
    Image.new("RGB", (600, 200), (200, 30, 60)).save(out, format="PNG")
    event = make_event(organiser, slug="designed", logo=out.getvalue(), brand_color="#2a7f3b",
                       practical_info=EVENT["practical_info"])
    TicketType.objects.create(event=event, name="Ingresso", name_i18n={"en": "Admission"})
    ticket = services.register(event, services.Registration("Anna Bianchi", "a@example.org",
                                                            language="en"))
    page = new_page(browser, 390)
    page.goto(f"{live_server.url}/t/{links.ticket_token(ticket)}/")
    logo = page.get_by_role("img", name="Logo of the organiser")
    assert logo.is_visible()
    assert page.evaluate("document.querySelector('img.logo').naturalWidth") == 600
    assert page.get_by_role("heading", name="Practical information").is_visible()
    assert page.get_by_text("Corso Buenos Aires 33, Milan.").is_visible()
    assert page.get_by_role("heading", name="How to get there").is_visible()
    _fits(page, 390)
    shot(page, "ticket-page-designed-390", full_page=True)
