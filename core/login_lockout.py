"""The answer to a login refused by django-axes (too many failures; settings AXES_*).

A 429 page in the admin's look, in the visitor's language, saying how long to wait; a JSON
body in the API's error shape for scripts (XHR or /api/).
"""

from __future__ import annotations

import math

from axes.helpers import get_cool_off
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from core.errors import error_body


def lockout_response(request: HttpRequest, original_response=None, credentials=None
                     ) -> HttpResponse:
    cool_off = get_cool_off(request)
    minutes = max(1, math.ceil(cool_off.total_seconds() / 60)) if cool_off else None
    detail = "Too many failed logins; try again later." if minutes is None else (
        f"Too many failed logins; try again in {minutes} minutes."
    )
    wants_json = (
        request.headers.get("x-requested-with") == "XMLHttpRequest"
        or request.path.startswith("/api/")
    )
    if wants_json:
        return JsonResponse(error_body("locked_out", detail), status=429)
    context = {**admin.site.each_context(request), "minutes": minutes,
               "title": "Accesso bloccato / Login locked"}
    response = render(request, "core/login_locked_out.html", context, status=429)
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
