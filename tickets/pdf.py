"""The PDF ticket: one A4 page with the QR code, the event and the attendee, in their language.

Speed matters (a worker renders thousands in a row), so everything that does not depend on
the ticket is prepared once per process and reused:

- fonts: DejaVu Sans (shipped in ``tickets/fonts``; reportlab's own Vera covers Latin-1 only,
  and no system font can be assumed) is parsed and registered once; it covers Italian and
  every Latin, Greek and Cyrillic name. Chinese/Japanese/Korean names fall back to a
  non-embedded CID font (the reader supplies the glyphs). Other scripts DejaVu lacks are
  shown with its fallback glyph: a known limit.
- the page template: labels in each language with their measured positions, colours and the
  fixed geometry (``_Template``, one per language);
- the event block (name wrapped to width, date and hours in the event's time zone, venue,
  address) cached per event and language (``_event_block``).

Per ticket only the QR matrix, five short strings and one vector path are drawn. The QR is
drawn as one filled path of merged horizontal runs (crisp at any zoom, unlike a scaled image),
with its numbers pre-formatted; the QR matrix itself comes from ``tickets.qr`` (qrcode's
symbol, with the mask choice done without building the symbol eight times).
"""

from __future__ import annotations

import functools
import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib.colors import Color, HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from tickets import qr
from tickets.dates import event_when
from tickets.models import Event, Ticket

FONT_DIR = Path(__file__).resolve().parent / "fonts"
REGULAR = "VarcoSans"
BOLD = "VarcoSans-Bold"
CJK = "STSong-Light"

PAGE_W, PAGE_H = A4
MARGIN = 18 * mm
CONTENT_W = PAGE_W - 2 * MARGIN
QR_SIZE = 58 * mm  # the issue asks >= 35 mm; larger reads faster on worn phone screens
ACCENT = HexColor("#1d4e89")
GREY = HexColor("#5f6b7a")
LIGHT = HexColor("#e8eef6")


@functools.cache
def _fonts() -> frozenset[int]:
    """Register the fonts once per process; return the code points DejaVu Sans covers."""
    regular = TTFont(REGULAR, str(FONT_DIR / "DejaVuSans.ttf"))
    pdfmetrics.registerFont(regular)
    pdfmetrics.registerFont(TTFont(BOLD, str(FONT_DIR / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFont(UnicodeCIDFont(CJK))
    return frozenset(regular.face.charToGlyph)


def _font_for(text: str, preferred: str) -> str:
    """``preferred`` unless the text needs glyphs only the CJK fallback has."""
    covered = _fonts()
    for char in text:
        if ord(char) not in covered and unicodedata.east_asian_width(char) in ("W", "F"):
            return CJK
    return preferred


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
    _fonts()
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
    when: str
    venue: str
    address: str


def _event_block(event: Event, language: str) -> _EventBlock:
    return _event_block_cached(
        event.pk, event.name, event.venue, event.address, event.start, event.end,
        event.timezone, language,
    )


@functools.lru_cache(maxsize=256)
def _event_block_cached(pk, name, venue, address, start, end, timezone, language) -> _EventBlock:
    _fonts()
    event = Event(pk=pk, name=name, venue=venue, address=address, start=start, end=end,
                  timezone=timezone)
    font = _font_for(name, BOLD)
    lines = simpleSplit(name, font, 22, CONTENT_W)[:3]
    return _EventBlock(tuple(lines), event_when(event, language), venue, address)


def qr_matrix(code: str) -> list[list[bool]]:
    """The QR modules for ``code`` (with the quiet zone), error correction M.

    The same symbol ``qrcode`` makes, with its mask choice done faster (tickets.qr).
    """
    return qr.matrix(code)


@functools.cache
def _qr_grid(modules: int, x: float, top: float, size: float) -> tuple[list[str], list[str]]:
    """Pre-formatted PDF numbers for a QR of ``modules`` modules: x offsets and row bottoms.

    Formatting floats is most of the cost of drawing ~400 rectangles, and a ticket's QR
    always has the same version and place, so the numbers are formatted once.
    """
    step = size / modules
    xs = [f"{x + i * step:.3f}" for i in range(modules + 1)]
    ys = [f"{top - (i + 1) * step:.3f} " for i in range(modules)]
    return xs, ys


def _qr_operators(matrix: list[list[bool]], x: float, top: float, size: float) -> str:
    """One filled path of the dark modules, merged into horizontal runs."""
    modules = len(matrix)
    xs, ys = _qr_grid(modules, x, top, size)
    widths = _qr_widths(modules, size)
    height = widths[1]
    ops = []
    for row_index, row in enumerate(matrix):
        y = ys[row_index]
        start = -1
        for col, dark in enumerate(row):
            if dark:
                if start < 0:
                    start = col
            elif start >= 0:
                ops.append(f"{xs[start]} {y}{widths[col - start]} {height} re")
                start = -1
        if start >= 0:
            ops.append(f"{xs[start]} {y}{widths[modules - start]} {height} re")
    ops.append("f")
    return "\n".join(ops)


@functools.cache
def _qr_widths(modules: int, size: float) -> list[str]:
    step = size / modules
    return [f"{i * step:.3f}" for i in range(modules + 1)]


def _fit(text: str, font: str, sizes: tuple[float, ...], width: float) -> tuple[float, list[str]]:
    """The largest size at which ``text`` fits one line, else two lines at the smallest.

    Names are never cut short: a third line, if ever needed, is joined into the second
    (which then runs long rather than losing part of a name).
    """
    for size in sizes:
        if pdfmetrics.stringWidth(text, font, size) <= width:
            return size, [text]
    size = sizes[-1]
    lines = simpleSplit(text, font, size, width) or [""]
    if len(lines) > 2:
        lines = [lines[0], " ".join(lines[1:])]
    return size, lines


def _draw_fitted(canvas: Canvas, text: str, preferred: str, sizes: tuple[float, ...],
                 x: float, y: float, width: float) -> None:
    font = _font_for(text, preferred)
    size, lines = _fit(text, font, sizes, width)
    canvas.setFont(font, size)
    for line in lines:
        canvas.drawString(x, y, line)
        y -= size * 1.15


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
    name_font = _font_for(ticket.event.name, BOLD)
    for line in block.name_lines:
        canvas.setFont(name_font, 22)
        canvas.drawString(MARGIN, y, line)
        y -= 9.5 * mm
    canvas.setFont(REGULAR, 13)
    canvas.drawString(MARGIN, y, block.when)
    y -= 7 * mm
    canvas.setFont(_font_for(block.venue, BOLD), 13)
    canvas.drawString(MARGIN, y, block.venue)
    y -= 6 * mm
    canvas.setFont(_font_for(block.address, REGULAR), 11)
    canvas.drawString(MARGIN, y, block.address)
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
    canvas.addLiteral(_qr_operators(qr_matrix(code), QR_X, qr_top, QR_SIZE))
    _draw_fitted(canvas, attendee.name, BOLD, (17, 15, 13, 11), DETAILS_X, qr_top - 13 * mm,
                 DETAILS_W)
    _draw_fitted(canvas, attendee.organisation or "—", REGULAR, (12, 11, 10, 9), DETAILS_X,
                 qr_top - 29 * mm, DETAILS_W)
    _draw_fitted(canvas, ticket.ticket_type.localized_name(language), REGULAR, (12, 10),
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
    _fonts()
    for language in ("it", "en"):
        _template(language)
