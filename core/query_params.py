"""Query parameters that used to reach a 500: refused once, at the edge, with a 400.

- A NUL character cannot be part of a PostgreSQL text value: a query parameter carrying one
  (``?result=%00``, an admin list filter ``?status__exact=%00``) made the database driver
  raise as the query ran — wherever a view passed the value to a filter. No stored row can
  contain NUL, so such a value can never match anything.
- The admin's date hierarchy (``?received_at__year=…&…__month=…&…__day=…``, also on
  django-axes' pages) builds a date from the numbers: Django turns a ValueError into its
  "invalid lookup" redirect but not the OverflowError of a number beyond a C long.
  A year, month or day is at most 4 digits here.

The answer names the parameter: the API's JSON error shape under ``/api/``, the HTML error
page elsewhere. Other control characters are valid text for PostgreSQL, and a lone surrogate
cannot arrive: Django decodes the query string with replacement characters. The door's scan
URL is answered in front of Django (checkin/fastpath.py) and reads no query parameters.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, JsonResponse

from core.errors import error_body

NUL = "\x00"
NUL_MESSAGE = "Must not contain NUL characters."
DATE_PART = re.compile(r"__(year|month|day)$")
DATE_PART_VALUE = re.compile(r"[0-9]{1,4}")
DATE_PART_MESSAGE = "A year, month or day of at most 4 digits is required."


def query_problems(request: HttpRequest) -> dict[str, list[str]]:
    """Each refused query parameter (NUL shown as ``\\x00``) with its message."""
    if not request.META.get("QUERY_STRING"):
        return {}
    problems: dict[str, list[str]] = {}
    for name, values in request.GET.lists():
        if NUL in name or any(NUL in value for value in values):
            problems[name.replace(NUL, "\\x00")] = [NUL_MESSAGE]
        elif DATE_PART.search(name) and not all(DATE_PART_VALUE.fullmatch(v) for v in values):
            problems[name] = [DATE_PART_MESSAGE]
    return problems


class QueryParamsMiddleware:
    """400 for a query parameter no view can use safely (see the module's docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problems = query_problems(request)
        if not problems:
            return self.get_response(request)
        detail = f"Invalid query parameter: {', '.join(sorted(problems))}."
        if request.path.startswith("/api/"):
            return JsonResponse(error_body("invalid", detail, problems), status=400)
        raise BadRequest(detail)
