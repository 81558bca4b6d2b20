"""Shared fixtures.

The suite runs on whatever ``DATABASE_URL`` says (SQLite by default). Tests marked
``postgres`` prove things only PostgreSQL can (real concurrency) and tests marked ``redis``
need a real broker: without those services they are deselected with a notice, and
``.ci/run`` runs the suite a second time with both, where a missing service is a failure.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.db import connection
from django.db.backends.base.creation import TEST_DATABASE_PREFIX
from django.utils import timezone
from rest_framework.test import APIClient

from tests.support.backends import HAS_REDIS, ON_POSTGRES
from tests.support.checkin import Door, make_device, make_list
from tests.support.factories import make_event
from tickets import onboarding, services
from tickets.models import Event, Organiser, TicketType

# Set by .ci/run for its PostgreSQL + Redis pass: a missing service fails the run instead of
# deselecting the tests that need it.
REQUIRE_SERVICES = os.environ.get("VARCO_REQUIRE_SERVICES", "") not in ("", "0")


def pytest_collection_modifyitems(config, items):
    missing = []
    if not ON_POSTGRES:
        missing.append(("postgres", "DATABASE_URL=postgres://..."))
    if not HAS_REDIS:
        missing.append(("redis", "REDIS_URL=redis://..."))
    if not missing:
        return
    if REQUIRE_SERVICES:
        raise pytest.UsageError(
            "VARCO_REQUIRE_SERVICES is set but the suite is not configured with "
            + " and ".join(hint for _, hint in missing)
        )
    keep, dropped = [], []
    for item in items:
        if any(item.get_closest_marker(m) for m, _ in missing):
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
        needs = " and ".join(hint for _, hint in missing)
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter:
            reporter.write_line(
                f"NOTE: {len(dropped)} tests need real services; run with {needs} "
                "(.ci/run does) to include them."
            )


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    """Unit tests run tasks inline; e2e tests start real worker processes instead."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from backend.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _fresh_keyring():
    from tickets.signing import keyring

    keyring.clear()
    yield
    keyring.clear()


@pytest.fixture(autouse=True)
def throttle_cache(monkeypatch):
    """Each test counts API rate limits from zero, in a cache of its own.

    The throttles count in the shared default cache (a file cache or Redis that outlives the
    test database), where user ids and 127.0.0.1 recur from test to test; tests of the
    throttles against the real cache use ``real_throttle_cache``.
    """
    import uuid

    from django.core.cache.backends.locmem import LocMemCache
    from rest_framework.throttling import SimpleRateThrottle

    cache = LocMemCache(f"throttle-{uuid.uuid4().hex}", {})
    monkeypatch.setattr(SimpleRateThrottle, "cache", cache)
    return cache


@pytest.fixture
def real_throttle_cache(monkeypatch):
    """The configured default cache, for tests proving the throttles work on it."""
    from django.core.cache import cache
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "cache", cache)
    return cache


@pytest.fixture
def organiser(db) -> Organiser:
    return services.create_organiser("Fondazione Test", "fondazione-test")


@pytest.fixture
def staff(organiser):
    user, _, token = onboarding.create_staff_user(organiser, "staff", "staff@example.org", "pw")
    user.api_token = token
    return user


@pytest.fixture
def api(staff) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {staff.api_token}")
    return client


@pytest.fixture
def event(organiser) -> Event:
    return make_event(organiser)


@pytest.fixture
def live_event(organiser) -> Event:
    """An event happening now, so that live scans fall inside its hours."""
    now = timezone.now()
    return make_event(organiser, slug="live-conf", start=now - dt.timedelta(hours=2),
                      end=now + dt.timedelta(hours=6))


@pytest.fixture
def hall(live_event):
    """The live event's main entrance: re-entry and exits allowed."""
    return make_list(live_event, "Ingresso principale", allow_reentry=True, allow_exit=True)


@pytest.fixture
def door(live_event, hall) -> Door:
    """A paired device at the hall (tests.support.checkin.Door)."""
    _, token = make_device(live_event, [hall], name="Porta A", gate="Ingresso A")
    return Door(token, hall)


@pytest.fixture
def ticket_type(event) -> TicketType:
    return TicketType.objects.create(event=event, name="Ingresso", name_i18n={"en": "Admission"})


@pytest.fixture
def register(event, ticket_type):
    """register(name, email, ...) -> Ticket, through the service every path uses."""

    def _register(name="Giulia Rossi", email="giulia@example.org", organisation="Coop Il Sole",
                  language="it", **kw):
        return services.register(
            event, services.Registration(name, email, organisation, language, **kw)
        )

    return _register


@pytest.fixture
def smtp_sink(settings):
    """A real SMTP server (aiosmtpd) on 127.0.0.1; Django sends to it over SMTP."""
    from tests.support.smtp_sink import SMTPSink

    with SMTPSink() as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = sink.port
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 10
        sink.handler.port = sink.port
        yield sink.handler

@pytest.fixture(autouse=True)
def _checkin_inline(settings):
    """Invalid-code scans are logged at once (no background flush thread) and every test
    starts with an empty device cache and a full invalid-code allowance."""
    settings.VARCO_INVALID_SCAN_FLUSH_SECONDS = 0
    from checkin.devices import device_cache
    from checkin.scanning.flood import limiter, upload_limiter

    device_cache.clear()
    limiter.reset()
    upload_limiter.reset()
    yield
    device_cache.clear()
    limiter.reset()
    upload_limiter.reset()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite, the test database is a file, not Django's default in-memory one. With an
    in-memory database the live server's request threads all share the test thread's one
    connection (Django's LiveServerThread), so two requests at once (a print station's claim
    beside a page load) used it together and failed ("sqlite3.DatabaseError: not an error",
    "bad parameter or other API misuse"): a 500 of the test set-up, not of Varco. With a file,
    each thread has its own connection, as the embedded mode's processes do."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(
            tmp_path_factory.mktemp("database") / "test.sqlite3")


@pytest.fixture(scope="session", autouse=True)
def _no_stray_connections_at_teardown(django_db_setup, django_db_blocker):
    """The scan fast path keeps its thread's database connection (gunicorn's threads live on,
    so it is reused). The test live server's request threads stay alive while the browser
    keeps its connections open, with their database sessions, which kept the test database
    from being dropped at the end ("being accessed by other users"). End them first."""
    yield
    if connection.vendor != "postgresql":
        return
    name, test_name = connection.settings_dict["NAME"], connection.settings_dict["TEST"]["NAME"]
    if name != test_name and not name.startswith(TEST_DATABASE_PREFIX):
        # No test of this run used the database (e.g. only the dashboard's end-to-end test, on
        # a database of its own): pytest-django made no test database, and DATABASE_URL's own
        # database need not even exist.
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
