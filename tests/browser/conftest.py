"""Fixtures of the browser tests: one Playwright driver and one chromium for the whole folder
(tests/support/chromium.py says why), a fresh context per use, nothing left open after a test."""

from __future__ import annotations

import pytest

from tests.support import chromium


@pytest.fixture(scope="package", autouse=True)
def _chromium_driver():
    with chromium.driver():
        yield


@pytest.fixture(autouse=True)
def _no_page_outlives_its_test(_chromium_driver):
    """Close every context a test opened (also when it failed half-way): a door page left open
    keeps polling the live server, a dashboard keeps its stream, into the next test."""
    yield
    chromium.shared.close_contexts()


@pytest.fixture
def browser(_chromium_driver):
    """The shared chromium (a ``playwright.sync_api.Browser``); open contexts of your own.
    They are closed when the test's own fixtures end (a dashboard's stream before the server it
    streams from stops), and again after every test."""
    yield chromium.shared.browser()
    chromium.shared.close_contexts()
