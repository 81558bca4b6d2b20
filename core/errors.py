"""The one error hierarchy and the one JSON error body.

Every refusal Varco answers is ``{"error": code, "detail": message, "fields": {field:
[message, ...]}}``; ``fields`` is always present (empty when no single input is at fault), so
clients need no special case (README, "Errors"). ``error_body`` is the only place that shape is
built: the API's exception handler (core.api.exceptions), the door API (checkin.api.door), the
request-size and login-lockout guards and the attendance pages all call it.

Services raise ``ServiceError`` (or a subclass) when a rule is broken; the interfaces turn it
into an answer (a 400/409 body, a form error, a command error) without knowing the rule.
"""

from __future__ import annotations


def error_body(code: str, detail: str, fields: dict[str, list[str]] | None = None) -> dict:
    """The JSON body of every refusal."""
    return {"error": code, "detail": detail, "fields": fields or {}}


def invalid_body(fields: dict[str, list[str]]) -> dict:
    """A 400 naming each input at fault."""
    return error_body("invalid", f"Invalid input: {', '.join(sorted(fields))}.", fields)


class VarcoError(Exception):
    """Base of Varco's own errors: a ``code`` for machines and a ``message`` for people."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def body(self) -> dict:
        return error_body(self.code, self.message)


class ServiceError(VarcoError):
    """A rule was broken; ``field`` names the input at fault (for a 400 naming it)."""

    code = "invalid"

    def __init__(self, field: str, message: str, code: str = "invalid") -> None:
        super().__init__(message, code)
        self.field = field

    def body(self) -> dict:
        return error_body(self.code, self.message, {self.field: [self.message]})
