"""Shared by the door page's browser tests (tests/browser/test_door_page*.py): chromium via
Playwright, a paired page at a given width, and a scanner that types like a real one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
WIDTHS = {"phone": (390, 820), "desktop": (1366, 900)}


@contextmanager
def chromium(monkeypatch, args: list[str] | None = None) -> Iterator:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop in this thread; the ORM calls the test makes
    # meanwhile are ordinary blocking calls (the live server answers from its own thread).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + (args or [])
        )
        try:
            yield browser
        finally:
            browser.close()


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


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
