"""``/healthz``: is this web process able to serve? Checks the database and the broker.

Answers 200 with what was checked, or 503 naming the failing component, so that a load
balancer or docker's health check takes the process out of rotation with a reason in the log.
Anyone may ask, so the answer says only "ok" or "error" per component: a failure's text names
the database's or broker's host, port and role. That detail (and the timings) goes to the log
and to signed-in staff only.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

log = logging.getLogger(__name__)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_broker() -> None:
    if not settings.REDIS_URL:
        return  # embedded mode: the file-system broker has nothing to be down
    import redis  # only where a Redis is configured (embedded mode has none to ping)

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    client.ping()


def _is_staff(request: HttpRequest) -> bool:
    try:
        return bool(request.user.is_authenticated and request.user.is_staff)
    except Exception:  # sessions live in the database, which may be what is down: no details
        return False


def healthz(request: HttpRequest) -> JsonResponse:
    detailed = _is_staff(request)
    checks: dict[str, str] = {}
    ok = True
    for name, check in (("database", _check_database), ("broker", _check_broker)):
        started = time.monotonic()
        try:
            check()
        except Exception as exc:  # any failure is a 503 with its reason, never a 500
            ok = False
            checks[name] = f"error: {exc.__class__.__name__}: {exc}" if detailed else "error"
            log.error("healthz: %s check failed: %s: %s", name, exc.__class__.__name__, exc)
        else:
            elapsed = (time.monotonic() - started) * 1000
            checks[name] = f"ok ({elapsed:.1f} ms)" if detailed else "ok"
    return JsonResponse({"status": "ok" if ok else "error", "checks": checks},
                        status=200 if ok else 503)
