"""The Redis that web processes share state through (flood limits, live-stream slots, device
revocations), with bounded waits and a circuit breaker (docs/shared-state.md).

State that must hold across processes and hosts lives in the Redis of ``REDIS_URL``; in the
embedded mode (no ``REDIS_URL``) there is one process and the state stays in it. Redis is
never on the path of a correctly signed scan, and every caller has a per-process fallback, so
the rule for an outage is the same everywhere: **fail open to the process's own state**, never
a 500 and never a stall.

- Every command waits at most ``VARCO_SHARED_STATE_TIMEOUT_MS`` (connect and read).
- The first failure opens the breaker for ``VARCO_SHARED_STATE_RETRY_SECONDS``: during that
  time callers do not try Redis at all (so an outage costs one timeout per process and retry
  interval, not one per request) and use their fallback. The failure is logged once per
  opening.
- After the interval the next caller tries again; a Redis that is back (restarted, empty) is
  used at once, and the callers rebuild what they keep there (a bucket starts full, a slot
  lease is taken again by its holder's next renewal).
"""

from __future__ import annotations

import logging
import os
import threading
import time

import redis
from django.conf import settings
from django.core.signals import setting_changed

log = logging.getLogger("core.shared_redis")

# What a lost or slow Redis raises (redis-py): the fallback is taken for these only; any
# other exception is a bug and propagates.
FAILURES = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, OSError)


class SharedRedis:
    """The process's client (one pool per process id: a pool must not cross a fork)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: redis.Redis | None = None
        self._pid = 0
        self._url: str | None = None
        self._open_until = 0.0
        # The breaker's clock (an attribute so that a test can move it on).
        self.clock = time.monotonic
        setting_changed.connect(self._forget, weak=False)

    def _forget(self, **kwargs) -> None:
        with self._lock:
            self._client = None
            self._open_until = 0.0

    @property
    def configured(self) -> bool:
        return bool(settings.REDIS_URL)

    def client(self) -> redis.Redis | None:
        """The client, or None when there is no Redis or the breaker is open (use the
        fallback)."""
        url = settings.REDIS_URL
        if not url or self.clock() < self._open_until:
            return None
        client = self._client
        if client is None or self._pid != os.getpid() or self._url != url:
            with self._lock:
                timeout = settings.VARCO_SHARED_STATE_TIMEOUT_MS / 1000.0
                client = redis.Redis.from_url(
                    url, socket_timeout=timeout, socket_connect_timeout=timeout,
                    health_check_interval=0, retry_on_timeout=False,
                )
                self._client, self._pid, self._url = client, os.getpid(), url
        return client

    def failed(self, what: str, exc: BaseException) -> None:
        """Record a failure: open the breaker and log it (once per opening)."""
        retry = float(settings.VARCO_SHARED_STATE_RETRY_SECONDS)
        with self._lock:
            was_closed = self.clock() >= self._open_until
            self._open_until = self.clock() + retry
        if was_closed:
            log.warning(
                "Redis unavailable for %s (%s: %s): using this process's own state for %g s, "
                "then trying again", what, exc.__class__.__name__, exc, retry,
            )

    @property
    def available(self) -> bool:
        """False while the breaker is open (a recent failure)."""
        return self.clock() >= self._open_until


shared = SharedRedis()
