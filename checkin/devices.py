"""Scanner device tokens and the in-process cache the scan hot path authenticates with.

A device token is shown once (at creation or rotation); the database keeps its SHA-256.
Authenticating a scan must not cost a query, so each process keeps what it needs about a
device — its event, its allowed lists and their rules — for ``VARCO_DEVICE_CACHE_SECONDS``.

Revoking a device, rotating its token or editing a list or device (``receivers.py``,
``services.py``) calls ``forget_everywhere``: the process that did it clears its cache at once
and again after the commit, and then publishes on the Redis channel ``CHANNEL`` (suffixed with
the database number); every other process (on every host) listens on it with one daemon
thread, started at its first cache miss (a process that never loaded a device has nothing to
forget), and clears its cache when told.
So a revocation reaches every process within milliseconds of its commit. The bound that holds
whatever happens is the TTL: without Redis (embedded mode, one process anyway), with Redis
down, or for a message lost while a listener was reconnecting (it clears its cache whenever it
subscribes again, since it may have missed one), a revoked token keeps scanning on another
process for at most ``VARCO_DEVICE_CACHE_SECONDS`` (default 5).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import transaction

from checkin.models import Device
from core.shared_redis import FAILURES, shared

log = logging.getLogger(__name__)
CHANNEL = "varco:devices:changed"


def _channel(client: redis.Redis) -> str:
    """``CHANNEL`` and the database number: Redis channels span its databases, and two
    deployments sharing one Redis (each its own database) must not hear each other."""
    return f"{CHANNEL}:{client.connection_pool.connection_kwargs.get('db', 0)}"

TOKEN_PREFIX = "vd_"


def new_token() -> str:
    """A new device token: ``vd_`` + 32 URL-safe characters (192 random bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ListRule:
    """What the scan path needs to know about a check-in list, loaded once per TTL."""

    id: int
    event_id: int
    name: str
    # None: every ticket type of the event is admitted.
    ticket_types: tuple[int, ...] | None
    allow_reentry: bool
    allow_exit: bool
    opens_at: dt.datetime | None
    closes_at: dt.datetime | None
    # The event's dates: a device's clock is believed within them (checkin/scanning/clock.py).
    event_start: dt.datetime | None = None
    event_end: dt.datetime | None = None

    def is_open(self, at: dt.datetime) -> bool:
        if self.opens_at is not None and at < self.opens_at:
            return False
        return not (self.closes_at is not None and at >= self.closes_at)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    id: int
    event_id: int
    name: str
    gate: str
    lists: dict[int, ListRule]


def list_rule(checkin_list, event=None) -> ListRule:
    """``event``: the list's event if already loaded (saves a query)."""
    event = event or checkin_list.event
    types = None
    if not checkin_list.all_ticket_types:
        types = tuple(sorted(t.pk for t in checkin_list.ticket_types.all()))
    return ListRule(
        id=checkin_list.pk,
        event_id=checkin_list.event_id,
        name=checkin_list.name,
        ticket_types=types,
        allow_reentry=checkin_list.allow_reentry,
        allow_exit=checkin_list.allow_exit,
        opens_at=checkin_list.opens_at,
        closes_at=checkin_list.closes_at,
        event_start=event.start,
        event_end=event.end,
    )


def _load(token_hash: str) -> DeviceInfo | None:
    device = (
        Device.objects.filter(token_hash=token_hash, revoked_at__isnull=True)
        .select_related("event")
        .prefetch_related("lists__ticket_types")
        .first()
    )
    if device is None:
        return None
    rules = {
        lst.pk: list_rule(lst, device.event)
        for lst in device.lists.all() if lst.event_id == device.event_id
    }
    return DeviceInfo(device.pk, device.event_id, device.name, device.gate, rules)


class DeviceCache:
    """token -> DeviceInfo (or None for unknown/revoked tokens), with a short TTL.

    Keyed by the token itself (it is in the request anyway), so a hit costs a dict lookup and
    only a miss hashes it for the database. Unknown tokens are cached too, so a flood of bad
    tokens costs one query per TTL per token. Both tables are bounded so that a flood of
    *different* bad tokens cannot grow memory, and they are kept apart so that such a flood
    never evicts the real devices (whose scans would then each cost a query).
    """

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._devices: dict[str, tuple[float, DeviceInfo]] = {}
        self._unknown: dict[str, float] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> DeviceInfo | None:
        now = time.monotonic()
        found = self._devices.get(token)
        if found is not None and found[0] > now:
            return found[1]
        if self._unknown.get(token, 0.0) > now:
            return None
        listener.ensure()
        info = _load(hash_token(token))
        expires = now + settings.VARCO_DEVICE_CACHE_SECONDS
        with self._lock:
            table = self._devices if info is not None else self._unknown
            if len(table) >= self.MAX_ENTRIES:
                table.clear()
            if info is not None:
                self._devices[token] = (expires, info)
                self._unknown.pop(token, None)
            else:
                self._unknown[token] = expires
                self._devices.pop(token, None)
        return info

    def clear(self) -> None:
        with self._lock:
            self._devices.clear()
            self._unknown.clear()


device_cache = DeviceCache()


def forget_everywhere() -> None:
    """Devices or lists changed: clear this process's cache now and after the commit (a
    request in between could cache the old state again), and tell every other process."""
    device_cache.clear()
    transaction.on_commit(_announce)


def _announce() -> None:
    device_cache.clear()
    client = shared.client()
    if client is None:
        return  # the others notice within the TTL
    try:
        client.publish(_channel(client), b"changed")
    except FAILURES as exc:
        shared.failed("device revocations", exc)


class _Listener:
    """The process's subscriber to ``CHANNEL`` (one daemon thread, started again after a
    fork; never on the scan path: only a cache miss checks that it runs)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0

    def ensure(self) -> None:
        if self._pid == os.getpid() or not settings.REDIS_URL:
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="device-revocations", daemon=True).start()

    def _run(self) -> None:
        while True:
            url = settings.REDIS_URL
            try:
                if url:
                    self._listen(url)
            except Exception as exc:  # Redis gone or restarted: subscribe again after a pause
                log.warning("device revocations: not listening (%s: %s); the cache's TTL "
                            "bounds a revocation meanwhile", exc.__class__.__name__, exc)
            time.sleep(max(1, settings.VARCO_SHARED_STATE_RETRY_SECONDS))

    @staticmethod
    def _listen(url: str) -> None:
        timeout = settings.VARCO_SHARED_STATE_TIMEOUT_MS / 1000.0
        # Reads wait in get_message's own timeout; a connection that died silently is found
        # by the PING redis-py sends on an idle subscription every health_check_interval.
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout,
                                      health_check_interval=30)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(_channel(client))
            device_cache.clear()  # whatever was announced while nobody listened
            while url == settings.REDIS_URL:
                if pubsub.get_message(timeout=5.0) is not None:
                    device_cache.clear()
        finally:
            pubsub.close()


listener = _Listener()


def token_from_header(header: str | None) -> str | None:
    """The token of an ``Authorization: Token <token>`` header, else None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "token" or not token or len(token) > 128:
        return None
    return token


def authenticate(header: str | None) -> DeviceInfo | None:
    token = token_from_header(header)
    if token is None or not token.startswith(TOKEN_PREFIX):
        return None
    return device_cache.get(token)
