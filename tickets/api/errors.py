"""One JSON error shape for the whole API.

``{"error": <code>, "detail": <message>, "fields": {<field>: [<message>, ...]}}`` — ``fields``
names each input at fault, so clients can point at it. Unexpected exceptions are not turned
into 400s: they stay 500s and are logged with a traceback.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from tickets.services import ServiceError


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


def error_response(code: str, detail: str, http_status: int, fields=None) -> Response:
    body = {"error": code, "detail": detail}
    if fields:
        body["fields"] = fields
    return Response(body, status=http_status)


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        return error_response(
            exc.code, exc.message, status.HTTP_400_BAD_REQUEST, {exc.field: [exc.message]}
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    if isinstance(exc, Http404):
        return error_response("not_found", "Not found.", status.HTTP_404_NOT_FOUND)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        names = ", ".join(sorted(fields))
        response.data = {
            "error": "invalid",
            "detail": f"Invalid input: {names}.",
            "fields": fields,
        }
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(exc, "default_code", "error")
        if isinstance(detail, dict | list):
            response.data = {"error": code, "detail": str(code), "fields": _flatten(detail)}
        else:
            response.data = {"error": getattr(detail, "code", code) or code, "detail": str(detail)}
    return response
