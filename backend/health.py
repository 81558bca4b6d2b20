"""``/healthz``: is this web process able to serve? Checks the database and the broker.

Answers 200 with what was checked, or 503 naming the failing component, so that a load
balancer or docker's health check takes the process out of rotation with a reason in the log.
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
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    client.ping()


def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    ok = True
    for name, check in (("database", _check_database), ("broker", _check_broker)):
        started = time.monotonic()
        try:
            check()
        except Exception as exc:  # any failure is a 503 with its reason, never a 500
            ok = False
            checks[name] = f"error: {exc.__class__.__name__}: {exc}"
            log.error("healthz: %s check failed: %s", name, exc)
        else:
            checks[name] = f"ok ({(time.monotonic() - started) * 1000:.1f} ms)"
    return JsonResponse({"status": "ok" if ok else "error", "checks": checks},
                        status=200 if ok else 503)
