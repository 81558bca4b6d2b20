"""Request size limits and the client address used by every per-client limit.

Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` guards only form parsing and ``request.body``: DRF's
parsers read the raw stream (a JSON body of any size would be read whole) and multipart file
parts are not counted at all. So the size is checked here, from ``Content-Length``, once the
URL is resolved and before any middleware or view reads the body: a body over the view's limit
gets a JSON 413 naming the limit. A request without ``Content-Length`` (chunked) is read by
Django as an empty body, so it cannot slip past.

The limit is ``VARCO_MAX_BODY_BYTES`` unless the view declares its own with ``@body_limit``
(higher for the CSV import, lower for e.g. the scan endpoint).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from core.errors import error_body

F = TypeVar("F", bound=Callable[..., Any])
Limit = int | Callable[[], int]


def body_limit(limit: Limit) -> Callable[[F], F]:
    """Declare the largest request body a view, a DRF view class or a DRF action accepts.

    ``limit`` is a byte count or a function returning one (read per request, so that it can
    come from settings that tests override).
    """

    def mark(target: F) -> F:
        target.max_body_bytes = limit  # type: ignore[attr-defined]
        return target

    return mark


def declared_limit(view_func: Callable, method: str) -> int:
    """The body limit for ``method`` on the resolved view ``view_func``."""
    view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
    candidates: list[object] = []
    if view_class is not None:
        # DRF viewsets route one URL's methods to named actions (post -> import_csv).
        actions = getattr(view_func, "actions", None) or {}
        handler_name = actions.get(method.lower(), method.lower())
        candidates.append(getattr(view_class, handler_name, None))
        candidates.append(view_class)
    candidates.append(view_func)
    for candidate in candidates:
        # Looked up in the instance/class __dict__ chain without binding a method.
        limit = getattr(candidate, "max_body_bytes", None)
        if limit is not None:
            return int(limit() if callable(limit) else limit)
    return settings.VARCO_MAX_BODY_BYTES


def _content_length(request: HttpRequest) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0  # Django reads such a body as empty too


class BodySizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Callable, view_args, view_kwargs):
        length = _content_length(request)
        if not length:
            return None
        limit = declared_limit(view_func, request.method or "GET")
        if length <= limit:
            return None
        message = f"The request body is {length} bytes; at most {limit} bytes are accepted here."
        return JsonResponse(
            error_body("too_large", message, {"body": [message]}),
            status=413,
        )


def client_ip(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR``, or behind ``VARCO_NUM_PROXIES`` trusted proxies
    the address the outermost of them saw (counted from the right of X-Forwarded-For, the part
    the client cannot forge). The same rule as DRF's throttles with ``NUM_PROXIES``."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.VARCO_NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    if not addresses:
        return remote
    return addresses[-min(proxies, len(addresses))]
