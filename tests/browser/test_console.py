"""The organiser's day in the console, in a real browser (Debian's chromium, Playwright):
log in, open the event home from the event list, add a door device and pair the door page
with the link shown, import a CSV with one bad row (see the preview, fix the file, import),
send the tickets and watch the counts change, resend one, revoke one; then every other page
of the console. Every page is checked by axe-core (no violation) and, at 1,366 px, for
horizontal overflow; screenshots at 1,366 px and 390 px go to test-artifacts/.
"""

from __future__ import annotations

import re

import pytest

from checkin import services as checkin_services
from tests.support.axe import assert_no_axe_violations
from tests.support.checkin import Door
from tests.support.chromium import shot
from tests.support.console import console_pages
from tickets import onboarding, services
from tickets.models import Attendee, Delivery, Ticket, TicketType

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDE, PHONE = {"width": 1366, "height": 900}, {"width": 390, "height": 844}


def _overflow(page) -> int:
    """Pixels the page is wider than the window (0: no horizontal scrolling)."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")


def check(page, name: str, phone=None) -> None:
    """axe finds nothing, nothing overflows at 1,366 px; screenshots at both widths."""
    assert_no_axe_violations(page, name)
    assert _overflow(page) == 0, f"{name}: {_overflow(page)} px wider than 1,366"
    shot(page, f"console-{name}-1366", full_page=True)
    if phone is not None:
        phone.goto(page.url)
        shot(phone, f"console-{name}-390", full_page=True)


def _login(page, base: str) -> None:
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "organizzatrice")
    page.fill("#id_password", "una-password-lunga")
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


def test_the_organisers_day(live_server, browser, settings, organiser, event, smtp_sink):
    settings.VARCO_SEND_ON_ISSUE = False  # registered before the day: sent from the console
    user, _, _ = onboarding.create_staff_user(organiser, "organizzatrice", "o@example.org",
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
    token = page.inner_text("code.varco-token")
    assert link.startswith(f"{base}/scan/#pair=")
    assert_no_axe_violations(page, "pairing")
    shot(page, "console-pairing-1366", full_page=True)
    door = browser.new_context(locale="it-IT", viewport=PHONE).new_page()
    door.goto(link)
    door.wait_for_selector("#door:not([hidden])")
    door.wait_for_selector("#device-name:not(:empty)")
    assert door.inner_text("#device-name") == "Telefono 1 · Porta A"
    door.context.close()

    # Import attendees from a CSV with one bad row: the preview names it, nothing is written;
    # the fixed file's preview shows the rows, and importing it registers them.
    page.goto(home)
    page.click(f"a[href='/admin/tickets/event/{event.pk}/import/']")
    check(page, "import", phone)
    header = "nome;email;organizzazione;tipo\n"
    good = "Anna Neri;anna@example.org;Coop Il Sole;Pass completo\n"
    page.set_input_files("#id_file", files=[{
        "name": "iscritti.csv", "mimeType": "text/csv",
        "buffer": (header + good + "Bruno Blu;bruno(at)example.org;;Pass completo\n").encode()}])
    page.click(".varco-import-upload button[type=submit]")
    page.wait_for_selector("#import-errors")
    bad_rows = page.inner_text("#import-errors tbody")
    assert re.search(r"^3\s+e-mail\s+Indirizzo e-mail non valido", bad_rows, re.M), bad_rows
    assert page.locator(".varco-import-confirm").count() == 0  # nothing to commit yet
    assert_no_axe_violations(page, "import-errors")
    assert _overflow(page) == 0
    shot(page, "console-import-errors-1366", full_page=True)
    assert Attendee.objects.filter(event=event).count() == 3
    page.set_input_files("#id_file", files=[{
        "name": "iscritti.csv", "mimeType": "text/csv",
        "buffer": (header + good + "Bruno Blu;bruno@example.org;;Pass completo\n").encode()}])
    page.click(".varco-import-upload button[type=submit]")
    page.wait_for_selector("#import-rows")
    assert page.locator("#import-rows tbody tr").count() == 2
    assert_no_axe_violations(page, "import-preview")
    assert _overflow(page) == 0
    shot(page, "console-import-preview-1366", full_page=True)
    page.click(".varco-import-confirm button")
    page.wait_for_selector(".messagelist")
    assert "2 partecipanti importati" in page.inner_text(".messagelist")
    assert Attendee.objects.filter(event=event).count() == 5

    # Send every ticket: the counts change on the page by themselves (it polls).
    page.goto(home)
    assert page.inner_text("[data-figure=registrations]") == "5"
    assert page.inner_text("[data-figure=not_sent]") == "5"
    page.click("form[action$='/send/'] button")
    page.wait_for_selector(".messagelist")
    page.wait_for_function(
        "() => document.querySelector('[data-figure=sent]').textContent === '5'",
        timeout=15000)
    assert page.inner_text("[data-figure=not_sent]") == "0"
    assert smtp_sink.count() == 5
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

    # The door scans Giulia in and refuses Zoë's revoked ticket: the scan log says who, at
    # which gate, with what answer and why, on one 1,366 px screen.
    door_api = Door(token, checkin_list)
    assert door_api.scan(services.ticket_code(tickets[0]))["status"] == "ok"
    assert door_api.scan(services.ticket_code(Ticket.objects.get(pk=tickets[2].pk))
                         )["status"] != "ok"
    page.goto(f"{base}/admin/checkin/scanlog/")
    rows = page.inner_text("#result_list tbody")
    assert "Giulia Rossi" in rows and "Zoë Verdi" in rows and "Porta A" in rows, rows
    check(page, "scans", phone)

    # Every other page of the console (tests/support/console.py: each app, each model's
    # list, add form and first change form, the event's pages, the log), named by its path.
    seen = {page.url}
    for path in console_pages(user, event):
        if f"{base}{path}" in seen:
            continue
        seen.add(f"{base}{path}")
        page.goto(f"{base}{path}")
        assert page.locator("#content").count() == 1, path  # a console page, not an error
        check(page, re.sub(r"[^a-z0-9]+", "-", path.removeprefix("/admin/")).strip("-")
              or "index", phone)
    assert len(seen) > 30
    assert errors == []
    context.close()
    phone_context.close()
