"""OpenAPI schema generation: every operation documents the errors it can answer.

drf-spectacular documents only the success response of each operation. A client (or
schemathesis' conformance checks) also needs the refusals: each is the one error shape of
core.api.exceptions. Which codes an operation can give follows from the view, so it is derived
here once instead of repeated on every view:

- 400 invalid input: every operation (core.query_params refuses a NUL in any query parameter
  of any request before the view runs, and writes validate their bodies);
- 409 a conflicting change, 413 a body over the size limit, 415 a body of the wrong media type:
  operations that change something (POST, PUT, PATCH, DELETE);
- 401 no or bad credentials, 403 not allowed (e.g. a session write without its CSRF token):
  operations behind authentication;
- 404 the object does not exist or is not the caller's: operations with path parameters;
- 429 over a rate limit: operations of throttled views;
- 406 an ``Accept`` header no renderer satisfies: every operation.

Codes a view documents itself (``@extend_schema(responses=...)``) are kept as they are.

Request bodies of serializers that refuse unknown fields (StrictFieldsMixin) say so with
``additionalProperties: false``.
"""

from __future__ import annotations

from drf_spectacular import openapi
from rest_framework import permissions

from core.api.serializers import ErrorSerializer, StrictFieldsMixin

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


ERROR_DESCRIPTIONS = {
    "400": "Invalid input (a body field or a query parameter); `fields` names each input at "
    "fault.",
    "401": "No credentials, or invalid ones.",
    "403": "Not allowed (e.g. a session request without its CSRF token).",
    "404": "No such object, or not one of the caller's.",
    "406": "No representation matches the Accept header.",
    "409": "The change conflicts with data saved at the same moment, or with records that "
    "depend on this one.",
    "413": "The request body is larger than this endpoint accepts.",
    "415": "The request body's media type is not accepted here.",
    "429": "Over the rate limit; retry after the `Retry-After` header's seconds.",
}


class AutoSchema(openapi.AutoSchema):
    def _error_codes(self) -> list[str]:
        codes = ["400", "406"]
        if self.method in UNSAFE_METHODS:
            codes += ["409", "413", "415"]
        if not all(isinstance(p, permissions.AllowAny) for p in self.view.get_permissions()):
            codes += ["401", "403"]
        if "{" in self.path:
            codes.append("404")
        if self.view.get_throttles():
            codes.append("429")
        return sorted(codes)

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(serializer, StrictFieldsMixin):
            schema["additionalProperties"] = False
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    ErrorSerializer, code, direction=direction
                )
                responses[code]["description"] = ERROR_DESCRIPTIONS[code]
        return responses
