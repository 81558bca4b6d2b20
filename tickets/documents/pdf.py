"""The PDF ticket: one A4 page with the QR code, the event and the attendee, in their language.

Speed matters (a worker renders thousands in a row), so everything that does not depend on
the ticket is prepared once per process and reused:

- fonts and text in every script (``typeset``, shared with the name badges): DejaVu Sans
  registered once, fallback fonts loaded on first need and shaped with HarfBuzz, names fitted
  by measured width (shrunk, then wrapped, never cut short);
- the page template: labels in each language with their measured positions, colours and the
  fixed geometry (``_Template``, one per language);
- the event block (name wrapped to width, date and hours in the event's time zone, venue,
  address) cached per event and language (``_event_block``).

Per ticket only the QR matrix, five short strings and one vector path are drawn. The QR is
drawn as one filled path of merged horizontal runs (crisp at any zoom, unlike a scaled image),
with its numbers pre-formatted; the QR matrix itself comes from ``qr`` (qrcode's
symbol, with the mask choice done without building the symbol eight times).
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass

from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib.colors import Color, HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from core import languages
from tickets.dates import event_when
from tickets.documents import qr
from tickets.documents.typeset import (
    BOLD,
    LEADING,
    REGULAR,
    draw_fitted,
    draw_lines,
    draw_text,
    fit,
    fonts,
    qr_operators,
)
from tickets.models import Event, Ticket

PAGE_W, PAGE_H = A4
MARGIN = 18 * mm
CONTENT_W = PAGE_W - 2 * MARGIN
QR_SIZE = 58 * mm  # the issue asks >= 35 mm; larger reads faster on worn phone screens
ACCENT = HexColor("#1d4e89")
GREY = HexColor("#5f6b7a")
LIGHT = HexColor("#e8eef6")


@dataclass(frozen=True)
class _Label:
    text: str
    x: float
    dy: float  # below the top of the QR block (the block moves with the event name's length)
    font: str
    size: float
    color: Color


@dataclass(frozen=True)
class _Template:
    """Everything on the page that depends only on the language."""

    title: str
    labels: tuple[_Label, ...]
    footer: tuple[str, ...]


# Fixed geometry (points from the bottom-left corner, as PDF counts).
BAND_H = 16 * mm
TOP = PAGE_H - MARGIN
EVENT_TOP = TOP - BAND_H - 12 * mm
QR_X = MARGIN - 3 * mm  # the quiet zone is white; let it eat into the margin
DETAILS_X = MARGIN + QR_SIZE + 6 * mm
DETAILS_W = PAGE_W - MARGIN - DETAILS_X


@functools.cache
def _template(language: str) -> _Template:
    fonts()
    with translation.override(language):
        labels = (
            _Label(_("Attendee"), DETAILS_X, 6 * mm, REGULAR, 9, GREY),
            _Label(_("Organisation"), DETAILS_X, 23 * mm, REGULAR, 9, GREY),
            _Label(_("Ticket type"), DETAILS_X, 37 * mm, REGULAR, 9, GREY),
            _Label(_("Reference"), DETAILS_X, 51 * mm, REGULAR, 9, GREY),
        )
        title = _("Admission ticket")
        footer = tuple(
            simpleSplit(
                _("Show this QR code at the entrance, printed or on your phone. The ticket is "
                  "personal; the reference lets staff find it if the code cannot be read."),
                REGULAR, 10, CONTENT_W,
            )
        )
    return _Template(title, labels, footer)


@dataclass(frozen=True)
class _EventBlock:
    name_lines: tuple[str, ...]
    name_size: float
    when: str
    venue: tuple[float, list[str]]  # (size, lines) as ``typeset.fit`` finds them
    address: tuple[float, list[str]]


def _event_block(event: Event, language: str) -> _EventBlock:
    return _event_block_cached(
        event.pk, event.name, event.venue, event.address, event.start, event.end,
        event.timezone, language,
    )


@functools.lru_cache(maxsize=256)
def _event_block_cached(pk, name, venue, address, start, end, timezone, language) -> _EventBlock:
    fonts()
    event = Event(pk=pk, name=name, venue=venue, address=address, start=start, end=end,
                  timezone=timezone)
    size, lines = fit(name, BOLD, (22,), CONTENT_W, 2 * LEADING * 22)
    # One line each (6 mm apart): long ones shrink; past legibility, two tiny lines.
    return _EventBlock(
        tuple(lines), size, event_when(event, language),
        fit(venue, BOLD, (13, 11), CONTENT_W, below=6),
        fit(address, REGULAR, (11, 9), CONTENT_W, below=6),
    )


def qr_matrix(code: str) -> list[list[bool]]:
    """The QR modules for ``code`` (with the quiet zone), error correction M.

    The same symbol ``qrcode`` makes, with its mask choice done faster (tickets.documents.qr).
    """
    return qr.matrix(code)


def render_ticket_pdf(ticket: Ticket, code: str) -> bytes:
    """The ticket's PDF. ``code`` is its QR text (``services.ticket_code(ticket)``)."""
    attendee = ticket.attendee
    language = attendee.language
    template = _template(language)
    block = _event_block(ticket.event, language)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(f"{ticket.event.name} — {ticket.reference}")
    canvas.setAuthor("Varco")

    # Header band and event block.
    canvas.setFillColor(ACCENT)
    canvas.rect(MARGIN, TOP - BAND_H, CONTENT_W, BAND_H, stroke=0, fill=1)
    y = EVENT_TOP
    canvas.setFillColor(HexColor("#000000"))
    for line in block.name_lines:
        draw_text(canvas, line, BOLD, block.name_size, MARGIN, y)
        y -= 9.5 * mm * block.name_size / 22
    canvas.setFont(REGULAR, 13)
    canvas.drawString(MARGIN, y, block.when)
    y -= 7 * mm
    draw_lines(canvas, *block.venue, BOLD, MARGIN, y)
    y -= 6 * mm
    draw_lines(canvas, *block.address, REGULAR, MARGIN, y)
    qr_top = y - 8 * mm

    # Static labels of the language.
    canvas.setFillColor(HexColor("#ffffff"))
    canvas.setFont(BOLD, 15)
    canvas.drawString(MARGIN + 5 * mm, TOP - BAND_H + 5.5 * mm, template.title)
    for label in template.labels:
        canvas.setFillColor(label.color)
        canvas.setFont(label.font, label.size)
        canvas.drawString(label.x, qr_top - label.dy, label.text)

    # The QR code, then the attendee's details beside it.
    canvas.setFillColor(HexColor("#000000"))
    canvas.addLiteral(qr_operators(qr_matrix(code), QR_X, qr_top, QR_SIZE))
    draw_fitted(canvas, attendee.name, BOLD, (17, 15, 13, 11), DETAILS_X, qr_top - 13 * mm,
                 DETAILS_W)
    draw_fitted(canvas, attendee.organisation or "—", REGULAR, (12, 11, 10, 9), DETAILS_X,
                 qr_top - 29 * mm, DETAILS_W)
    draw_fitted(canvas, ticket.ticket_type.localized_name(language), REGULAR, (12, 10),
                 DETAILS_X, qr_top - 43 * mm, DETAILS_W)
    canvas.setFont(BOLD, 20)
    canvas.drawString(DETAILS_X, qr_top - 59 * mm, ticket.reference)
    canvas.setFillColor(GREY)
    canvas.setFont(REGULAR, 9)
    canvas.drawRightString(PAGE_W - MARGIN, qr_top - 59 * mm, f"#{ticket.serial}")

    # Footer instructions and the cut line.
    canvas.setFillColor(HexColor("#000000"))
    y = qr_top - QR_SIZE - 8 * mm
    canvas.setFont(REGULAR, 10)
    for line in template.footer:
        canvas.drawString(MARGIN, y, line)
        y -= 5 * mm
    canvas.setStrokeColor(LIGHT)
    canvas.setDash(4, 3)
    canvas.line(MARGIN, y - 2 * mm, PAGE_W - MARGIN, y - 2 * mm)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def warm_up() -> None:
    """Load fonts and templates ahead of the first ticket (worker start-up)."""
    fonts()
    for language in languages.CODES:
        _template(language)
