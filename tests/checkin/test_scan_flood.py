"""The per-device limit on invalid codes at the scan endpoint (checkin/flood.py)."""

from __future__ import annotations

import logging
import uuid

import pytest
from django.test import Client

from checkin.models import ScanLog
from checkin.scanning import flood
from tests.support.checkin import SCAN_URL, Door, WsgiClient, make_device, make_list
from tests.support.clock import Clock
from tickets import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """checkin.scanning.flood's clocks, moved by hand: refills are exact."""
    fake = Clock()
    monkeypatch.setattr(flood.time, "monotonic", fake)
    monkeypatch.setattr(flood, "wall_clock", fake)  # the shared (Redis) buckets' clock
    return fake


@pytest.fixture
def limits(settings):
    settings.VARCO_SCAN_INVALID_RATE = 2
    settings.VARCO_SCAN_INVALID_BURST = 3
    return settings


@pytest.fixture(params=["wsgi", "django"])
def transport(request):
    return WsgiClient if request.param == "wsgi" else Client


@pytest.fixture
def doors(event, transport):
    door_list = make_list(event)
    first = Door(make_device(event, [door_list], name="Porta A")[1], door_list, transport())
    second = Door(make_device(event, [door_list], name="Porta B")[1], door_list, transport())
    return first, second


def _post(door: Door, code: str):
    return door.post(SCAN_URL, {"code": code, "list": door.list.pk, "nonce": str(uuid.uuid4())})


def test_past_the_burst_invalid_codes_get_429_and_are_not_logged(doors, limits, clock,
                                                                 register):
    door, other = doors
    for index in range(3):
        assert door.scan(f"GARBAGE-{index}")["reason"] == "invalid"
    refused = _post(door, "GARBAGE-3")
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert refused["Retry-After"] == "1"  # one code back after 0.5 s at 2/s
    assert ScanLog.objects.filter(reason="invalid").count() == 3

    # A real ticket from the same device is never limited, and is recorded as usual.
    ticket = register(name="Giulia Rossi")
    assert door.scan(services.ticket_code(ticket))["status"] == "ok"
    # Another device has its own allowance.
    assert other.scan("GARBAGE-other")["reason"] == "invalid"
    assert _post(door, "GARBAGE-4").status_code == 429

    clock.now += 0.5  # one code's worth of refill at 2/s
    assert door.scan("GARBAGE-5")["reason"] == "invalid"
    assert _post(door, "GARBAGE-6").status_code == 429
    clock.now += 10  # refills up to the burst, not beyond
    for index in range(3):
        assert door.scan(f"GARBAGE-again-{index}")["reason"] == "invalid"
    assert _post(door, "GARBAGE-7").status_code == 429
    assert ScanLog.objects.filter(reason="invalid").count() == 3 + 1 + 1 + 3


def test_refusals_are_reported_in_the_log_once_per_interval(doors, limits, clock, caplog):
    door, _ = doors
    caplog.set_level(logging.WARNING, logger="checkin.flood")
    for index in range(3):
        door.scan(f"GARBAGE-{index}")
    for index in range(5):
        assert _post(door, f"FLOOD-{index}").status_code == 429
    reports = [r.getMessage() for r in caplog.records if r.name == "checkin.flood"]
    assert len(reports) == 1  # the first refusal is reported at once, the rest wait
    assert "'Porta A'" in reports[0] and "1 refused" in reports[0]
    assert "revoke it" in reports[0]

    # The held-back refusals are reported with the device's next invalid code after the
    # interval, refused or not.
    clock.now += flood.REPORT_SECONDS
    assert door.scan("GARBAGE-late")["reason"] == "invalid"
    reports = [r.getMessage() for r in caplog.records if r.name == "checkin.flood"]
    assert len(reports) == 2 and "4 refused" in reports[1]


def test_rate_zero_disables_the_limit(doors, settings, clock):
    settings.VARCO_SCAN_INVALID_RATE = 0
    door, _ = doors
    for index in range(50):
        assert door.scan(f"GARBAGE-{index}")["reason"] == "invalid"
    assert ScanLog.objects.filter(reason="invalid").count() == 50


def test_offline_uploads_through_sync_are_not_limited(doors, limits, clock):
    """A device back from an hour offline uploads its queue in one go: its invalid codes
    were read over that hour, not in a flood."""
    door, _ = doors
    scans = [{"code": f"GARBAGE-{index}", "list": door.list.pk, "nonce": str(uuid.uuid4()),
              "scanned_at": "2026-09-22T08:00:00Z"} for index in range(10)]
    response = door.post("/api/v1/checkin/sync/", {"scans": scans})
    assert response.status_code == 200, response.content
    assert ScanLog.objects.filter(reason="invalid").count() == 10


def test_limiter_bounds_its_memory(settings, clock, monkeypatch):
    settings.VARCO_SCAN_INVALID_RATE = 1
    settings.VARCO_SCAN_INVALID_BURST = 1
    monkeypatch.setattr(flood, "MAX_DEVICES", 5)
    limiter = flood.InvalidCodeLimiter()
    for device_id in range(12):
        assert limiter.take(device_id) is None
    assert len(limiter._buckets) <= 5


def test_a_flood_of_unknown_tokens_neither_evicts_real_devices_nor_grows_memory(
        event, monkeypatch, django_assert_num_queries, settings):
    """Unknown tokens are cached apart from real devices: a flood of random tokens costs one
    query each (and memory up to a bound), while the real device is still answered from the
    cache without a query."""
    from checkin import devices

    # A TTL the 200 look-ups below cannot outlast, however loaded the machine.
    settings.VARCO_DEVICE_CACHE_SECONDS = 3600
    door_list = make_list(event)
    _, token = make_device(event, [door_list])
    monkeypatch.setattr(devices.DeviceCache, "MAX_ENTRIES", 50)
    cache = devices.DeviceCache()
    assert cache.get(token).event_id == event.pk  # loaded once
    for index in range(200):
        assert cache.get(f"vd_forged-{index}") is None
    assert len(cache._unknown) <= 50
    with django_assert_num_queries(0):
        assert cache.get(token) is not None
        assert cache.get("vd_forged-199") is None  # cached as unknown too
