"""The console's print on arrival in Chromium: from the event home add a print station, pair
the print station page with the link shown, set a list to print badges, read the jobs (a
failure and a badge in doubt) and reprint one with a reason. axe-core on each page, no
horizontal overflow at 1,366 px; screenshots at 1,366 and 390 px in test-artifacts/."""

from __future__ import annotations

import pytest
from django.utils import timezone

from badges import services as badge_services
from badges.models import JobState, PrintJob, PrintStation
from tests.support.axe import assert_no_axe_violations
from tests.support.checkin import make_list
from tests.support.door_browser import ARTIFACTS, chromium
from tickets import onboarding, services
from tickets.models import TicketType

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _check(page, phone, name: str) -> None:
    assert_no_axe_violations(page, name)
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow == 0, f"{name}: {overflow} px wider than 1,366"
    # and a list's table needs no scrolling of its own
    assert page.evaluate("""() => [...document.querySelectorAll('#changelist .results')]
        .every((box) => box.scrollWidth <= box.clientWidth)"""), name
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-{name}-1366.png"), full_page=True)
    phone.goto(page.url)
    phone.screenshot(path=str(ARTIFACTS / f"console-{name}-390.png"), full_page=True)


def test_stations_lists_jobs_and_a_reprint(live_server, monkeypatch, settings, organiser,
                                           event):
    settings.VARCO_SEND_ON_ISSUE = False
    onboarding.create_staff_user(organiser, "organizzatrice", "o@example.org",
                                 "una-password-lunga")
    ticket_type = TicketType.objects.create(event=event, name="Pass completo")
    tickets = [services.register(event, services.Registration(
        name, f"p{i}@example.org", "Cooperativa Sociale Il Sole di Milano", "it",
        ticket_type_id=ticket_type.pk))
        for i, name in enumerate(["Giulia Rossi", "Marco Bianchi"])]
    checkin_list = make_list(event, "Ingresso principale")
    layout = badge_services.create_layout(event, name="Etichetta 62 x 100", preset="ql-62x100")
    base = live_server.url
    with chromium(monkeypatch) as browser:
        context = browser.new_context(locale="it-IT", viewport={"width": 1366, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{base}/admin/login/")
        page.fill("#id_username", "organizzatrice")
        page.fill("#id_password", "una-password-lunga")
        page.click("input[type=submit]")
        page.wait_for_selector("#user-tools")
        phone = context.browser.new_context(
            locale="en-GB", viewport={"width": 390, "height": 844},
            storage_state=context.storage_state()).new_page()

        page.goto(f"{base}/admin/events/{event.pk}/")
        page.click("text=Aggiungi una stazione di stampa")
        page.wait_for_selector("#id_gates_text")
        assert page.locator("#id_event").input_value() == str(event.pk)
        _check(page, phone, "print-station-add")
        page.fill("#id_name", "Stampante ingresso")
        page.fill("#id_gates_text", "Porta A\nPorta B")
        page.click("input[name=_save]")
        link = page.locator("a.varco-pairing-link")
        link.wait_for()
        assert link.get_attribute("href").startswith(f"{base}/print/#pair=vp_")
        assert page.locator(".varco-pairing-qr svg").count() == 1
        assert_no_axe_violations(page, "print-station-token")
        page.screenshot(path=str(ARTIFACTS / "console-print-station-token-1366.png"))
        # The browser next to the printer opens the link: paired.
        station_page = browser.new_context(locale="it-IT").new_page()
        station_page.goto(link.get_attribute("href"))
        station_page.wait_for_selector("#connection[data-state=online]")
        assert station_page.locator("#station-name").inner_text() == "Stampante ingresso"
        station_page.context.close()
        station = PrintStation.objects.get(name="Stampante ingresso")

        page.goto(f"{base}/admin/badges/listprinting/add/")
        page.select_option("#id_checkin_list", str(checkin_list.pk))
        page.select_option("#id_layout", str(layout.pk))
        _check(page, phone, "list-printing-add")
        page.click("input[name=_save]")
        page.wait_for_selector(".messagelist")
        assert checkin_list.badge_printing.layout == layout

        now = timezone.now()
        PrintJob.objects.create(event=event, station=station, ticket=tickets[0], layout=layout,
                                gate="Porta A", state=JobState.FAILED, attempt=5,
                                last_error="CUPS: client-error-not-possible (printer "
                                           "'badges-porta-a' is stopped: out of labels)")
        PrintJob.objects.create(event=event, station=station, ticket=tickets[1], layout=layout,
                                gate="Porta B", state=JobState.IN_DOUBT, attempt=1,
                                claim_token="x" * 32, claimed_at=now, handed_at=now)
        page.goto(f"{base}/admin/events/{event.pk}/")
        page.click("text=Badge non riusciti o in dubbio")
        page.wait_for_selector("#result_list")
        assert page.locator("#result_list tbody tr").count() == 2
        assert "out of labels" in page.locator("#result_list").inner_text()
        _check(page, phone, "print-jobs")

        page.goto(f"{base}/admin/tickets/attendee/?event__id__exact={event.pk}")
        page.check(f"input[name=_selected_action][value='{tickets[0].attendee_id}']")
        page.select_option("select[name=action]", "reprint_badges")
        page.click("button[name=index]")
        page.wait_for_selector("#id_reason")
        _check(page, phone, "reprint")
        page.fill("#id_reason", "badge perso")
        page.click("input[type=submit].default")
        page.wait_for_selector(".messagelist")
        job = PrintJob.objects.get(reprint=True)
        assert (job.ticket_id, job.station_id, job.reason) == (tickets[0].pk, station.pk,
                                                              "badge perso")
        assert errors == []
        context.close()
