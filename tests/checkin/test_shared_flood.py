"""The flood limit shared across processes through Redis, and what it does when Redis fails
(checkin/scanning/flood.py, core/shared_redis.py, docs/shared-state.md)."""

from __future__ import annotations

import logging
import time

import pytest

from checkin.scanning import flood
from core.shared_redis import shared
from tests.support.redis_server import RedisServer
from tests.support.smtp_sink import free_port


@pytest.fixture
def limits(settings):
    settings.VARCO_SCAN_INVALID_RATE = 2
    settings.VARCO_SCAN_INVALID_BURST = 3
    settings.VARCO_SHARED_STATE_RETRY_SECONDS = 5
    return settings


@pytest.fixture
def clock(monkeypatch):
    """The shared buckets' and the breaker's clocks (the process's buckets keep the real one:
    nothing here waits long enough for them to refill a whole code)."""
    now = [1_000_000.0]
    monkeypatch.setattr(flood, "wall_clock", lambda: now[0])
    monkeypatch.setattr(shared, "clock", lambda: now[0])
    return now


@pytest.mark.redis
def test_two_processes_draw_on_one_allowance_per_device(limits, clock):
    """Two limiters (two processes: their own buckets, one Redis): the burst is the device's,
    not each process's."""
    first, second = flood.InvalidCodeLimiter(), flood.InvalidCodeLimiter()
    first.reset()
    assert first.take(41) is None
    assert second.take(41) is None
    assert first.take(41) is None
    assert second.take(41) == pytest.approx(0.5)  # a fourth code from either: refused
    assert first.take(41) == pytest.approx(0.5)
    assert first.take(42) is None  # another device has its own
    clock[0] += 0.5  # one code's worth at 2/s, seen by both
    assert second.take(41) is None
    assert first.take(41) is not None


@pytest.mark.redis
def test_scan_and_sync_buckets_are_apart_and_expire(limits, clock):
    import redis
    from django.conf import settings

    scan, sync = flood.InvalidCodeLimiter(), flood.InvalidCodeLimiter(
        "VARCO_SYNC_INVALID_BURST", kind="sync")
    scan.reset()
    sync.reset()
    for _ in range(3):
        assert scan.take(7) is None
    assert scan.take(7) is not None
    assert sync.take(7) is None
    ttl = redis.Redis.from_url(settings.REDIS_URL).pttl(f"{flood.KEY_PREFIX}scan:7")
    assert 0 < ttl <= 3 / 2 * 1000 + 1000  # gone once it would be full again


def test_redis_unreachable_fails_open_to_the_process_bucket_quickly(settings, limits, clock,
                                                                   caplog):
    """Nothing listens on the port: every take answers at once from the process's bucket,
    Redis is asked once per retry interval, and the outage is logged once."""
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    settings.VARCO_SHARED_STATE_TIMEOUT_MS = 200
    caplog.set_level(logging.WARNING, logger="core.shared_redis")
    limiter = flood.InvalidCodeLimiter()
    started = time.perf_counter()
    answers = [limiter.take(9) for _ in range(5)]
    elapsed = time.perf_counter() - started
    assert answers[:3] == [None, None, None] and answers[3] is not None
    assert elapsed < 1.0  # one refused connection, not five timeouts
    assert not shared.available
    warnings = [r for r in caplog.records if r.name == "core.shared_redis"]
    assert len(warnings) == 1 and "flood limit" in warnings[0].getMessage()


def test_redis_restarted_buckets_recover(settings, limits, clock, tmp_path, caplog):
    """Our own redis-server, killed and started again (empty): during the outage the process's
    bucket decides; after the retry interval the shared bucket is used again, full."""
    server = RedisServer(None, tmp_path)
    server.start()
    settings.REDIS_URL = server.url
    try:
        first, second = flood.InvalidCodeLimiter(), flood.InvalidCodeLimiter()
        for _ in range(3):
            assert first.take(5) is None
        assert second.take(5) is not None  # shared: the second process is refused too
        server.kill()
        # Down: the second process's own bucket (full) lets a burst through, then refuses.
        assert [second.take(5) for _ in range(4)][3] is not None
        assert not shared.available
        server.start()
        assert second.take(5) is not None  # still within the retry interval: own bucket
        clock[0] += limits.VARCO_SHARED_STATE_RETRY_SECONDS + 0.01
        # Back: both use the (new, empty) shared bucket again; it starts full.
        assert first.take(5) is None
        assert shared.available
        assert second.take(5) is None and first.take(5) is None
        assert second.take(5) is not None
    finally:
        server.kill()
