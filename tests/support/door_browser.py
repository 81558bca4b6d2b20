"""Shared by the door page's browser tests (tests/browser/test_door_page*.py): chromium via
Playwright, a paired page at a given width, and a scanner that types like a real one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.chromium import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, launch, shot

__all__ = ["ARTIFACTS", "CHROMIUM", "CHROMIUM_ARGS", "WIDTHS", "chromium", "open_paired",
           "record_requests", "scanner_types", "shot"]

WIDTHS = {"phone": (390, 820), "desktop": (1366, 900)}


@contextmanager
def chromium(monkeypatch=None, args: list[str] | None = None) -> Iterator:
    """A chromium for the block (tests.support.chromium.launch: the shared one in
    tests/browser). ``monkeypatch`` is no longer needed; it is accepted so that callers written
    before need no change."""
    with launch(args) as browser:
        yield browser


def open_paired(browser, url: str, token: str, width: str, locale: str = "it-IT"):
    """A new context at `width` ("phone"/"desktop") with the door page paired by its link."""
    w, h = WIDTHS[width]
    context = browser.new_context(locale=locale, viewport={"width": w, "height": h})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{url}/scan/#pair={token}")
    page.wait_for_selector("#door:not([hidden])")
    page.wait_for_selector("#event-name:not(:empty)")
    return context, page, errors


def scanner_types(page, code: str) -> None:
    """A USB/Bluetooth wedge scanner: the code as fast keystrokes into whatever has focus, then
    Enter. Nothing is aimed at a field: that is the point."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def record_requests(page) -> list[str]:
    """Every request of ``page`` as it ends ("+1.23s POST /api/v1/checkin/scan/ 429", or
    "... failed: net::ERR_ABORTED" for one the page gave up on): what a failing test prints, so
    that a page that went offline is told apart from a server that answered otherwise."""
    started = time.monotonic()
    lines: list[str] = []

    def line(request, outcome: str) -> None:
        path = request.url.split("://", 1)[-1].partition("/")[2]
        lines.append(f"+{time.monotonic() - started:.2f}s {request.method} /{path} {outcome}")

    page.on("requestfinished", lambda r: line(r, str(r.response().status if r.response()
                                                     else "no response")))
    page.on("requestfailed", lambda r: line(r, f"failed: {r.failure}"))
    return lines
