"""axe-core over every public, door and dashboard page Varco serves, at a phone's width (390 px)
and a laptop's (1,366 px): zero violations of any impact.

The pages come from the URLconfs: every named route outside the admin and the API must be
either visited below (in each state a visitor meets: the registration form and its errors, the
door page unpaired and paired, ...) or listed as not being an HTML page, so a new page cannot
be added without this pass. Screenshots: ``test-artifacts/axe-<page>-<width>.png``.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from checkin import attendance
from tests.support.axe import assert_no_axe_violations
from tests.support.checkin import Door, make_device, make_list
from tests.support.factories import make_event
from tickets import links, onboarding, services
from tickets.models import TicketType

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.timeout(300)]

WIDTHS = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1366, "height": 900}}

# Every named route outside /admin/ and /api/, by what this module does with it.
VISITED = {
    "event-register": "the form, and the form with its errors",
    "event-registered": "the confirmation after registering",
    "event-resend": "send my ticket again: the form, then its answer",
    "ticket-page": "a ticket, and a link to a revoked ticket",
    # (and the "not found" page any unknown address outside /api/ gets)
    "door": "unpaired, then paired with an answer shown",
    "attendance-dashboard": "with scans, gates and organisations",
}
# Pages whose own browser test runs axe on them in every state it reaches.
CHECKED_ELSEWHERE = {
    "print-station": "tests/browser/test_print_station.py: pairing, a badge printed, a badge "
                     "in doubt; Italian at 1,366 px and English at 390 px",
}
NOT_PAGES = {
    "home": "a redirect to the admin",
    "healthz": "a JSON health check",
    "metrics": "the operators' Prometheus metrics (text)",
    "favicon": "the site's icon",
    "ticket-pdf": "the ticket's PDF",
    "event-logo": "the event's logo (an image)",
    "door-sw": "the door page's service worker (JavaScript)",
    "door-manifest": "the door page's web app manifest (JSON)",
    "attendance-stream": "the dashboard's event stream",
    "attendance-live": "the dashboard's polling answer (JSON)",
}


def _routes(patterns, prefix: str = "") -> dict[str, str]:
    """Name -> route of every named URL pattern, recursively."""
    found = {}
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found |= _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and pattern.name:
            found[pattern.name] = route
    return found


def test_every_page_route_is_checked_or_is_not_a_page():
    routes = {
        name: route for name, route in _routes(get_resolver().url_patterns).items()
        if not route.startswith(("admin/", "api/"))
    }
    assert set(routes) == set(VISITED) | set(CHECKED_ELSEWHERE) | set(NOT_PAGES), routes
    assert not set(VISITED) & set(NOT_PAGES)
    assert not set(CHECKED_ELSEWHERE) & (set(VISITED) | set(NOT_PAGES))


@pytest.fixture
def world(organiser, settings):
    """An event happening now, with a device, attendees from many organisations, scans."""
    settings.VARCO_ATTENDANCE_TICK_MS = 0
    settings.VARCO_LIVE_HEARTBEAT_SECONDS = 1  # a closed page's stream ends quickly
    attendance.reset()
    now = timezone.now()
    event = make_event(organiser, slug="axe-conf", start=now - dt.timedelta(hours=2),
                       end=now + dt.timedelta(hours=6))
    TicketType.objects.create(event=event, name="Ingresso", name_i18n={"en": "Admission"})
    hall = make_list(event, "Sala", allow_reentry=True, allow_exit=True)
    _, token = make_device(event, [hall], name="Telefono 1", gate="Ingresso A")
    door = Door(token, hall)
    tickets = [
        services.register(event, services.Registration(
            f"Persona {n}", f"p{n}@example.org", f"Cooperativa numero {n % 7}"))
        for n in range(14)
    ]
    for ticket in tickets[:9]:
        door.scan(services.ticket_code(ticket))
    door.scan(services.ticket_code(tickets[0]))  # refused: already checked in
    door.scan("not-a-ticket")
    revoked = tickets[13]
    gone = links.ticket_token(revoked)
    services.revoke_ticket(revoked)
    user, _, _ = onboarding.create_staff_user(organiser, "axe", "axe@example.org",
                                              "a-long-test-password")
    yield {"event": event, "token": token, "ticket": tickets[1], "gone": gone,
           "code": services.ticket_code(tickets[10]), "user": user}
    attendance.reset()


def _assert_favicon(page, base: str) -> None:
    """The page links the site's icon, and the icon is served."""
    links = page.locator("link[rel=icon]")
    assert links.count() >= 1, page.url
    for k in range(links.count()):
        response = page.request.get(base + links.nth(k).get_attribute("href"))
        assert response.status == 200 and response.headers["content-type"].startswith("image/")


def _open(browser, size: str, locale: str = "it-IT"):
    context = browser.new_context(viewport=WIDTHS[size], locale=locale)
    return context, context.new_page()


@pytest.mark.parametrize("size", WIDTHS)
def test_public_pages_have_no_axe_violations(live_server, browser, world, size):
    base = live_server.url
    event = world["event"]
    context, page = _open(browser, size)
    try:
        page.goto(f"{base}/e/{event.slug}/register/")
        assert_no_axe_violations(page, f"register-{size}")
        _assert_favicon(page, base)
        # The time range stays on one line (it broke into "09:30-" / "17:00" at 390 px); an
        # event "happening now" runs past midnight when the suite runs in the evening, and then
        # each day's time is its own unbreakable piece (tickets.dates).
        line = page.evaluate(
            "() => parseFloat(getComputedStyle(document.querySelector('.when')).lineHeight)")
        pieces = page.locator(".when .nowrap").all()
        assert pieces
        for piece in pieces:
            assert piece.bounding_box()["height"] < 1.5 * line, piece.inner_text()
        page.get_by_role("button").last.click()  # nothing filled in: the error state
        page.get_by_role("alert").wait_for()
        assert_no_axe_violations(page, f"register-errors-{size}")
        page.get_by_label("Nome e cognome").fill("Chiara Verdi")
        page.get_by_label("E-mail").fill(f"chiara-{size}@example.org")
        page.get_by_label("Organizzazione").fill("Cooperativa La Rete")
        page.get_by_role("button").last.click()
        page.wait_for_url(f"**/e/{event.slug}/registered/**")
        assert_no_axe_violations(page, f"registered-{size}")
        page.goto(f"{base}/e/{event.slug}/resend/")
        assert_no_axe_violations(page, f"resend-{size}")
        page.locator("input[type=email]").fill(f"chiara-{size}@example.org")
        page.locator("button[type=submit]").click()
        page.wait_for_load_state("networkidle")
        assert_no_axe_violations(page, f"resend-sent-{size}")

        page.goto(f"{base}/t/{links.ticket_token(world['ticket'])}/?lang=en")
        assert_no_axe_violations(page, f"ticket-{size}")
        _assert_favicon(page, base)
        icon = page.request.get(f"{base}/favicon.ico")  # what browsers ask for by themselves
        assert icon.status == 200 and icon.headers["content-type"].startswith("image/")
        page.goto(f"{base}/t/{world['gone']}/")
        assert_no_axe_violations(page, f"ticket-gone-{size}")
        page.goto(f"{base}/t/not-a-token/")
        assert_no_axe_violations(page, f"ticket-invalid-{size}")
        # Any other address outside the API: the site's "not found" page.
        response = page.goto(f"{base}/e/no-such-event/register/")
        assert response.status == 404
        assert page.get_by_role("heading", name="Pagina non trovata").is_visible()
        assert_no_axe_violations(page, f"not-found-{size}")
        _assert_favicon(page, base)
    finally:
        context.close()


@pytest.mark.parametrize("size", WIDTHS)
def test_door_page_has_no_axe_violations(live_server, browser, world, size):
    context, page = _open(browser, size)
    try:
        page.goto(f"{live_server.url}/scan/")
        page.wait_for_load_state("networkidle")
        assert_no_axe_violations(page, f"door-unpaired-{size}")
        _assert_favicon(page, live_server.url)
        page.goto("about:blank")  # (a new load: a hash change alone does not pair)
        page.goto(f"{live_server.url}/scan/#pair={world['token']}")
        page.wait_for_selector("#door:not([hidden])")
        page.wait_for_selector("#event-name:not(:empty)")
        page.fill("#code", world["code"])
        page.press("#code", "Enter")
        page.wait_for_selector("#result[data-kind='ok']:not([hidden])", timeout=5000)
        assert_no_axe_violations(page, f"door-paired-{size}")
    finally:
        context.close()


@pytest.mark.parametrize("size", WIDTHS)
def test_dashboard_has_no_axe_violations(live_server, browser, world, size):
    context, page = _open(browser, size, "en-GB")
    path = f"/events/{world['event'].pk}/dashboard/"
    try:
        page.goto(live_server.url + path)
        page.fill("#id_username", "axe")
        page.fill("#id_password", "a-long-test-password")
        page.click("input[type=submit]")
        page.wait_for_url(live_server.url + path)
        page.wait_for_selector('[data-figure="checked_in"]:text-is("9")')
        page.wait_for_selector("#feed li.rejected")
        assert_no_axe_violations(page, f"dashboard-{size}")
        _assert_favicon(page, live_server.url)
        # The pace counts the scans of the last minute (it said "0/min" after a burst).
        pace = page.inner_text("#gates .pace")
        assert pace.endswith("/min") and int(pace.split("/")[0]) >= 10, pace
        stamps = page.eval_on_selector_all(
            "#feed li time", "nodes => nodes.map((n) => n.getAttribute('datetime'))")
        assert len(stamps) >= 10 and stamps == sorted(stamps, reverse=True)  # newest first
        width = WIDTHS[size]["width"]
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        charts = ("#chart-phone", "#chart")
        shown, hidden = charts if size == "phone" else charts[::-1]
        assert page.locator(f"{shown} svg").is_visible()
        assert not page.locator(f"{hidden} svg").is_visible()
        # The chart fits whole: no scrolling box, its last clock label inside the screen.
        assert page.eval_on_selector(shown, "c => c.scrollWidth <= c.clientWidth")
        box = page.locator(f"{shown} svg").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        last = page.locator(f"{shown} svg text[text-anchor=middle]").last.bounding_box()
        assert last["x"] + last["width"] <= box["x"] + box["width"]
    finally:
        context.close()
