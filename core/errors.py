"""The one error hierarchy and the one JSON error body.

Every refusal Varco answers is ``{"error": code, "detail": message, "fields": {field:
[message, ...]}}``; ``fields`` is always present (empty when no single input is at fault), so
clients need no special case (README, "Errors"). ``error_body`` is the only place that shape is
built: the API's exception handler (core.api.exceptions), the door API (checkin.api.door), the
request-size and login-lockout guards and the attendance pages all call it.

Services raise ``ServiceError`` (or a subclass) when a rule is broken; the interfaces turn it
into an answer (a 400/409 body, a form error, a command error) without knowing the rule.

Messages are for people, so they are translated: the raiser writes them with ``gettext_lazy``
(``format_lazy`` for values), and they become text only where they are shown — in the
language of that request (the console's switch, the API's ``Accept-Language``).
``error_body`` is that place for every JSON answer. The ``code`` is never translated: it is
what clients compare.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from django.utils.functional import Promise

# A message: text, or a lazy translation rendered in the language active where it is shown.
# Django is named, not imported: the print agent (badges.agent) runs next to a printer without
# Django and imports this module for VarcoError (.importlinter, tests/badges/agent).
Message = Union[str, "Promise"]  # a forward reference: `str | Promise` needs the import


def error_body(code: str, detail: Message,
               fields: dict[str, list[Message]] | None = None) -> dict:
    """The JSON body of every refusal, its messages rendered in the active language."""
    return {"error": code, "detail": str(detail),
            "fields": {name: [str(m) for m in messages]
                       for name, messages in (fields or {}).items()}}


def invalid_body(fields: dict[str, list[str]]) -> dict:
    """A 400 naming each input at fault."""
    # Imported here: the print agent imports this module without Django (see Message).
    from django.utils.translation import gettext

    return error_body("invalid", gettext("Invalid input: %(fields)s.")
                      % {"fields": ", ".join(sorted(fields))}, fields)


class VarcoError(Exception):
    """Base of Varco's own errors: a ``code`` for machines and a ``message`` for people."""

    code = "error"
    http_status = 400

    def __init__(self, message: Message, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def body(self) -> dict:
        return error_body(self.code, self.message)


class ServiceError(VarcoError):
    """A rule was broken; ``field`` names the input at fault (for a 400 naming it)."""

    code = "invalid"

    def __init__(self, field: str, message: Message, code: str = "invalid") -> None:
        super().__init__(message, code)
        self.field = field

    def body(self) -> dict:
        return error_body(self.code, self.message, {self.field: [self.message]})
