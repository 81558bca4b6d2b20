"""Serve the public registration (POST /api/v1/public/events/<slug>/register/ with a JSON body)
straight from WSGI, in front of Django's handler (``core.fastpath`` says what is skipped and
what is kept).

A registration rush is this one URL, hit by every attendee at once; measured in process, the
middleware stack, URL resolution and DRF's dispatch were ~1.3 ms of a registration's ~4 ms of
web CPU (docs/benchmarks.md, "Registration"). The answer is the view's own
(``tickets.api.views.public_registration``: same validation, same rate limit, same service);
whatever that function leaves to the view — a body that is not a valid registration, an
unknown event, a client over its limit — goes to Django with the body given back, and so does
anything unusual about the request itself (a query string, another media type or charset, an
``Accept`` that is not JSON, a body without a length or over ``VARCO_MAX_BODY_BYTES``).

Django's request signals are sent around the answer, as Django's handler sends them: the
database connection is checked and recycled by ``DB_CONN_MAX_AGE`` as for any request.
``VARCO_REGISTRATION_FAST_PATH=false`` serves the registration through Django's handler
(same answers, more CPU).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.core.signals import request_finished, request_started

from core.fastpath import Answer, JsonFastPath, give_back
from tickets.api.views import public_registration

# The URL of tickets/api/urls.py ("public-register"; <slug:slug> is Django's slug converter).
PREFIX = "/api/v1/public/events/"
REGISTER_PATH = re.compile(r"/api/v1/public/events/(?P<slug>[-a-zA-Z0-9_]+)/register/")
_JSON_TYPES = frozenset({"application/json", "application/json; charset=utf-8",
                         "application/json;charset=utf-8"})
_JSON_ACCEPTS = frozenset({"", "*/*", "application/json"})


class RegistrationFastPath(JsonFastPath):
    enabled_setting = "VARCO_REGISTRATION_FAST_PATH"

    def takes(self, environ: dict) -> bool:
        path = environ.get("PATH_INFO", "")
        return (environ.get("REQUEST_METHOD") == "POST" and path.startswith(PREFIX)
                and REGISTER_PATH.fullmatch(path) is not None)

    def answer(self, environ: dict) -> Answer:
        if (environ.get("QUERY_STRING")
                or environ.get("CONTENT_TYPE", "").lower() not in _JSON_TYPES
                or environ.get("HTTP_ACCEPT", "") not in _JSON_ACCEPTS):
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return None
        if not 0 < length <= settings.VARCO_MAX_BODY_BYTES:
            return None
        slug = REGISTER_PATH.fullmatch(environ["PATH_INFO"])["slug"]
        body = environ["wsgi.input"].read(length)
        request_started.send(sender=type(self), environ=environ)
        try:
            answer = public_registration(slug, body, environ)
        finally:
            request_finished.send(sender=type(self))
        if answer is None:
            give_back(environ, body)
        return answer


def wrap(app: Callable) -> RegistrationFastPath:
    return RegistrationFastPath(app)
