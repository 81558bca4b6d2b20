"""The organiser's day in the console, in a real browser (Debian's chromium, Playwright):
log in, open the event home from the event list, add a door device and pair the door page
with the link shown, send the tickets and watch the counts change, resend one, revoke one.
Every console page visited is checked by axe-core (no violation) and, at 1,366 px, for
horizontal overflow; screenshots at 1,366 px and 390 px go to test-artifacts/.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from checkin import services as checkin_services
from tests.support.axe import assert_no_axe_violations
from tickets import onboarding, services
from tickets.models import Delivery, Ticket, TicketType

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = os.environ.get("VARCO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
WIDE, PHONE = {"width": 1366, "height": 900}, {"width": 390, "height": 844}


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop in this thread; the ORM calls the test makes
    # meanwhile are ordinary blocking calls (the live server answers from its own thread).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _overflow(page) -> int:
    """Pixels the page is wider than the window (0: no horizontal scrolling)."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")


def check(page, name: str, phone=None) -> None:
    """axe finds nothing, nothing overflows at 1,366 px; screenshots at both widths."""
    ARTIFACTS.mkdir(exist_ok=True)
    assert_no_axe_violations(page, name)
    assert _overflow(page) == 0, f"{name}: {_overflow(page)} px wider than 1,366"
    page.screenshot(path=str(ARTIFACTS / f"console-{name}-1366.png"), full_page=True)
    if phone is not None:
        phone.goto(page.url)
        phone.screenshot(path=str(ARTIFACTS / f"console-{name}-390.png"), full_page=True)


def _login(page, base: str) -> None:
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "organizzatrice")
    page.fill("#id_password", "una-password-lunga")
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


def test_the_organisers_day(live_server, browser, settings, organiser, event, smtp_sink):
    settings.VARCO_SEND_ON_ISSUE = False  # registered before the day: sent from the console
    onboarding.create_staff_user(organiser, "organizzatrice", "o@example.org",
                                 "una-password-lunga")
    checkin_list = checkin_services.create_list(event, "Ingresso principale")
    ticket_type = TicketType.objects.create(event=event, name="Pass completo",
                                            name_i18n={"en": "Full pass"})
    people = [("Giulia Rossi", "giulia@example.org"), ("Marco Bianchi", "marco@example.org"),
              ("Zoë Verdi", "zoe@example.org")]
    tickets = [services.register(event, services.Registration(
        name, email, "Coop Il Sole", "it", ticket_type_id=ticket_type.pk))
        for name, email in people]
    base = live_server.url
    context = browser.new_context(locale="it-IT", viewport=WIDE)
    phone_context = browser.new_context(locale="it-IT", viewport=PHONE)
    page, phone = context.new_page(), phone_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, base)
    _login(phone, base)
    check(page, "index", phone)

    # The event list links each event's home.
    page.goto(f"{base}/admin/tickets/event/")
    check(page, "events", phone)
    page.click(f"a[href='/admin/events/{event.pk}/']")
    page.wait_for_selector("[data-figures-url]")
    assert page.inner_text("[data-figure=registrations]") == "3"
    assert page.inner_text("[data-figure=not_sent]") == "3"
    assert "Invia tutti i biglietti non ancora inviati" in page.content()
    check(page, "event-home", phone)
    home = page.url

    # A door device: the pairing page's link, opened on a "phone", pairs the door page.
    page.click(f"a[href='/admin/events/{event.pk}/devices/add/']")
    check(page, "add-device", phone)
    page.fill("#id_name", "Telefono 1")
    page.fill("#id_gate", "Porta A")
    page.click("input[type=submit]")
    link = page.get_attribute("a.varco-pairing-link", "href")
    assert link.startswith(f"{base}/scan/#pair=")
    assert_no_axe_violations(page, "pairing")
    page.screenshot(path=str(ARTIFACTS / "console-pairing-1366.png"), full_page=True)
    door = browser.new_context(locale="it-IT", viewport=PHONE).new_page()
    door.goto(link)
    door.wait_for_selector("#door:not([hidden])")
    door.wait_for_selector("#device-name:not(:empty)")
    assert door.inner_text("#device-name") == "Telefono 1 · Porta A"
    door.context.close()

    # Send every ticket: the counts change on the page by themselves (it polls).
    page.goto(home)
    page.click("form[action$='/send/'] button")
    page.wait_for_selector(".messagelist")
    page.wait_for_function(
        "() => document.querySelector('[data-figure=sent]').textContent === '3'",
        timeout=15000)
    assert page.inner_text("[data-figure=not_sent]") == "0"
    assert smtp_sink.count() == 3
    check(page, "event-home-sent", phone)

    # The attendee list: resend one, revoke one (the changelist's bulk actions).
    page.goto(f"{base}/admin/tickets/attendee/?event__id__exact={event.pk}")
    check(page, "attendees", phone)
    marco, zoe = tickets[1].attendee, tickets[2].attendee
    page.check(f"input[name=_selected_action][value='{marco.pk}']")
    page.select_option("select[name=action]", "resend_tickets")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    assert "1 e-mail del biglietto accodata." in page.inner_text(".messagelist")
    assert Delivery.objects.filter(ticket=tickets[1], reason="resend").exists()
    page.check(f"input[name=_selected_action][value='{zoe.pk}']")
    page.select_option("select[name=action]", "revoke_tickets")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    assert "1 biglietto revocato." in page.inner_text(".messagelist")
    assert Ticket.objects.get(pk=tickets[2].pk).status == "revoked"
    page.goto(home)
    assert page.inner_text("[data-figure=revoked]") == "1"

    # The other lists and forms an organiser opens that day.
    for name, path in (("deliveries", "/admin/tickets/delivery/"),
                       ("scans", "/admin/checkin/scanlog/"),
                       ("devices", "/admin/checkin/device/"),
                       ("device-form", "/admin/checkin/device/add/"),
                       ("list-form", f"/admin/checkin/checkinlist/{checkin_list.pk}/change/"),
                       ("event-form", f"/admin/tickets/event/{event.pk}/change/"),
                       ("ticket-type-form", f"/admin/tickets/tickettype/{ticket_type.pk}/change/"),
                       ("attendee-form", f"/admin/tickets/attendee/{marco.pk}/change/"),
                       ("import", f"/admin/tickets/event/{event.pk}/import/"),
                       ("audit-log", f"/admin/audit/auditentry/?event_id={event.pk}"),
                       ("badge-layouts", "/admin/badges/badgelayout/"),
                       ("badge-layout-form", "/admin/badges/badgelayout/add/")):
        page.goto(f"{base}{path}")
        check(page, name, phone)
    assert errors == []
    context.close()
    phone_context.close()
