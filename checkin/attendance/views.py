"""Thin views for attendance: the API, the exports, the dashboard page and its live updates.

Organisers only. The API and the exports take a session or an organiser's API token (a door
device's token is not a user token, so it is refused like any unknown token); the dashboard
page and its stream use the session. An event outside the caller's teams is a 404, as in the
rest of the organiser API.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import renderers
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import APIException
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from checkin.attendance import exports, selectors
from checkin.attendance.serializers import AttendanceSerializer
from checkin.attendance.stream import open_stream
from core.errors import error_body
from tickets.auth import HashedTokenAuthentication
from tickets.dates import event_when_html
from tickets.models import Event
from tickets.selectors import events_for_user


class Unavailable(APIException):
    status_code = 503
    default_code = "unavailable"
    default_detail = "The attendance figures cannot be read right now; try again shortly."


def _organiser_event(user, event_id: int) -> Event:
    return get_object_or_404(events_for_user(user), pk=event_id)


class _OrganiserAPIView(APIView):
    # Explicit, so that a device-token scheme added to the defaults never reaches these views.
    authentication_classes = [HashedTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]


class AttendanceView(_OrganiserAPIView):
    """Live attendance of one event (figures at most half a second old)."""

    @extend_schema(responses={200: AttendanceSerializer}, operation_id="event_attendance")
    def get(self, request: Request, event_id: int) -> Response:
        try:
            event = _organiser_event(request.user, event_id)
            return Response(selectors.attendance(event))
        except DatabaseError as exc:
            raise Unavailable() from exc


class _FileRenderer(renderers.BaseRenderer):
    """Lets clients ask for the file's type; error bodies are still JSON text."""

    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data).encode() if isinstance(data, dict | list) else data


class CSVRenderer(_FileRenderer):
    media_type = "text/csv"
    format = "csv"


class SVGRenderer(_FileRenderer):
    media_type = "image/svg+xml"
    format = "svg"


def _attachment(response: HttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class CheckinsCSVView(_OrganiserAPIView):
    """Everyone who entered: first/last entry and exit times, gate, entries and exits."""

    renderer_classes = [renderers.JSONRenderer, CSVRenderer]

    @extend_schema(
        responses={(200, "text/csv"): OpenApiTypes.STR}, operation_id="event_checkins_csv"
    )
    def get(self, request: Request, event_id: int) -> HttpResponse:
        event = _organiser_event(request.user, event_id)
        response = StreamingHttpResponse(
            exports.checkins_csv(event), content_type="text/csv; charset=utf-8"
        )
        return _attachment(response, f"{event.slug}-checkins.csv")


class NoShowsCSVView(_OrganiserAPIView):
    """Everyone holding a valid ticket who has not entered."""

    renderer_classes = [renderers.JSONRenderer, CSVRenderer]

    @extend_schema(
        responses={(200, "text/csv"): OpenApiTypes.STR}, operation_id="event_no_shows_csv"
    )
    def get(self, request: Request, event_id: int) -> HttpResponse:
        event = _organiser_event(request.user, event_id)
        response = StreamingHttpResponse(
            exports.no_shows_csv(event), content_type="text/csv; charset=utf-8"
        )
        return _attachment(response, f"{event.slug}-no-shows.csv")


class ArrivalsSVGView(_OrganiserAPIView):
    """The arrivals chart for the post-event report (``?lang=it|en``)."""

    renderer_classes = [renderers.JSONRenderer, SVGRenderer]

    @extend_schema(
        parameters=[OpenApiParameter("lang", str, enum=[code for code, _ in settings.LANGUAGES])],
        responses={(200, "image/svg+xml"): OpenApiTypes.STR},
        operation_id="event_arrivals_svg",
    )
    def get(self, request: Request, event_id: int) -> HttpResponse:
        event = _organiser_event(request.user, event_id)
        language = _language(request, event)
        svg = exports.arrivals_svg(event, language)
        response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
        return _attachment(response, f"{event.slug}-arrivals.svg")


def _language(request: HttpRequest, event: Event) -> str:
    codes = [code for code, _ in settings.LANGUAGES]
    asked = request.GET.get("lang", "")
    if asked in codes:
        return asked
    current = translation.get_language() or event.default_language
    return current if current in codes else codes[0]


# --- the dashboard page -----------------------------------------------------------------------


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse(error_body(code, detail), status=status)


def _page_event(request: HttpRequest, event_id: int) -> Event | JsonResponse:
    if not request.user.is_authenticated:
        return _error(401, "not_authenticated", "Log in as an organiser.")
    return _organiser_event(request.user, event_id)


@require_GET
@login_required
def dashboard(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _organiser_event(request.user, event_id)
    asked = request.GET.get("lang", "")
    if asked in dict(settings.LANGUAGES):
        translation.activate(asked)
    view = selectors.live_view(event)
    context = {
        "event": event,
        # written as every attendee page writes it (a day's range, or both days when the
        # event runs past midnight in its zone)
        "when": event_when_html(event, translation.get_language()),
        "payload": view.payload,
        "config": {
            "labels": _labels(),
            "timezone": event.timezone,
            "urls": {
                "stream": reverse("attendance-stream", args=[event.pk]),
                "live": reverse("attendance-live", args=[event.pk]),
            },
        },
        "languages": settings.LANGUAGES,
    }
    response = render(request, "checkin/attendance/dashboard.html", context)
    if asked in dict(settings.LANGUAGES):
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, asked, samesite="Lax")
    return response


def _labels() -> dict:
    """Words the page's script writes, in the page's language.

    Every string of the dashboard has the "attendance" context, so its translations never
    collide with the same English word elsewhere in Varco (e.g. on the door page).
    """
    return {
        "reason": {
            "already_checked_in": pgettext("attendance", "already checked in"),
            "invalid": pgettext("attendance", "invalid code"),
            "unknown": pgettext("attendance", "unknown ticket"),
            "revoked": pgettext("attendance", "revoked ticket"),
            "wrong_event": pgettext("attendance", "another event"),
            "not_allowed": pgettext("attendance", "not allowed here"),
            "closed": pgettext("attendance", "list closed"),
        },
        "direction": {
            "entry": pgettext("attendance", "entry"),
            "exit": pgettext("attendance", "exit"),
            "annul": pgettext("attendance", "undo"),
        },
        "source": {
            "scan": pgettext("attendance", "scan"),
            "manual": pgettext("attendance", "manual"),
            "offline": pgettext("attendance", "offline"),
        },
        "ok": pgettext("attendance", "admitted"),
        "manual": pgettext("attendance", "Manual check-in"),
        "annulled": pgettext("attendance", "undone"),
        "conflict": pgettext("attendance", "conflict"),
        "unknown_person": pgettext("attendance", "unreadable code"),
        "live": pgettext("attendance", "Live"),
        "polling": pgettext("attendance", "Updating every second"),
        "offline": pgettext("attendance", "Connection lost, retrying…"),
        "per_minute": pgettext("attendance", "/min"),
        "none": pgettext("attendance", "Nothing yet"),
        "outside": pgettext("attendance", "Arrivals outside the event's day:"),
        # %(day)s: a date formatted by the browser in the page's language.
        "rehearsal": pgettext(
            "attendance",
            "Rehearsal: no arrivals on the event's day yet, so here are the scans of %(day)s.",
        ),
    }


@require_GET
def stream(request: HttpRequest, event_id: int) -> HttpResponse:
    """Server-Sent Events: the dashboard payload, pushed when the figures change."""
    event = _page_event(request, event_id)
    if isinstance(event, JsonResponse):
        return event
    body = open_stream(event, request.user.pk)
    if body is None:
        response = _error(503, "busy", "This server is serving its share of live streams; poll.")
        response["Retry-After"] = "30"
        return response
    response = StreamingHttpResponse(body, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response


@require_GET
def live(request: HttpRequest, event_id: int) -> HttpResponse:
    """Polling fallback: the payload, or ``{"unchanged": true}`` when ``?since`` is current."""
    event = _page_event(request, event_id)
    if isinstance(event, JsonResponse):
        return event
    try:
        view = selectors.live_view(event)
    except DatabaseError:
        return _error(503, "unavailable", "The figures cannot be read right now.")
    if request.GET.get("since") == view.etag:
        return JsonResponse({"etag": view.etag, "unchanged": True})
    return HttpResponse(view.text, content_type="application/json")
