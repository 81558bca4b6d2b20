"""The badge layout admin in a real Chromium, at 1,366 px (Italian) and 390 px (English): add a
layout, find it in the list, and open its sample badge. Screenshots go to test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest

from badges.models import BadgeLayout
from tests.browser.test_pages import Watched, log_in, world  # noqa: F401 (fixtures)
from tests.support.ticket_files import pdf_text

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.mark.parametrize(("width", "height", "language", "saved"), [
    (1366, 900, "it-IT", "aggiunto"),
    (390, 844, "en-GB", "added"),
])
def test_add_a_layout_and_preview_it(world, browser, live_server, width,  # noqa: F811
                                     height, language, saved):
    watched = Watched(browser, live_server.url)
    watched.context.close()
    watched.context = browser.new_context(viewport={"width": width, "height": height},
                                           locale=language)
    watched.page = watched.context.new_page()
    watched.page.on("pageerror", lambda error: watched.console.append(f"pageerror: {error}"))
    try:
        log_in(watched)
        watched.visit("/admin/badges/badgelayout/add/")
        page = watched.page
        page.select_option("#id_event", str(world["event"].pk))
        page.fill("#id_name", "Etichette")
        page.select_option("#id_preset", "ql-62x100")
        page.check("#id_show_lead_qr")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"badges-admin-add-{width}.png"), full_page=True)
        page.click("input[name=_save]")
        page.wait_for_url("**/admin/badges/badgelayout/")
        assert saved in page.locator(".messagelist").inner_text().lower()
        layout = BadgeLayout.objects.get(name="Etichette")
        assert (layout.preset, layout.show_lead_qr) == ("ql-62x100", True)
        # nothing sticks out of a phone's screen
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1 or width > 400
        page.screenshot(path=str(ARTIFACTS / f"badges-admin-list-{width}.png"), full_page=True)
        link = page.locator(f"a[href='/admin/badges/badgelayout/{layout.pk}/preview.pdf']")
        assert link.count() == 1
        response = page.request.get(live_server.url + link.get_attribute("href"))
        assert response.status == 200 and response.headers["content-type"] == "application/pdf"
        assert "Giulia Rossi" in pdf_text(response.body())
        assert watched.console == []
    finally:
        watched.context.close()
