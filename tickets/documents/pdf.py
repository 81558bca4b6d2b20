"""The PDF ticket: one A4 page worth keeping, in the organiser's colours and languages.

From the top: a band in the event's brand colour with the title; the event (name, date and
hours in the event's time zone, venue, address) beside the organiser's logo; the QR code (58 mm)
with the attendee, organisation, ticket type and reference; how to use it; and the practical
information the organiser entered (how to get there, programme, contact). The languages are
the organiser's choice (``Event.ticket_languages``): the attendee's own, or every language of
the event on each ticket (Italian first), labels side by side and practical information in one
column per language. Every text fits its box: long ones shrink, then wrap, never leaving the
page (``typesetting._fit``); practical information shrinks as a whole to the room left.

Speed matters (a worker renders thousands in a row), so everything that does not depend on the
ticket is prepared once per process and reused:

- fonts: registered once (``typesetting``);
- the page plan (``_plan``): every static text with its font, size, colour and position,
  the band, the rules, where the per-ticket texts go. Cached per event version (every field
  shown is part of the key) and language choice;
- the logo: decoded and compressed once per logo version, the same PDF image object written
  into every ticket (``logo``).

Per ticket only the QR matrix, five short strings, the plan's texts and one vector path are
drawn. The QR is one filled path of merged horizontal runs (crisp at any zoom, unlike a
scaled image), with its numbers pre-formatted; the QR matrix itself comes from ``qr``.
"""

from __future__ import annotations

import functools
import io
import json
from dataclasses import dataclass

from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib.colors import Color, HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from core import languages
from tickets.dates import event_when
from tickets.documents import logo as logos
from tickets.documents import qr
from tickets.documents.typesetting import (  # noqa: F401 - FONT_DIR, _runs... are read by tests
    BOLD,
    FALLBACK_FONTS,
    FONT_DIR,
    LEADING,
    REGULAR,
    SYSTEM_FONTS,
    _draw_fitted,
    _draw_text,
    _fit,
    _fonts,
    _runs,
    _wrap,
)
from tickets.models import Event, Ticket
from tickets.services.event_design import PRACTICAL_SECTIONS

PAGE_W, PAGE_H = A4
MARGIN = 18 * mm
CONTENT_W = PAGE_W - 2 * MARGIN
QR_SIZE = 58 * mm  # the issue asks >= 35 mm; larger reads faster on worn phone screens
ACCENT = HexColor("#1d4e89")
GREY = HexColor("#5f6b7a")
BLACK = HexColor("#000000")
WHITE = HexColor("#ffffff")

# Fixed geometry (points from the bottom-left corner, as PDF counts).
BAND_H = 16 * mm
TOP = PAGE_H - MARGIN
BOTTOM = MARGIN
EVENT_TOP = TOP - BAND_H - 12 * mm
LOGO_W, LOGO_H = 50 * mm, 25 * mm
LOGO_GAP = 6 * mm
QR_X = MARGIN - 3 * mm  # the quiet zone is white; let it eat into the margin
DETAILS_X = MARGIN + QR_SIZE + 6 * mm
DETAILS_W = PAGE_W - MARGIN - DETAILS_X
COLUMN_GAP = 8 * mm
# Practical information: body sizes tried, largest first, until all of it fits the room left.
INFO_SIZES = (10, 9.5, 9, 8.5, 8, 7.5, 7, 6.5, 6, 5.5, 5, 4.5, 4)
SEPARATOR = " / "  # between a label's languages on a bilingual ticket


@dataclass(frozen=True)
class _Text:
    text: str
    font: str
    size: float
    color: Color
    x: float
    y: float


@dataclass(frozen=True)
class _Plan:
    """Everything on the page that is the same for every ticket of an event and language
    choice: static texts placed, the band, and where the ticket's own texts go."""

    band: Color
    texts: tuple[_Text, ...]
    rules: tuple[tuple[float, float, float], ...]  # (x1, x2, y) lines in the brand colour
    qr_top: float
    languages: tuple[str, ...]
    logo_box: tuple[float, float, float, float] | None


def _luminance(color: Color) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.red) + 0.7152 * channel(color.green) + \
        0.0722 * channel(color.blue)


def _on(color: Color) -> Color:
    """Black or white, whichever reads better on ``color`` (WCAG contrast)."""
    return BLACK if _luminance(color) > 0.179 else WHITE


def _ink(color: Color) -> Color:
    """The brand colour for text on white paper, unless it is too light to read there."""
    return color if _luminance(color) < 0.4 else BLACK


def ticket_languages(event: Event, attendee_language: str) -> tuple[str, ...]:
    """The languages a ticket speaks: the attendee's, or every language of the event in
    Varco's order (Italian first) when the organiser chose ``all``."""
    if event.ticket_languages == Event.TicketLanguages.ALL:
        offered = event.languages or list(languages.CODES)
        chosen = tuple(code for code in languages.CODES if code in offered)
        if chosen:
            return chosen
    return (languages.or_default(attendee_language),)


def _in_each(langs: tuple[str, ...], text) -> list[str]:
    """``text()`` translated in each language, duplicates dropped (a name said once)."""
    said: list[str] = []
    for language in langs:
        with translation.override(language):
            value = text()
        if value not in said:
            said.append(value)
    return said


def _plan_for(event: Event, langs: tuple[str, ...]) -> _Plan:
    return _plan(
        event.pk, event.name, event.venue, event.address, event.start, event.end,
        event.timezone, event.brand_color,
        json.dumps(event.practical_info or {}, sort_keys=True, ensure_ascii=False),
        logos.logo_version(event) is not None, event.default_language, langs,
    )


@functools.lru_cache(maxsize=256)
def _plan(pk, name, venue, address, start, end, timezone, brand_color, practical_json,
          has_logo, default_language, langs) -> _Plan:
    _fonts()
    event = Event(pk=pk, name=name, venue=venue, address=address, start=start, end=end,
                  timezone=timezone)
    brand = HexColor(brand_color) if brand_color else ACCENT
    ink = _ink(brand)
    texts: list[_Text] = []

    def place(lines: list[str], font: str, size: float, color: Color, x: float, y: float,
              step: float | None = None) -> float:
        """Lines top down from baseline ``y``; the baseline after the last one."""
        for line in lines:
            texts.append(_Text(line, font, size, color, x, y))
            y -= step or size * LEADING
        return y

    # The band and its title.
    title = SEPARATOR.join(_in_each(langs, lambda: _("Admission ticket")))
    size, lines = _fit(title, BOLD, (15, 13, 11), CONTENT_W - 10 * mm, 0)
    place(lines[:1], BOLD, size, _on(brand), MARGIN + 5 * mm, TOP - BAND_H + 5.5 * mm)

    # The event, beside the logo.
    width = CONTENT_W - (LOGO_W + LOGO_GAP if has_logo else 0)
    size, lines = _fit(name, BOLD, (22,), width, 2 * LEADING * 22)
    y = place(lines, BOLD, size, BLACK, MARGIN, EVENT_TOP, 9.5 * mm * size / 22)
    when_sizes = (13, 11, 10) if len(langs) == 1 else (11.5, 10, 9)
    for language in langs:
        size, lines = _fit(event_when(event, language), REGULAR, when_sizes, width, 0)
        y = place(lines, REGULAR, size, BLACK, MARGIN, y, 6.5 * mm * size / 13)
    y -= 0.5 * mm
    for text, font, sizes in ((venue, BOLD, (13, 11)), (address, REGULAR, (11, 9))):
        size, lines = _fit(text, font, sizes, width, below=6)
        place(lines, font, size, BLACK, MARGIN, y)
        y -= 6 * mm
    qr_top = min(y - 2 * mm, EVENT_TOP - LOGO_H if has_logo else y - 2 * mm)
    logo_box = (PAGE_W - MARGIN - LOGO_W, TOP - BAND_H - 4 * mm - LOGO_H, LOGO_W, LOGO_H) \
        if has_logo else None

    # Labels of the attendee's details (the details themselves are drawn per ticket).
    for label, dy in (
        (lambda: _("Attendee"), 6 * mm), (lambda: _("Organisation"), 23 * mm),
        (lambda: _("Ticket type"), 37 * mm), (lambda: _("Reference"), 51 * mm),
    ):
        text = SEPARATOR.join(_in_each(langs, label))
        size, lines = _fit(text, REGULAR, (9, 8, 7), DETAILS_W, 0)
        place(lines[:1], REGULAR, size, GREY, DETAILS_X, qr_top - dy)

    # How to use the ticket.
    y = qr_top - QR_SIZE - 6 * mm
    footer_size = 10 if len(langs) == 1 else 9
    for text in _in_each(langs, lambda: _(
        "Show this QR code at the entrance, printed or on your phone. The ticket is personal; "
        "the reference lets staff find it if the code cannot be read."
    )):
        y = place(_wrap(text, REGULAR, footer_size, CONTENT_W), REGULAR, footer_size, BLACK,
                  MARGIN, y) - 1 * mm
    rules = []
    info = json.loads(practical_json)
    if info:
        rule_y = y + footer_size * 0.4
        rules.append((MARGIN, PAGE_W - MARGIN, rule_y))
        texts.extend(_practical(info, langs, default_language, ink, rule_y - 5 * mm))
    return _Plan(brand, tuple(texts), tuple(rules), qr_top, langs, logo_box)


def practical_columns(info: dict, langs: tuple[str, ...], default_language: str
                  ) -> list[tuple[str, dict]]:
    """(language, sections) per column: each language of the ticket that has practical
    information; a one-language ticket without its own falls back to the event's first
    language, then any (better in another language than not at all)."""
    columns = [(lang, info[lang]) for lang in langs if info.get(lang)]
    if columns or len(langs) > 1:
        return columns
    for lang in (default_language, *languages.CODES):
        if info.get(lang):
            return [(lang, info[lang])]
    return []


def practical_headings() -> dict[str, str]:
    """The sections' headings in the active language (the PDF and the ticket page)."""
    return {"directions": _("How to get there"), "programme": _("Programme"),
            "contact": _("Contact")}


def _info_lines(language: str, sections: dict, size: float, width: float
                ) -> list[tuple[str, str, float]]:
    """One column as (text, font, size) lines: the title, then each section's heading and
    its paragraphs wrapped to ``width``."""
    with translation.override(language):
        headings = practical_headings()
        lines = [(_("Practical information"), BOLD, size + 2)]
    for section in PRACTICAL_SECTIONS:
        if not sections.get(section):
            continue
        lines.append((headings[section], BOLD, size))
        for paragraph in sections[section].split("\n"):
            lines.extend((line, REGULAR, size) for line in _wrap(paragraph, REGULAR, size, width))
    return lines


def _practical(info: dict, langs: tuple[str, ...], default_language: str, ink: Color,
               top: float) -> list[_Text]:
    """The practical information placed below ``top``: one column per language, shrunk as a
    whole until the tallest column fits above the bottom margin (cut with "…" if even the
    smallest size cannot hold it: never drawn off the page)."""
    columns = practical_columns(info, langs, default_language)
    if not columns:
        return []
    width = (CONTENT_W - COLUMN_GAP * (len(columns) - 1)) / len(columns)
    room = top - BOTTOM

    def height(lines: list[tuple[str, str, float]]) -> float:
        return sum(size * LEADING + (size * 0.5 if font == BOLD else 0)
                   for _text, font, size in lines)

    for size in INFO_SIZES:
        laid = [_info_lines(lang, sections, size, width) for lang, sections in columns]
        if max(height(lines) for lines in laid) <= room:
            break
    texts = []
    for index, lines in enumerate(laid):
        x = MARGIN + index * (width + COLUMN_GAP)
        y = top
        for number, (text, font, size) in enumerate(lines):
            extra = size * 0.5 if font == BOLD and number else 0  # air above a heading
            y -= extra
            if y - size * 0.25 < BOTTOM:  # only when even the smallest size overflows
                if texts:
                    last = texts[-1]
                    texts[-1] = _Text(last.text.rstrip()[:-1] + "…", last.font, last.size,
                                      last.color, last.x, last.y)
                break
            texts.append(_Text(text, font, size, ink if font == BOLD else BLACK, x, y))
            y -= size * LEADING
    return texts


def qr_matrix(code: str) -> list[list[bool]]:
    """The QR modules for ``code`` (with the quiet zone), error correction M.

    The same symbol ``qrcode`` makes, with its mask choice done faster (tickets.documents.qr).
    """
    return qr.matrix(code)


def _details(values: list[str]) -> str:
    return SEPARATOR.join(dict.fromkeys(v for v in values if v))


def render_ticket_pdf(ticket: Ticket, code: str) -> bytes:
    """The ticket's PDF. ``code`` is its QR text (``services.ticket_code(ticket)``)."""
    attendee = ticket.attendee
    event = ticket.event
    langs = ticket_languages(event, attendee.language)
    plan = _plan_for(event, langs)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(f"{event.name} — {ticket.reference}")
    canvas.setAuthor("Varco")

    canvas.setFillColor(plan.band)
    canvas.rect(MARGIN, TOP - BAND_H, CONTENT_W, BAND_H, stroke=0, fill=1)
    if plan.rules:
        canvas.setStrokeColor(plan.band)
        canvas.setLineWidth(1.2)
        for x1, x2, y in plan.rules:
            canvas.line(x1, y, x2, y)
    color = None
    for text in plan.texts:
        if text.color is not color:
            canvas.setFillColor(text.color)
            color = text.color
        _draw_text(canvas, text.text, text.font, text.size, text.x, text.y)
    if plan.logo_box is not None and (prepared := logos.prepared_logo(event)) is not None:
        prepared.draw(canvas, *plan.logo_box)

    # The QR code, then the attendee's details beside it.
    qr_top = plan.qr_top
    canvas.setFillColor(BLACK)
    canvas.addLiteral(qr.pdf_path(qr_matrix(code), QR_X, qr_top, QR_SIZE))
    _draw_fitted(canvas, attendee.name, BOLD, (17, 15, 13, 11), DETAILS_X, qr_top - 13 * mm,
                 DETAILS_W)
    _draw_fitted(canvas, attendee.organisation or "—", REGULAR, (12, 11, 10, 9), DETAILS_X,
                 qr_top - 29 * mm, DETAILS_W)
    kind = ticket.ticket_type
    _draw_fitted(canvas, _details([kind.localized_name(lang) for lang in langs]), REGULAR,
                 (12, 10), DETAILS_X, qr_top - 43 * mm, DETAILS_W)
    canvas.setFont(BOLD, 20)
    canvas.drawString(DETAILS_X, qr_top - 59 * mm, ticket.reference)
    canvas.setFillColor(GREY)
    canvas.setFont(REGULAR, 9)
    canvas.drawRightString(PAGE_W - MARGIN, qr_top - 59 * mm, f"#{ticket.serial}")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def warm_up() -> None:
    """Load the fonts ahead of the first ticket (worker start-up)."""
    _fonts()
