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

The buckets live in the process (no shared store: a shared counter would cost the round trip
this avoids), so with N web processes a device may reach N times the rate; the limit is for
floods, which are orders of magnitude above it.
"""

from __future__ import annotations

import logging
import math
import threading
import time

from django.conf import settings
from django.core.signals import setting_changed

# The name it had before the scanning package: operators filter their logs on it.
log = logging.getLogger("checkin.flood")

# How often, at most, a device's refusals are reported in the log.
REPORT_SECONDS = 10.0
# Buckets are dropped when this many devices have one (a bound on memory, not a real limit).
MAX_DEVICES = 10_000


class InvalidCodeLimiter:
    """Token buckets by device id; ``take`` is called once per invalid code."""

    def __init__(self, burst_setting: str = "VARCO_SCAN_INVALID_BURST",
                 what: str = "invalid codes") -> None:
        self._burst_setting = burst_setting
        self._what = what
        self._lock = threading.Lock()
        # device id -> [tokens, last refill (monotonic), refused since last report, report at]
        self._buckets: dict[int, list[float]] = {}
        self._config: tuple[float, float] | None = None
        setting_changed.connect(self._forget, weak=False)

    def _forget(self, **kwargs) -> None:
        self._config = None
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()

    def _limits(self) -> tuple[float, float]:
        if self._config is None:
            rate = float(settings.VARCO_SCAN_INVALID_RATE)
            burst = float(getattr(settings, self._burst_setting))
            self._config = (rate, max(burst, 1.0))
        return self._config

    def take(self, device_id: int | None, device_name: str = "") -> float | None:
        """Spend one invalid code of ``device_id``'s allowance.

        Returns None when it is within the limit, else the seconds until one is allowed again.
        """
        rate, burst = self._limits()
        if rate <= 0 or device_id is None:
            return None
        now = time.monotonic()
        report = None
        with self._lock:
            bucket = self._buckets.get(device_id)
            if bucket is None:
                if len(self._buckets) >= MAX_DEVICES:
                    self._buckets.clear()
                bucket = self._buckets[device_id] = [burst, now, 0.0, now]
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
upload_limiter = InvalidCodeLimiter("VARCO_SYNC_INVALID_BURST", "invalid codes in uploads")


def retry_after(wait: float) -> str:
    """The Retry-After header value (whole seconds, at least 1)."""
    return str(max(1, math.ceil(wait)))
