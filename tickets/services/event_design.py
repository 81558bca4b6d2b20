"""The ticket's look, as an organiser sets it: logo, brand colour, practical information and
which languages a ticket speaks. One rule per field, for every write path (API, admin).

- **Logo**: PNG, JPEG, GIF or WebP of at most ``LOGO_MAX_BYTES`` and ``LOGO_MAX_PIXELS``
  (checked from the header before any decoding, so a decompression bomb is refused unread).
  It is stored *normalised*: transparency flattened on white (the ticket is printed on white
  paper), scaled down to ``LOGO_STORED_SIZE`` and saved as PNG without metadata (as JPEG if
  the PNG would exceed ``LOGO_STORED_PNG_BYTES``: a photograph). The PDF then
  embeds it as it is, and what is stored is a few tens of kilobytes, whatever was uploaded.
- **Brand colour**: ``#rrggbb`` (lower-cased; ``#RGB`` is expanded), or empty for Varco's.
- **Practical information**: ``{language: {section: text}}`` with the sections of
  ``PRACTICAL_SECTIONS``; multi-line texts under the project's text rule (``core.text``).
- **Ticket languages**: ``attendee`` (each ticket in its attendee's language) or ``all`` (every
  language of the event on each ticket, Italian first).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from core import languages, text
from core.errors import ServiceError

LOGO_MAX_BYTES = 160 * 1024  # base64 in a JSON body stays under VARCO_MAX_BODY_BYTES (256 KB)
LOGO_MAX_PIXELS = 4096 * 4096
LOGO_STORED_SIZE = (600, 300)  # 600 px over the logo's 50 mm box: about 300 dpi printed
LOGO_STORED_PNG_BYTES = 96 * 1024  # larger as PNG: stored as JPEG
LOGO_FORMATS = frozenset({"PNG", "JPEG", "GIF", "WEBP"})
# Section keys and their lengths: all of them fit the ticket's lower half at a legible size.
PRACTICAL_SECTIONS = {"directions": 500, "programme": 800, "contact": 200}
PRACTICAL_LINES = 12  # per section: line breaks count, so a text cannot be a column of dots
HEX = re.compile(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")
LANGUAGE_MODES = ("attendee", "all")


def clean_logo(data: bytes | str | None) -> bytes:
    """The logo to store (normalised PNG bytes, ``b""`` for none) or ``ServiceError``.

    ``data``: the file's bytes, or base64 text (optionally a ``data:`` URL, as the API takes
    it); empty or None removes the logo.
    """
    if data is None or data in ("", b""):
        return b""
    if isinstance(data, str):
        payload = data.split(",", 1)[1] if data.startswith("data:") and "," in data else data
        if len(payload) > LOGO_MAX_BYTES * 4 // 3 + 4:
            raise _too_big()
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise ServiceError("logo", _("The logo must be an image file in base64.")) from None
    if len(data) > LOGO_MAX_BYTES:
        raise _too_big()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in LOGO_FORMATS:
                raise ServiceError("logo", _("The logo must be a PNG, JPEG, GIF or WebP image."))
            width, height = image.size
            if width * height > LOGO_MAX_PIXELS or not width or not height:
                raise ServiceError(
                    "logo", format_lazy(_("The logo may have at most {count} pixels."),
                                        count=f"{LOGO_MAX_PIXELS:,}")
                )
            image.load()
    except ServiceError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ServiceError("logo", _("The logo must be a PNG, JPEG, GIF or WebP image.")) from None
    return _normalised(image)


def _too_big() -> ServiceError:
    return ServiceError("logo", format_lazy(_("The logo may be at most {size} KB."),
                                            size=LOGO_MAX_BYTES // 1024),
                        code="too_big")


def _normalised(image: Image.Image) -> bytes:
    image = image.convert("RGBA")
    flat = Image.new("RGB", image.size, (255, 255, 255))
    flat.paste(image, mask=image.getchannel("A"))
    flat.thumbnail(LOGO_STORED_SIZE, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    flat.save(out, format="PNG", optimize=True)
    if out.tell() <= LOGO_STORED_PNG_BYTES:
        return out.getvalue()
    # A photograph rather than a drawing: PNG would keep every pixel's noise (up to 540 KB
    # at 600 x 300); JPEG keeps the stored logo, and every ticket's PDF, small.
    out = io.BytesIO()
    flat.save(out, format="JPEG", quality=88, optimize=True)
    return out.getvalue()


def clean_brand_color(value: str | None) -> str:
    """``#rrggbb`` lower-case, ``""`` for none, or ``ServiceError``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    match = HEX.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ServiceError("brand_color", _("A colour is written #rrggbb, e.g. #1d4e89."))
    digits = match.group(1).lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return f"#{digits}"


def clean_practical_info(value: dict | None) -> dict:
    """``{language: {section: text}}`` cleaned (empty texts and languages dropped)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ServiceError("practical_info", _("A mapping of language code to sections is needed."))
    cleaned: dict[str, dict[str, str]] = {}
    for language, sections in value.items():
        if language not in languages.NAMES:
            raise ServiceError(
                "practical_info",
                format_lazy(_("Keys must be language codes ({codes}); not {key!r}."),
                            codes=", ".join(languages.CODES), key=language),
            )
        if not isinstance(sections, dict):
            raise ServiceError("practical_info", format_lazy(
                _("{language}: a mapping of section to text."), language=language))
        kept = {}
        for section, body in sections.items():
            if section not in PRACTICAL_SECTIONS:
                raise ServiceError(
                    "practical_info",
                    format_lazy(_("{language}: sections are {sections}; not {key!r}."),
                                language=language, sections=", ".join(PRACTICAL_SECTIONS),
                                key=section),
                )
            try:
                body = text.clean_text(body if body is not None else "",
                                       PRACTICAL_SECTIONS[section], multiline=True)
            except text.TextRefused as exc:
                raise ServiceError("practical_info", format_lazy(
                    "{}.{}: {}", language, section, exc.message)) from None
            body = "\n".join(line.rstrip() for line in body.replace("\r\n", "\n")
                             .replace("\r", "\n").replace("\t", " ").split("\n"))
            if body.count("\n") >= PRACTICAL_LINES:
                raise ServiceError(
                    "practical_info",
                    format_lazy(_("{language}.{section}: at most {count} lines."),
                                language=language, section=section, count=PRACTICAL_LINES),
                )
            if body:
                kept[section] = body
        if kept:
            cleaned[language] = {s: kept[s] for s in PRACTICAL_SECTIONS if s in kept}
    return cleaned


def clean_ticket_languages(value: str | None) -> str:
    if value not in LANGUAGE_MODES:
        raise ServiceError("ticket_languages", format_lazy(_("One of {choices}."),
                                                            choices=", ".join(LANGUAGE_MODES)))
    return value


CLEANERS = {
    "logo": clean_logo,
    "brand_color": clean_brand_color,
    "practical_info": clean_practical_info,
    "ticket_languages": clean_ticket_languages,
}


def clean_design_fields(data: dict) -> dict:
    """``data`` with each design field present cleaned (absent ones left alone: a PATCH)."""
    cleaned = dict(data)
    for field, cleaner in CLEANERS.items():
        if field in data:
            cleaned[field] = cleaner(data[field])
    return cleaned
