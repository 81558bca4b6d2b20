"""Who is acting: set once at the edge, read by ``audit.services.record``.

Services do not take a ``user`` argument on every call (they are called from the admin, the
API, commands and the worker alike); the edge that knows the person says so once:

- ``AuditActorMiddleware`` for every request: the request's user, read when an entry is
  recorded — by then DRF has authenticated an API token and set ``request.user`` on the
  Django request, so API and admin actions both name their person;
- ``acting_as(Actor(...))`` for commands and anything else without a request;
- otherwise the entry says ``system`` and the program (e.g. ``manage.py import_attendees``).

A context variable, not a thread-local: it follows the request through gunicorn's threads and
is reset when the request ends.
"""

from __future__ import annotations

import contextvars
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse


@dataclass(frozen=True)
class Actor:
    kind: str  # "user" | "system"
    label: str
    user_id: int | None = None
    via: str = ""  # "admin", "api", "command", ...


_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "audit_request", default=None)
_actor: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("audit_actor", default=None)


def _program() -> str:
    argv = sys.argv or ["?"]
    name = os.path.basename(argv[0])
    if name == "manage.py" and len(argv) > 1:
        return f"manage.py {argv[1]}"
    return name


def _from_request(request: HttpRequest) -> Actor | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    via = "api" if request.path.startswith("/api/") else "admin"
    return Actor("user", user.get_username()[:150], user.pk, via)


def current_actor() -> Actor:
    actor = _actor.get()
    if actor is not None:
        return actor
    request = _request.get()
    if request is not None:
        found = _from_request(request)
        if found is not None:
            return found
    return Actor("system", _program()[:150], None, "command" if "manage.py" in _program() else "")


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


class AuditActorMiddleware:
    """Remember the request for the audit log while it is being answered."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)
