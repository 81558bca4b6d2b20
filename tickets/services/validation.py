"""The text and e-mail rules every write path applies (API, admin, forms, CSV import).

Pure checks on values (``core.text`` does the character work); a ``ServiceError`` names the
field at fault.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from core import text
from core.errors import ServiceError

# One-line texts and their lengths, per model: the one rule every write path applies.
# (field: (max length, required, multi-line))
ATTENDEE_TEXT = {"name": (200, True, False), "organisation": (200, False, False)}
EVENT_TEXT = {"name": (200, True, False), "venue": (200, False, False),
              "address": (300, False, False), "description": (None, False, True)}
TICKET_TYPE_TEXT = {"name": (200, True, False)}
ORGANISER_TEXT = {"name": (200, True, False)}


def clean_text_fields(rules: dict[str, tuple[int | None, bool, bool]], data: dict) -> dict:
    """``data`` with each text field of ``rules`` present cleaned (``core.text``).

    Fields absent from ``data`` are left alone (a PATCH); a ``ServiceError`` names the first
    field at fault. ``name_i18n`` (translations of a name) follows the rule of ``name``.
    """
    cleaned = dict(data)
    for field, (max_length, required, multiline) in rules.items():
        if field not in data:
            continue
        value = data[field] if data[field] is not None else ""
        try:
            value = text.clean_text(value, max_length, multiline=multiline)
        except text.TextRefused as exc:
            raise ServiceError(field, exc.message) from None
        if required and not value:
            raise ServiceError(field, _("This field may not be blank."))
        cleaned[field] = value
    if "name" in rules and isinstance(data.get("name_i18n"), dict):
        translations = {}
        for language, name in data["name_i18n"].items():
            try:
                translations[language] = text.clean_text(name, rules["name"][0])
            except text.TextRefused as exc:
                raise ServiceError("name_i18n",
                                   format_lazy("{}: {}", language, exc.message)) from None
        cleaned["name_i18n"] = translations
    return cleaned


def clean_email(address: str) -> tuple[str, str]:
    """(the address to keep, its uniqueness key) or a ``ServiceError`` naming ``email``.

    The address kept is the one typed (trimmed, lower-cased as always: it is shown and the
    ticket is sent to it; Django's mail encodes an IDN domain for SMTP); the key is
    ``core.text.email_key``, which the database's unique constraint holds per event.
    """
    try:
        email = text.clean_text(address, 254).lower()
        validate_email(email)
        return email, text.email_key(email)
    except (ValidationError, text.TextRefused):
        raise ServiceError("email", format_lazy(_("Not a valid e-mail address: {address!r}."),
                                             address=address)) from None

