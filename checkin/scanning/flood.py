"""Per-device limit on codes that fail the signature check at the scan endpoint.

A scanner at the door reads a few codes a second, and nearly all of them are real tickets. A
device sending invalid codes faster than a person can present them is misreading (a dirty
lens, a wrong barcode symbology, a keyboard wedge with the wrong layout) or is a stolen token
in someone's script. Invalid codes already cost no database round trip, but each is logged,
so a flood would still fill the scan log and load the database with batch inserts.

So each device gets a token bucket for invalid codes: ``VARCO_SCAN_INVALID_RATE`` per second
sustained, ``VARCO_SCAN_INVALID_BURST`` at once. Past it, an invalid code is answered
``429 rate_limited`` with ``Retry-After`` and not logged row by row; the process logs one
warning per device and interval with how many it refused. Correctly signed codes are never
limited, so real attendees behind a misbehaving scanner still get in.

Offline uploads (``/sync/``) have their own buckets, at the same sustained rate but with a
burst of ``VARCO_SYNC_INVALID_BURST`` (default 500, one full upload): a gate back from an
hour offline uploads the invalid codes it read over that hour in one request, which is no
flood, while a script posting uploads of junk gets that many rows once and the rate after.
Past it, the upload still answers every scan (``invalid``) and says how many were not logged
(``invalid_not_logged``); signed codes and tickets in an upload are never limited.

Where the buckets live: with ``REDIS_URL`` set, in Redis (one hash per device and kind,
updated by one Lua script per invalid code, expiring once it would be full again), so every
process and host behind a load balancer draws on the device's one allowance; in the embedded
mode, in the process. Only invalid codes pay the round trip (a correctly signed code never
reaches the limiter); docs/shared-state.md has its measured cost. When Redis fails or is slow
(``VARCO_SHARED_STATE_TIMEOUT_MS``), the limiter **fails open to the process's own buckets**
for ``VARCO_SHARED_STATE_RETRY_SECONDS`` (``core.shared_redis``): a flood is then limited per
process (N processes, N times the rate) instead of not at all, and no scan waits longer than
one timeout or fails. A restarted (empty) Redis starts every bucket full: at most one burst
more per device. The refusal reports in the log are per process.

Time in the shared buckets is the processes' wall clock (``time.time``), which hosts keep in
step anyway (scan times are recorded by it): a host whose clock is behind refills nothing
until it catches up (elapsed time is never negative), one ahead refills a little early.
"""

from __future__ import annotations

import logging
import math
import threading
import time

from django.conf import settings
from django.core.signals import setting_changed

from core.shared_redis import FAILURES, shared

# The name it had before the scanning package: operators filter their logs on it.
log = logging.getLogger("checkin.flood")

# How often, at most, a device's refusals are reported in the log.
REPORT_SECONDS = 10.0
# Buckets are dropped when this many devices have one (a bound on memory, not a real limit).
MAX_DEVICES = 10_000
KEY_PREFIX = "varco:flood:"
# The shared buckets' clock (a name of its own so that tests can stand in for it).
wall_clock = time.time

# One bucket, atomically: refill by elapsed time (never negative), spend one token or say how
# long to wait. KEYS[1] the bucket; ARGV rate, burst, now (seconds). Returns the wait as text
# ("-1": allowed): a Lua number returned to Redis would be truncated to an integer. The key
# expires when the bucket would be full again, so idle devices cost no memory.
_TAKE_LUA = """
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens, ts = tonumber(b[1]), tonumber(b[2])
if tokens == nil or ts == nil then tokens, ts = burst, now end
local elapsed = now - ts
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * rate)
local wait = -1
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(math.max(now, ts)))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return tostring(wait)
"""


class InvalidCodeLimiter:
    """Token buckets by device id; ``take`` is called once per invalid code."""

    def __init__(self, burst_setting: str = "VARCO_SCAN_INVALID_BURST",
                 what: str = "invalid codes", kind: str = "scan") -> None:
        self._burst_setting = burst_setting
        self._what = what
        self._prefix = f"{KEY_PREFIX}{kind}:"
        self._script = None
        self._lock = threading.Lock()
        # device id -> [tokens, last refill (monotonic), refused since last report, report at]
        self._buckets: dict[int, list[float]] = {}
        self._config: tuple[float, float] | None = None
        setting_changed.connect(self._forget, weak=False)

    def _forget(self, **kwargs) -> None:
        # The process's buckets only: a changed setting does not wipe the shared ones.
        self._config = None
        with self._lock:
            self._buckets.clear()

    def reset(self) -> None:
        """Forget every bucket, the shared ones too (tests, a changed setting)."""
        with self._lock:
            self._buckets.clear()
        client = shared.client()
        if client is not None:
            try:
                keys = list(client.scan_iter(match=self._prefix + "*", count=1000))
                if keys:
                    client.delete(*keys)
            except FAILURES as exc:
                shared.failed("the flood limit", exc)

    def _take_shared(self, device_id: int, rate: float, burst: float) -> float | bool | None:
        """Spend a token of the shared bucket: None (allowed), the wait, or False when Redis
        is not there to ask (the caller uses the process's bucket)."""
        client = shared.client()
        if client is None:
            return False
        try:
            if self._script is None:
                self._script = client.register_script(_TAKE_LUA)
            wait = float(self._script(keys=[f"{self._prefix}{device_id}"],
                                      args=[rate, burst, wall_clock()], client=client))
        except FAILURES as exc:
            shared.failed("the flood limit", exc)
            return False
        return None if wait < 0 else wait

    def limits(self) -> tuple[float, float]:
        """(rate per second, burst): the allowance ``take`` spends; rate 0 = no limit."""
        if self._config is None:
            rate = float(settings.VARCO_SCAN_INVALID_RATE)
            burst = float(getattr(settings, self._burst_setting))
            self._config = (rate, max(burst, 1.0))
        return self._config

    def take(self, device_id: int | None, device_name: str = "") -> float | None:
        """Spend one invalid code of ``device_id``'s allowance.

        Returns None when it is within the limit, else the seconds until one is allowed again.
        """
        rate, burst = self.limits()
        if rate <= 0 or device_id is None:
            return None
        shared_wait = self._take_shared(device_id, rate, burst)
        now = time.monotonic()
        report = None
        with self._lock:
            bucket = self._buckets.get(device_id)
            if bucket is None:
                if len(self._buckets) >= MAX_DEVICES:
                    self._buckets.clear()
                bucket = self._buckets[device_id] = [burst, now, 0.0, now]
            if shared_wait is not False:
                # Decided by the shared bucket; the process's one only counts refusals for
                # the log (and stays full, ready for an outage).
                wait = shared_wait
                if wait is not None:
                    bucket[2] += 1
            else:
                tokens = min(burst, bucket[0] + (now - bucket[1]) * rate)
                bucket[1] = now
                if tokens >= 1.0:
                    bucket[0] = tokens - 1.0
                    wait = None
                else:
                    bucket[0] = tokens
                    bucket[2] += 1
                    wait = (1.0 - tokens) / rate
            if bucket[2] and now >= bucket[3]:
                report, bucket[2], bucket[3] = int(bucket[2]), 0.0, now + REPORT_SECONDS
        if report:
            log.warning(
                "Scanner device %r (id %s) sent more %s than allowed (%g/s, burst "
                "%g): %d refused since the previous report, not logged one by one. "
                "A scanner misreading codes, or a token used by someone else: look at the "
                "device, and revoke it in the admin if it is not yours.",
                device_name, device_id, self._what, rate, burst, report,
            )
        return wait


limiter = InvalidCodeLimiter()
upload_limiter = InvalidCodeLimiter("VARCO_SYNC_INVALID_BURST", "invalid codes in uploads",
                                    "sync")


def offline_allowance() -> dict[str, float]:
    """The live scans' allowance, for the door page to apply to the invalid codes it decides
    offline (the snapshot carries it): the page keeps the device's limit with no server to ask,
    and these settings stay its one owner."""
    rate, burst = limiter.limits()
    return {"rate": rate, "burst": burst}


def retry_after(wait: float) -> str:
    """The Retry-After header value (whole seconds, at least 1)."""
    return str(max(1, math.ceil(wait)))
