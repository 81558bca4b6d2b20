"""Debian's chromium driven by Playwright: the one place the tests start it.

Starting Playwright's driver and a chromium costs 5-8 s on a busy CI machine, more than most
browser tests take, so tests/browser shares one of each (``shared``, started by an autouse
package fixture in tests/browser/conftest.py): every test gets the same ``Browser`` and opens
contexts of its own (fresh cookies, storage and service workers), which are closed after the
test (``close_contexts``) so that no page keeps polling or streaming into the next test.

A test that needs other command-line switches (the fake camera) launches a browser of its own
from the same driver with ``launch(args)``; outside tests/browser ``launch`` starts a driver of
its own, as every test did before.

Playwright's sync API keeps an asyncio loop marked as running in the main thread while it is
started, and Django then refuses the ORM calls the test itself makes (set-up, assertions) as if
they came from async code. None of Django's code runs in that loop, so the guard is lifted
(``DJANGO_ALLOW_ASYNC_UNSAFE``) exactly as long as a driver is started.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# VARCO_CHROMIUM (and CHROMIUM, the name some tests read before) pick another binary.
CHROMIUM = os.environ.get("VARCO_CHROMIUM") or os.environ.get("CHROMIUM") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


class _Driver:
    """The started Playwright driver and its default browser (one per package run)."""

    def __init__(self) -> None:
        self.playwright = None
        self._manager = None
        self._browser = None

    @property
    def started(self) -> bool:
        return self.playwright is not None

    def start(self) -> None:
        from playwright.sync_api import sync_playwright

        if not shutil.which(CHROMIUM):
            pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium")
        self._manager = sync_playwright()
        self.playwright = self._manager.__enter__()

    def browser(self):
        """The shared browser, launched again if it went away (a crash must not fail every
        later test)."""
        if self._browser is None or not self._browser.is_connected():
            self._browser = _launch(self.playwright, [])
        return self._browser

    def close_contexts(self) -> None:
        if self._browser is not None and self._browser.is_connected():
            for context in list(self._browser.contexts):
                context.close()

    def stop(self) -> None:
        try:
            if self._browser is not None and self._browser.is_connected():
                self._browser.close()
        finally:
            self._browser = None
            manager, self._manager, self.playwright = self._manager, None, None
            if manager is not None:
                manager.__exit__(None, None, None)


shared = _Driver()


def _launch(playwright, args: list[str]):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=[*CHROMIUM_ARGS, *args])


@contextmanager
def async_unsafe_allowed() -> Iterator[None]:
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@contextmanager
def driver() -> Iterator[_Driver]:
    """Start the shared driver for as long as the block runs (tests/browser/conftest.py)."""
    with async_unsafe_allowed():
        shared.start()
        try:
            yield shared
        finally:
            shared.stop()


@contextmanager
def launch(args: list[str] | None = None) -> Iterator:
    """A chromium for one block: the shared one (left open) when the shared driver runs and no
    extra ``args`` are asked for; else one launched for the block and closed after it."""
    if shared.started:
        if not args:
            yield shared.browser()
            return
        browser = _launch(shared.playwright, args)
        try:
            yield browser
        finally:
            browser.close()
        return
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium")
    with async_unsafe_allowed(), sync_playwright() as playwright:
        browser = _launch(playwright, args or [])
        try:
            yield browser
        finally:
            browser.close()


def shot(page, name: str, *, full_page: bool = False) -> None:
    """A screenshot of ``page`` saved as test-artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def new_page(browser, width: int, height: int = 844, locale: str = "en-GB", **context_args):
    """A page in a new context of ``browser``, ``width`` x ``height`` px, in ``locale``."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale=locale,
                                  **context_args)
    return context.new_page()


def log_in(page, url: str, username: str, password: str) -> None:
    """Open ``url`` (a page behind the log-in), log in on the form it redirects to, and wait
    until the browser is back on ``url``."""
    page.goto(url)
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(url)
