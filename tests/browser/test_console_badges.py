"""Bulk badge printing in the console, in a real Chromium (issue 15 item 4): the organiser
picks an order and a filter, the progress bar fills as the badges are drawn, and the PDF
downloads. axe-core finds nothing, nothing overflows at 1,366 px (Italian) or 390 px
(English); screenshots go to test-artifacts/console-badges-*.png."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from badges import printing
from console import badges as console_badges
from tests.support.axe import assert_no_axe_violations
from tests.support.door_browser import ARTIFACTS, chromium
from tests.support.ticket_files import pdf_page_texts
from tickets import onboarding, services
from tickets.models import TicketType

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAMES = ["Zeno Adami", "Ángela Zamora", "Bruno Conti", "Carla Bianchi", "Dario Esposito"]


def _overflow(page) -> int:
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")


@pytest.mark.parametrize(("width", "locale", "ready"), [
    (1366, "it-IT", "5 badge pronti."),
    (390, "en-GB", "5 badges ready."),
])
def test_print_every_badge_with_progress(live_server, monkeypatch, settings, organiser, event,
                                         width, locale, ready):
    settings.VARCO_SEND_ON_ISSUE = False
    monkeypatch.setattr(console_badges, "PROGRESS_SECONDS", 0)  # every badge reported
    drawing = printing.drawing

    def slow_drawing(*args, **kwargs):
        # A badge every 0.1 s, as a large event's would come: each progress line reaches the
        # browser on its own (five fast lines may arrive in one read and move the bar once).
        for count in drawing(*args, **kwargs):
            time.sleep(0.1)
            yield count

    monkeypatch.setattr(printing, "drawing", slow_drawing)
    onboarding.create_staff_user(organiser, "organizzatrice", "o@example.org",
                                 "una-password-lunga")
    ticket_type = TicketType.objects.create(event=event, name="Pass completo",
                                            name_i18n={"en": "Full pass"})
    for index, name in enumerate(NAMES):
        services.register(event, services.Registration(
            name, f"p{index}@example.org", "Coop Il Sole", "it", ticket_type_id=ticket_type.pk))
    with chromium(monkeypatch) as browser:
        context = browser.new_context(locale=locale, accept_downloads=True,
                                      viewport={"width": width, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "organizzatrice")
        page.fill("#id_password", "una-password-lunga")
        page.click("input[type=submit]")
        page.wait_for_selector("#user-tools")
        page.goto(f"{live_server.url}/admin/events/{event.pk}/")
        page.click(f"a[href='/admin/events/{event.pk}/badges/']")
        page.wait_for_selector("form[data-bulk-badges]")
        assert_no_axe_violations(page, f"console-badges-form-{width}")
        page.select_option("#id_sort", "surname")
        # Every line of the stream moves the bar: record its values as they come.
        page.evaluate("""() => {
            window.__seen = [];
            const bar = document.querySelector('.console-bulk-status progress');
            new MutationObserver(() => window.__seen.push(bar.value))
                .observe(bar, {attributes: true, childList: true, characterData: true,
                               subtree: true});
        }""")
        with page.expect_download() as download:
            page.click("form[data-bulk-badges] [type=submit]")
        pdf = Path(download.value.path()).read_bytes()
        assert download.value.suggested_filename == f"{event.slug}-badges.pdf"
        assert page.locator("[data-bulk-message]").inner_text() == ready
        bar = page.locator(".console-bulk-status progress")
        assert (bar.evaluate("b => b.value"), bar.evaluate("b => b.max")) == (5, 5)
        seen = page.evaluate("window.__seen")
        assert {1, 2, 3, 4, 5} <= set(seen), seen  # the bar moved badge by badge
        pages = ["".join(text.split()) for text in pdf_page_texts(pdf)]
        surnames = ["ZenoAdami", "CarlaBianchi", "BrunoConti", "DarioEsposito", "ÁngelaZamora"]
        assert [next(n for n in surnames if n in p) for p in pages] == surnames
        assert_no_axe_violations(page, f"console-badges-done-{width}")
        assert _overflow(page) == 0
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"console-badges-{width}.png"), full_page=True)
        assert errors == []
        context.close()
