"""Live-stream slots across processes and hosts: leases in Redis (checkin/attendance/leases.py),
what they cost nothing of when unset, and how they behave when Redis fails or restarts."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from checkin import attendance
from checkin.attendance import leases
from checkin.attendance import stream as attendance_stream
from core.shared_redis import shared
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.django_db

A = (("organiser", 1), ("user", 10))
A2 = (("organiser", 1), ("user", 11))
B = (("organiser", 2), ("user", 20))


@pytest.fixture
def bounds(settings):
    settings.VARCO_LIVE_STREAMS_TOTAL = 3
    settings.VARCO_LIVE_STREAMS_TOTAL_PER_ORGANISER = 2
    settings.VARCO_LIVE_STREAMS_TOTAL_PER_USER = 2
    settings.VARCO_LIVE_HEARTBEAT_SECONDS = 10
    leases.reset()
    yield settings
    leases.reset()


@pytest.fixture
def clock(monkeypatch):
    now = [time.time()]  # near the real time: Redis expires the sets by it (EXPIREAT)
    monkeypatch.setattr(leases, "wall_clock", lambda: now[0])
    monkeypatch.setattr(shared, "clock", lambda: now[0])
    return now


@pytest.mark.redis
def test_bounds_hold_across_processes(bounds, clock):
    """Leases taken by any process count against the same bounds (each Lease could be in
    another process: all they share is Redis)."""
    held = [leases.Lease(A), leases.Lease(A2)]
    assert all(lease.take(owners) for lease, owners in zip(held, (A, A2), strict=True))
    third = leases.Lease(A)
    assert not third.take(A)  # organiser 1's share of the deployment (2) is used
    other = leases.Lease(B)
    assert other.take(B)  # organiser 2 still gets in: total 3
    assert not leases.Lease(B).take(B)  # the total is reached
    held[0].give_back()
    assert third.take(A)  # a slot given back is free at once


@pytest.mark.redis
def test_a_killed_process_leases_expire(bounds, clock):
    lost = [leases.Lease(A), leases.Lease(A2)]
    for lease, owners in zip(lost, (A, A2), strict=True):
        assert lease.take(owners)
    assert not leases.Lease(A).take(A)
    # Nobody renews them (their process died): gone after LEASE_HEARTBEATS heartbeats.
    clock[0] += leases.LEASE_HEARTBEATS * 10 + 1
    assert leases.Lease(A).take(A)


def test_no_bounds_no_redis_call(settings, monkeypatch):
    settings.VARCO_LIVE_STREAMS_TOTAL = 0
    monkeypatch.setattr(leases, "_run", lambda *args: pytest.fail("Redis asked"))
    lease = leases.Lease(A)
    assert lease.take(A)
    lease.renew()
    lease.give_back()


def test_redis_down_fails_open_and_a_restart_is_repaired_by_renewals(bounds, clock, settings,
                                                                      tmp_path):
    server = RedisServer(None, tmp_path)
    server.start()
    settings.REDIS_URL = server.url
    try:
        first, second = leases.Lease(A), leases.Lease(A2)
        assert first.take(A) and second.take(A2)
        assert not leases.Lease(A).take(A)
        server.kill()
        assert leases.Lease(A).take(A)  # down: within the process's own bounds only
        server.start()  # empty
        clock[0] += settings.VARCO_SHARED_STATE_RETRY_SECONDS + 1  # the breaker retries
        first.renewed_at = second.renewed_at = 0.0  # their next wake-up renews
        first.renew()
        second.renew()
        assert not leases.Lease(A).take(A)  # the running streams are counted again
        assert leases.Lease(B).take(B)
    finally:
        server.kill()


@pytest.mark.redis
def test_the_stream_endpoint_answers_busy_on_the_deployment_bound(bounds, settings, staff,
                                                                   event):
    """Through the view: the process has room, the deployment's share of the organiser does
    not (held by streams of other processes)."""
    settings.VARCO_ATTENDANCE_TICK_MS = 0
    settings.VARCO_LIVE_STREAMS_PER_PROCESS = 10
    settings.VARCO_LIVE_STREAMS_PER_ORGANISER = 10
    settings.VARCO_LIVE_STREAMS_PER_USER = 10
    attendance.reset()
    elsewhere = [leases.Lease((("organiser", event.organiser_id),)) for _ in range(2)]
    for lease in elsewhere:
        assert lease.take((("organiser", event.organiser_id),))
    client = Client()
    client.force_login(staff)
    refused = client.get(f"/events/{event.pk}/dashboard/stream/")
    assert refused.status_code == 503 and refused.json()["error"] == "busy"
    assert attendance_stream.slots.open == 0  # the process's slot was given back
    elsewhere[0].give_back()
    served = client.get(f"/events/{event.pk}/dashboard/stream/")
    assert served.status_code == 200
    served.close()
    assert attendance_stream.slots.open == 0
    attendance.reset()
