"""One JSON error shape for the whole API.

``{"error": <code>, "detail": <message>, "fields": {<field>: [<message>, ...]}}`` — ``fields``
names each input at fault, so clients can point at it; it is always present (empty when no
single input is at fault, e.g. a 401 or a 404), so clients need no special case. A body that is
not valid JSON is reported on the field ``body``, a wrong media type on ``content_type``.
Unexpected exceptions are not turned into 400s: they stay 500s and are logged with a traceback.
"""

from __future__ import annotations

import logging

from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from core.errors import VarcoError, error_body, invalid_body

log = logging.getLogger(__name__)


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if name == "non_field_errors":
                name = prefix or "non_field_errors"
            for sub, messages in _flatten(value, name).items():
                fields.setdefault(sub, []).extend(messages)
    elif isinstance(detail, list):
        for index, item in enumerate(detail):
            if isinstance(item, dict | list):
                for sub, messages in _flatten(item, f"{prefix}[{index}]").items():
                    fields.setdefault(sub, []).extend(messages)
            else:
                fields.setdefault(prefix or "non_field_errors", []).append(str(item))
    else:
        fields.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return fields


# Errors about the request as a whole, reported on a pseudo-field so that ``fields`` names it.
_REQUEST_FIELDS = {
    exceptions.ParseError: "body",
    exceptions.UnsupportedMediaType: "content_type",
}


def error_response(code: str, detail: str, http_status: int, fields=None) -> Response:
    return Response(error_body(code, detail, fields), status=http_status)


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        # Django's own guard on form bodies (DATA_UPLOAD_MAX_MEMORY_SIZE); most oversized
        # bodies are stopped earlier by core.request_limits with the same answer.
        return error_response("too_large", str(exc), status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                              {"body": [str(exc)]})
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        # Django raises these as "suspicious" (an HTML 400 page); the API names the problem.
        return error_response("invalid", str(exc), status.HTTP_400_BAD_REQUEST,
                              {"body": [str(exc)]})
    if isinstance(exc, VarcoError):
        set_rollback()
        return Response(exc.body(), status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, ProtectedError | RestrictedError):
        # e.g. deleting an attendee whose ticket has check-ins another app keeps for the record
        set_rollback()
        blockers = getattr(exc, "protected_objects", None) or getattr(exc, "restricted_objects", ())
        # The models' names in the request's language, like the rest of the message.
        kinds = sorted({str(obj._meta.verbose_name_plural) for obj in blockers})
        detail = (_("It cannot be deleted: other records depend on it (%(kinds)s).")
                  % {"kinds": ", ".join(kinds)} if kinds
                  else _("It cannot be deleted: other records depend on it."))
        return error_response("protected", detail, status.HTTP_409_CONFLICT)
    if isinstance(exc, IntegrityError):
        # Validation passed but a concurrent request saved a clashing row first (two clicks
        # creating the same slug): the database refused it, so say so instead of a 500.
        log.warning("integrity conflict in %s: %s", context.get("view"), exc)
        set_rollback()
        return error_response(
            "conflict",
            _("The change conflicts with data saved at the same moment; reload and retry."),
            status.HTTP_409_CONFLICT,
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = invalid_body(_flatten(exc.detail))
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(exc, "default_code", "error")
        if isinstance(detail, dict | list):
            response.data = error_body(code, str(code), _flatten(detail))
        else:
            fields = {}
            for kind, name in _REQUEST_FIELDS.items():
                if isinstance(exc, kind):
                    fields = {name: [str(detail)]}
            response.data = error_body(getattr(detail, "code", code) or code, str(detail), fields)
    return response


def _api_error(code: str, detail: str, http_status: int) -> JsonResponse:
    return JsonResponse(error_body(code, detail), status=http_status)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler404``: an unknown URL under /api/ gets the JSON shape, pages the HTML one."""
    if request.path.startswith("/api/"):
        return _api_error("not_found", _("No such API endpoint."), 404)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler400``: a request Django refused as malformed, as JSON under /api/."""
    if request.path.startswith("/api/"):
        return _api_error("bad_request", _("The request is malformed."), 400)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: clients of the API can still parse the answer (the traceback is logged)."""
    if request.path.startswith("/api/"):
        return _api_error("server_error", _("Internal error; it has been logged."), 500)
    return defaults.server_error(request)
