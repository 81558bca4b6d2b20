"""The admin, the API docs and the browsable API work in a real browser under the security
headers: Debian's chromium driven by Playwright against a live server.

A page the Content-Security-Policy breaks still loads, so "it rendered" proves little: each
page records every ``securitypolicyviolation`` event and console error, and a test first shows
that an inline script is indeed refused and recorded.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.chromium import shot
from tests.support.factories import make_event
from tickets import onboarding, services
from tickets.models import TicketType

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Recorded in the page before any of its own scripts run.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


class Watched:
    """A page with its CSP violations, console errors and uncaught exceptions."""

    def __init__(self, browser, base_url: str) -> None:
        self.context = browser.new_context(locale="en-GB")
        self.page = self.context.new_page()
        self.base_url = base_url
        self.console: list[str] = []
        self.page.add_init_script(WATCH_CSP)
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))

    def _on_console(self, message) -> None:
        text = message.text
        # The browser asks for /favicon.ico by itself; the admin has none. Any other failed
        # resource is reported by the response check in visit().
        if message.type == "error" and not text.startswith("Failed to load resource"):
            self.console.append(text)
        if "Permissions-Policy" in text or "Content Security Policy" in text:
            self.console.append(text)

    def visit(self, path: str) -> None:
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.status == 200, (path, response)
        self.page.wait_for_load_state("networkidle")

    def violations(self) -> list[str]:
        return self.page.evaluate("window.__csp")

    def assert_clean(self, where: str) -> None:
        assert self.violations() == [], where
        assert self.console == [], where


@pytest.fixture
def world(db):
    team = services.create_organiser("Fondazione Browser", "fondazione-browser")
    user, _, _ = onboarding.create_staff_user(team, "browser", "b@example.org",
                                              "a-long-test-password")
    event = make_event(team, slug="browser-conf")
    TicketType.objects.create(event=event, name="Ingresso", name_i18n={"en": "Admission"})
    ticket = services.register(event, services.Registration("Giulia Rossi",
                                                            "giulia@example.org"))
    return {"user": user, "event": event, "ticket": ticket}


@pytest.fixture
def watched(browser, live_server) -> Iterator[Watched]:
    page = Watched(browser, live_server.url)
    yield page
    page.context.close()


def log_in(watched: Watched) -> None:
    watched.visit("/admin/login/")
    watched.page.fill("#id_username", "browser")
    watched.page.fill("#id_password", "a-long-test-password")
    watched.page.click("input[type=submit]")
    watched.page.wait_for_url("**/admin/")


def test_the_watch_sees_a_refused_inline_script(world, watched):
    watched.visit("/admin/login/")
    ran = watched.page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.__ran = true";
        document.body.appendChild(script);
        return window.__ran === true;
    }""")
    assert ran is False
    watched.page.wait_for_function("window.__csp.length > 0")
    assert any(v.startswith("script-src") for v in watched.violations())


def test_api_docs_work(world, watched):
    watched.visit("/api/docs/")
    watched.page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    assert "Varco API" in watched.page.inner_text(".swagger-ui .info")
    assert watched.page.locator(".opblock").count() >= 20
    # expanding an operation runs the UI's scripts on the schema
    watched.page.locator(".opblock-summary").first.click()
    watched.page.wait_for_selector(".opblock-body", timeout=10_000)
    watched.assert_clean("/api/docs/")


def test_admin_login_and_pages_work(world, watched):
    log_in(watched)
    assert watched.page.locator("a[href='/admin/tickets/event/']").count() > 0
    event, ticket = world["event"], world["ticket"]
    for path in ("/admin/", "/admin/tickets/event/", f"/admin/tickets/event/{event.pk}/change/",
                 "/admin/tickets/attendee/", "/admin/tickets/attendee/add/",
                 f"/admin/tickets/attendee/{ticket.attendee_id}/change/",
                 "/admin/tickets/ticket/"):
        watched.visit(path)
        assert watched.page.url.endswith(path), (path, watched.page.url)  # not sent to log in
        assert watched.page.locator("#content").count() == 1, path
    # the admin's own scripts run: the date-time shortcuts on the event form
    watched.visit(f"/admin/tickets/event/{event.pk}/change/")
    assert watched.page.locator(".datetimeshortcuts").count() > 0
    # and the changelist's "select all" checkbox (actions.js) works
    watched.visit("/admin/tickets/attendee/")
    watched.page.check("#action-toggle")
    assert watched.page.locator("input.action-select:checked").count() == 1
    watched.assert_clean("admin")


def test_checkin_admin_pages_work(world, watched):
    log_in(watched)
    for path in ("/admin/checkin/checkinlist/", "/admin/checkin/device/",
                 "/admin/checkin/scanlog/", "/admin/tickets/delivery/"):
        watched.visit(path)
        assert watched.page.url.endswith(path), (path, watched.page.url)
    watched.assert_clean("check-in admin")


def test_public_and_door_pages_work(world, watched):
    """The pages attendees and door staff open, under the same policy."""
    event = world["event"]
    watched.visit(f"/e/{event.slug}/register/")
    watched.page.click("button[type=submit]")  # empty form: errors shown, focus moves to them
    watched.page.wait_for_selector("#errors")
    assert watched.page.evaluate("document.activeElement.id") == "errors"
    watched.visit("/scan/")
    # the inline stylesheet (allowed by its nonce) applies: the page is dark
    background = watched.page.evaluate(
        "getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(17, 17, 17)", background
    watched.assert_clean("public and door pages")


def test_dashboard_works(world, watched):
    log_in(watched)
    event = world["event"]
    watched.visit(f"/events/{event.pk}/dashboard/")
    watched.page.wait_for_selector("#chart svg", timeout=10_000)
    watched.assert_clean("dashboard")


def test_browsable_api_works(world, watched):
    log_in(watched)
    event = world["event"]
    watched.visit(f"/api/v1/events/{event.pk}/attendees/")
    assert "Giulia Rossi" in watched.page.content()
    watched.assert_clean("browsable API")


def test_camera_is_allowed_here_and_other_features_are_not(world, watched):
    watched.visit("/admin/login/")
    allowed = watched.page.evaluate("""() => Object.fromEntries(
        ["camera", "microphone", "geolocation", "payment", "usb"].map(
            (f) => [f, document.featurePolicy.allowsFeature(f)]))""")
    assert allowed == {"camera": True, "microphone": False, "geolocation": False,
                       "payment": False, "usb": False}
    watched.assert_clean("permissions policy")


def _no_horizontal_overflow(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_import_attendees_with_a_preview(world, watched, tmp_path):
    """The organiser uploads a CSV with a bad row, sees it (line, column, reason) and the rows
    that would be created, uploads the fixed file and imports it: issue 12, item 5."""
    from tickets.models import Attendee

    bad = tmp_path / "ospiti.csv"
    bad.write_text("nome;email;ente\nAnna Neri;anna@example.org;Coop\n"
                   "Bruno Blu;bruno(at)example.org;\nCarla Gialli;carla@example.org;Caritas\n")
    good = tmp_path / "ospiti-corretto.csv"
    good.write_text(bad.read_text().replace("bruno(at)example.org", "bruno@example.org"))
    event = world["event"]
    page = watched.page
    page.set_viewport_size({"width": 1366, "height": 900})
    log_in(watched)
    watched.visit(f"/admin/tickets/event/{event.pk}/change/")
    page.click(f"a[href='/admin/tickets/event/{event.pk}/import/']")
    page.set_input_files("#id_file", str(bad))
    page.click("form.varco-import-upload button[type=submit]")
    errors = page.locator("#import-errors tbody tr")
    assert errors.count() == 1
    assert [c.strip() for c in errors.first.locator("td").all_inner_texts()][:2] == ["3",
                                                                                      "email"]
    assert page.locator("button[name=confirm]").count() == 0
    assert _no_horizontal_overflow(page)
    shot(page, "console-import-errors", full_page=True)
    page.set_input_files("#id_file", str(good))
    page.click("form.varco-import-upload button[type=submit]")
    assert page.locator("#import-rows tbody tr").count() == 3
    assert _no_horizontal_overflow(page)
    shot(page, "console-import-preview", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "console-import-preview-phone", full_page=True)
    assert Attendee.objects.filter(event=event).count() == 1  # the world's one person
    page.click("button[name=confirm]")
    page.wait_for_url("**/admin/tickets/attendee/**")
    assert "3 attendees imported" in page.inner_text("ul.messagelist")
    assert Attendee.objects.filter(event=event).count() == 4
    watched.assert_clean("import")
