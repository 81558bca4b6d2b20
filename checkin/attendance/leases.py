"""Live-stream slots counted across every process and host, as leases in Redis.

The per-process bounds (``stream._Slots``) protect a process's threads and always apply. With
``REDIS_URL`` set, a stream also takes a lease in up to three Redis sorted sets — all streams,
its organiser's, its user's — bounded by ``VARCO_LIVE_STREAMS_TOTAL``,
``VARCO_LIVE_STREAMS_TOTAL_PER_ORGANISER`` and ``VARCO_LIVE_STREAMS_TOTAL_PER_USER`` (0: no
such bound; the two shares default to half the total, rounded up, when a total is set). So
behind a load balancer one organiser's wall of screens cannot take every stream of the
deployment, whichever processes its screens land on.

A lease is a member with an expiry time as its score: the stream renews it while it runs (at
least every heartbeat, ``VARCO_LIVE_HEARTBEAT_SECONDS``) and removes it when it closes; the
lease of a process killed without closing its streams expires after ``LEASE_HEARTBEATS``
heartbeats, and every take first drops expired members. Nothing here is on the scan path.

Redis down or slow: **fail open** — the stream is served within the process's own bounds
(``core.shared_redis``: one bounded timeout, then no Redis for the retry interval). Redis
restarted (empty): the running streams put their leases back at their next renewal, so the
counts are whole again within one heartbeat; until then a few more streams may be admitted.
Time is the hosts' wall clock (``time.time``), kept in step as for the scan times.
"""

from __future__ import annotations

import time
import uuid

from django.conf import settings

from core.shared_redis import FAILURES, shared

KEY_PREFIX = "varco:streams:"
# A lease outlives this many heartbeats without renewal (a stream renews at every wake-up,
# which is at least once per heartbeat).
LEASE_HEARTBEATS = 3

# KEYS: the sets; ARGV: now, expiry, member, then one limit per key. All or nothing.
_TAKE_LUA = """
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
  if redis.call('ZCARD', key) >= tonumber(ARGV[3 + i]) then return 0 end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, ARGV[2], ARGV[3])
  redis.call('EXPIREAT', key, math.ceil(tonumber(ARGV[2])))
end
return 1
"""
_RENEW_LUA = """
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, ARGV[1], ARGV[2])
  redis.call('EXPIREAT', key, math.ceil(tonumber(ARGV[1])))
end
return 1
"""

# The shared clock (a name of its own so that tests can move it on).
wall_clock = time.time
_scripts: dict[str, object] = {}


def _limits(owners: tuple[tuple[str, int], ...]) -> list[tuple[str, int]]:
    """(key, limit) for every bound that is set."""
    total = settings.VARCO_LIVE_STREAMS_TOTAL
    half = -(-total // 2) if total > 0 else 0
    share = {"organiser": settings.VARCO_LIVE_STREAMS_TOTAL_PER_ORGANISER or half,
             "user": settings.VARCO_LIVE_STREAMS_TOTAL_PER_USER or half}
    found = [(f"{KEY_PREFIX}all", total)] if total > 0 else []
    found += [(f"{KEY_PREFIX}{kind}:{ident}", share[kind]) for kind, ident in owners
              if share.get(kind, 0) > 0]
    return found


def _expiry() -> float:
    return wall_clock() + LEASE_HEARTBEATS * max(1, settings.VARCO_LIVE_HEARTBEAT_SECONDS)


def _run(name: str, source: str, keys: list[str], args: list) -> int | None:
    """Run a script; None when Redis is not there to ask (the caller fails open)."""
    client = shared.client()
    if client is None:
        return None
    try:
        script = _scripts.get(name)
        if script is None:
            script = _scripts[name] = client.register_script(source)
        return int(script(keys=keys, args=args, client=client))
    except FAILURES as exc:
        shared.failed("live-stream slots", exc)
        return None


class Lease:
    """One stream's place in the deployment-wide counts (inert without Redis or bounds)."""

    def __init__(self, owners: tuple[tuple[str, int], ...]) -> None:
        self.keys = [key for key, _ in _limits(owners)]
        self.member = uuid.uuid4().hex
        self.renewed_at = 0.0

    def take(self, owners: tuple[tuple[str, int], ...]) -> bool:
        """False only when Redis answered that a bound is reached."""
        limits = _limits(owners)
        if not limits:
            return True
        granted = _run("take", _TAKE_LUA, [key for key, _ in limits],
                       [wall_clock(), _expiry(), self.member, *[n for _, n in limits]])
        self.renewed_at = time.monotonic()
        return granted != 0  # None (no Redis): fail open

    def renew(self) -> None:
        """Push the expiry on (at most every third of a heartbeat); also puts the lease back
        into a Redis that lost it."""
        if not self.keys:
            return
        if time.monotonic() - self.renewed_at < settings.VARCO_LIVE_HEARTBEAT_SECONDS / 3:
            return
        self.renewed_at = time.monotonic()
        _run("renew", _RENEW_LUA, self.keys, [_expiry(), self.member])

    def give_back(self) -> None:
        if not self.keys:
            return
        client = shared.client()
        if client is None:
            return  # the lease expires by itself
        try:
            pipe = client.pipeline(transaction=False)
            for key in self.keys:
                pipe.zrem(key, self.member)
            pipe.execute()
        except FAILURES as exc:
            shared.failed("live-stream slots", exc)


def reset() -> None:
    """Forget every lease (tests)."""
    client = shared.client()
    if client is None:
        return
    try:
        keys = list(client.scan_iter(match=KEY_PREFIX + "*", count=1000))
        if keys:
            client.delete(*keys)
    except FAILURES as exc:
        shared.failed("live-stream slots", exc)
