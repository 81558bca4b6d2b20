"""The door page: a phone-friendly scanner that works offline (see docs/checkin.md).

The page itself is static HTML + the JS bundle built from ``checkin/frontend`` (committed, so
no Node is needed to run Varco). The service worker is served from ``/scan/sw.js`` because a
worker only controls pages at or below its own path.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.http import require_safe

STATIC_DIR = Path(__file__).resolve().parent / "static" / "checkin"


@cache
def bundle_url() -> str:
    """The script's URL with a content hash, so that phones and the service worker notice a
    new build (the static files have stable names)."""
    digest = hashlib.sha256((STATIC_DIR / "door.js").read_bytes()).hexdigest()[:12]
    return f"{static('checkin/door.js')}?v={digest}"


@require_safe
def door_page(request: HttpRequest) -> HttpResponse:
    response = render(request, "checkin/door.html", {"bundle": bundle_url()})
    # The page holds no secrets (the token lives in the browser) and must not be framed.
    response["Cache-Control"] = "no-cache"
    response["X-Frame-Options"] = "DENY"
    return response


@cache
def _worker_source() -> str:
    return (STATIC_DIR / "sw.js").read_text()


@require_safe
def service_worker(request: HttpRequest) -> HttpResponse:
    source = _worker_source().replace("__DOOR_BUNDLE__", bundle_url())
    response = HttpResponse(source, content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/scan/"
    return response


@require_safe
def manifest(request: HttpRequest) -> HttpResponse:
    data = {
        "name": "Varco — check-in",
        "short_name": "Varco",
        "start_url": "/scan/",
        "scope": "/scan/",
        "display": "standalone",
        "background_color": "#111111",
        "theme_color": "#111111",
        "orientation": "portrait",
        "icons": [],
    }
    return HttpResponse(json.dumps(data), content_type="application/manifest+json")
