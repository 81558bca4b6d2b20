"""The PDF ticket: one A4 page with the QR code, the event and the attendee, in their language.

Speed matters (a worker renders thousands in a row), so everything that does not depend on
the ticket is prepared once per process and reused:

- fonts: DejaVu Sans (shipped in ``tickets/documents/fonts``; reportlab's own Vera covers
  Latin-1 only) is parsed and registered once; it covers Italian and every Latin, Greek and
  Cyrillic name, and such a text is drawn exactly as before (one string, one font). A text
  with characters DejaVu lacks is cut into runs, each drawn in the first font of
  ``FALLBACK_FONTS`` that has them (Noto Sans for Arabic, Hebrew, Indic scripts and Thai,
  Droid Sans Fallback for Chinese/Japanese/Korean, Symbola for emoji: Debian packages
  installed by ``make fonts`` and the Dockerfile), loaded on first use and shaped with
  HarfBuzz (``uharfbuzz``: Arabic joins right to left, Devanagari conjuncts). Every font is
  embedded as a subset of the glyphs the ticket uses (reportlab's TrueType embedding always
  subsets). Limits: emoji are monochrome and a ZWJ sequence shows as its parts; a name mixing
  a right-to-left run with left-to-right text keeps the runs in typed order (no full bidi
  reordering).
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
import logging
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib.colors import Color, HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import ShapedStr, TTFont, shapeStr
from reportlab.pdfgen.canvas import Canvas

from core import languages
from tickets.dates import event_when
from tickets.documents import qr
from tickets.models import Event, Ticket

FONT_DIR = Path(__file__).resolve().parent / "fonts"
REGULAR = "VarcoSans"
BOLD = "VarcoSans-Bold"
# Fonts for the scripts DejaVu lacks, in the order they are tried: Debian's fonts-noto-core,
# fonts-droid-fallback and fonts-symbola (``make fonts``; the Dockerfile installs them too).
SYSTEM_FONTS = Path("/usr/share/fonts/truetype")
FALLBACK_FONTS = (
    ("VarcoArabic", "noto/NotoSansArabic-Regular.ttf"),
    ("VarcoHebrew", "noto/NotoSansHebrew-Regular.ttf"),
    ("VarcoDevanagari", "noto/NotoSansDevanagari-Regular.ttf"),
    ("VarcoBengali", "noto/NotoSansBengali-Regular.ttf"),
    ("VarcoTamil", "noto/NotoSansTamil-Regular.ttf"),
    ("VarcoThai", "noto/NotoSansThai-Regular.ttf"),
    ("VarcoEthiopic", "noto/NotoSansEthiopic-Regular.ttf"),
    ("VarcoCJK", "droid/DroidSansFallbackFull.ttf"),
    ("VarcoKorean", "nanum/NanumGothic.ttf"),  # Droid Sans Fallback has no Hangul
    ("VarcoSymbols", "ancient-scripts/Symbola_hint.ttf"),
)
# Drawn glyph by glyph like DejaVu: these scripts need no shaping, and HarfBuzz would map
# Hangul to jamo glyphs the PDF's text layer cannot turn back into the typed syllables.
UNSHAPED = frozenset({"VarcoCJK", "VarcoKorean", "VarcoSymbols"})
# Hebrew, Arabic, Syriac, Thaana, NKo and their presentation forms: shaped, right to left.
RIGHT_TO_LEFT = ((0x0590, 0x08FF), (0xFB1D, 0xFDFF), (0xFE70, 0xFEFF))
# Sizes a text may shrink to below its own smallest before it wraps onto more lines.
SMALL_SIZES = (18, 15, 13, 11, 10, 9, 8, 7, 6, 5, 4.5, 4, 3.5, 3)
LEADING = 1.15

log = logging.getLogger(__name__)

PAGE_W, PAGE_H = A4
MARGIN = 18 * mm
CONTENT_W = PAGE_W - 2 * MARGIN
QR_SIZE = 58 * mm  # the issue asks >= 35 mm; larger reads faster on worn phone screens
ACCENT = HexColor("#1d4e89")
GREY = HexColor("#5f6b7a")
LIGHT = HexColor("#e8eef6")


def _to_unicode_cmap(fontname: str, subset: list[int]) -> str:
    """reportlab's ``makeToUnicodeCMap`` with characters beyond U+FFFF written as UTF-16, as
    the PDF format asks: reportlab writes ``<1F600>`` for 😀, which readers take as U+1F60
    ("ὠ" when the ticket's text is copied or searched). Installed over reportlab's below."""
    cmap = _reportlab_to_unicode_cmap(fontname, subset)
    if all(code <= 0xFFFF for code in subset):
        return cmap
    for index, code in enumerate(subset):
        if code > 0xFFFF:
            utf16 = chr(code).encode("utf-16-be").hex().upper()
            cmap = cmap.replace(f"<{index:02X}> <{code:04X}>", f"<{index:02X}> <{utf16}>", 1)
    return cmap


_reportlab_to_unicode_cmap = ttfonts.makeToUnicodeCMap
ttfonts.makeToUnicodeCMap = _to_unicode_cmap


@functools.cache
def _fonts() -> frozenset[int]:
    """Register the fonts once per process; return the code points DejaVu Sans covers."""
    regular = TTFont(REGULAR, str(FONT_DIR / "DejaVuSans.ttf"))
    pdfmetrics.registerFont(regular)
    pdfmetrics.registerFont(TTFont(BOLD, str(FONT_DIR / "DejaVuSans-Bold.ttf")))
    # DejaVu has Hebrew and Arabic letters, but drawn one by one they come out left to right
    # and unjoined: those go to the shaped fallback fonts.
    return frozenset(code for code in regular.face.charToGlyph
                     if not any(low <= code <= high for low, high in RIGHT_TO_LEFT))


@functools.cache
def _fallback(name: str) -> frozenset[int]:
    """Load one fallback font on first need (only tickets that need it pay for parsing it);
    return the code points it covers (none if it is not installed)."""
    path = SYSTEM_FONTS / dict(FALLBACK_FONTS)[name]
    if not path.exists():
        log.warning("font %s is missing (make fonts installs it); some names print as boxes",
                    path)
        return frozenset()
    font = TTFont(name, str(path), shapable=name not in UNSHAPED)
    pdfmetrics.registerFont(font)
    return frozenset(font.face.charToGlyph)


def _font_having(char: str, preferred: str) -> str | None:
    code = ord(char)
    if code in _fonts():
        return preferred
    for name, _path in FALLBACK_FONTS:
        if code in _fallback(name):
            return name
    return None


def _clings(char: str) -> bool:
    """Marks, joiners, spaces and punctuation stay in the run they are in (an Arabic name's
    space must not split it into two runs, which would put its words in the wrong order)."""
    return unicodedata.category(char)[0] in "MZP" or char in "\u200c\u200d"


def _runs(text: str, preferred: str) -> list[tuple[str, str]]:
    """``text`` cut into (font, text) runs; one run in ``preferred`` for DejaVu's scripts."""
    if _fonts().issuperset(map(ord, text)):
        return [(preferred, text)]
    runs: list[list[str]] = []
    for char in text:
        if runs and _clings(char) and (
            runs[-1][0] == preferred or ord(char) in _fallback(runs[-1][0])
        ):
            runs[-1][1] += char
            continue
        font = _font_having(char, preferred) or preferred  # none has it: DejaVu's box
        if runs and runs[-1][0] == font:
            runs[-1][1] += char
        else:
            runs.append([font, char])
    return [(font, chunk) for font, chunk in runs]


def _shaped(chunk: str, font: str, size: float) -> tuple[str, float]:
    """The run as drawn (shaped by HarfBuzz for a fallback font) and its width."""
    if font in (REGULAR, BOLD) or font in UNSHAPED:
        return chunk, pdfmetrics.stringWidth(chunk, font, size)
    shaped = shapeStr(chunk, font, size)
    if isinstance(shaped, ShapedStr):
        return shaped, sum(d.x_advance for d in shaped.__shapeData__) * size / 1000
    return shaped, pdfmetrics.stringWidth(shaped, font, size)


def _width(text: str, preferred: str, size: float) -> float:
    runs = _runs(text, preferred)
    if len(runs) == 1 and runs[0][0] == preferred:
        return pdfmetrics.stringWidth(text, preferred, size)
    return sum(_shaped(chunk, font, size)[1] for font, chunk in runs)


def _draw_text(canvas: Canvas, text: str, preferred: str, size: float, x: float,
               y: float) -> None:
    runs = _runs(text, preferred)
    if len(runs) == 1 and runs[0][0] == preferred:  # the common case, as fast as before
        canvas.setFont(preferred, size)
        canvas.drawString(x, y, text)
        return
    for font, chunk in runs:
        drawn, width = _shaped(chunk, font, size)
        line = canvas.beginText(x, y)
        line.setFont(font, size)
        line.textOut(drawn)
        canvas.drawText(line)
        x += width


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
    name_size: float
    when: str
    venue: tuple[float, list[str]]  # (size, lines) as ``_fit`` finds them
    address: tuple[float, list[str]]


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
    size, lines = _fit(name, BOLD, (22,), CONTENT_W, 2 * LEADING * 22)
    # One line each (6 mm apart): long ones shrink; past legibility, two tiny lines.
    return _EventBlock(
        tuple(lines), size, event_when(event, language),
        _fit(venue, BOLD, (13, 11), CONTENT_W, below=6),
        _fit(address, REGULAR, (11, 9), CONTENT_W, below=6),
    )


def qr_matrix(code: str) -> list[list[bool]]:
    """The QR modules for ``code`` (with the quiet zone), error correction M.

    The same symbol ``qrcode`` makes, with its mask choice done faster (tickets.documents.qr).
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


def _break_word(word: str, preferred: str, size: float, width: float) -> list[str]:
    """A word wider than the line (a 200-letter name without spaces) cut into pieces that fit,
    never between a letter and its combining marks."""
    pieces = []
    while word:
        low, high = 1, len(word)  # the longest prefix that fits: binary search
        while low < high:
            middle = (low + high + 1) // 2
            if _width(word[:middle], preferred, size) <= width:
                low = middle
            else:
                high = middle - 1
        while 1 < low < len(word) and _clings(word[low]) and not word[low].isspace():
            low -= 1
        pieces.append(word[:low])
        word = word[low:]
    return pieces


def _wrap(text: str, preferred: str, size: float, width: float) -> list[str]:
    """Greedy word wrap by measured width; over-long words are broken (``_break_word``)."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if _width(candidate, preferred, size) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        pieces = _break_word(word, preferred, size, width)
        lines.extend(pieces[:-1])
        current = pieces[-1] if pieces else ""
    if current or not lines:
        lines.append(current)
    return lines


def _fit(text: str, preferred: str, sizes: tuple[float, ...], width: float,
         below: float) -> tuple[float, list[str]]:
    """The largest of ``sizes`` at which ``text`` fits one line; else the largest size (down
    to ``SMALL_SIZES``) at which it wraps into lines whose extra height stays within
    ``below`` points. Names are never cut short and never leave their box sideways."""
    for size in sizes:
        if _width(text, preferred, size) <= width:
            return size, [text]
    smaller = (sizes[-1], *(size for size in SMALL_SIZES if size < sizes[-1]))
    for size in smaller:
        lines = _wrap(text, preferred, size, width)
        if (len(lines) - 1) * size * LEADING <= below:
            return size, lines
    return size, lines


def _draw_fitted(canvas: Canvas, text: str, preferred: str, sizes: tuple[float, ...],
                 x: float, y: float, width: float, below: float | None = None) -> None:
    """``text`` at the size ``_fit`` finds; ``below``: room for more lines (default: one
    more line of the smallest size)."""
    below = sizes[-1] * LEADING if below is None else below
    size, lines = _fit(text, preferred, sizes, width, below)
    _draw_lines(canvas, size, lines, preferred, x, y)


def _draw_lines(canvas: Canvas, size: float, lines: list[str], preferred: str, x: float,
                y: float) -> None:
    for line in lines:
        _draw_text(canvas, line, preferred, size, x, y)
        y -= size * LEADING


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
        _draw_text(canvas, line, BOLD, block.name_size, MARGIN, y)
        y -= 9.5 * mm * block.name_size / 22
    canvas.setFont(REGULAR, 13)
    canvas.drawString(MARGIN, y, block.when)
    y -= 7 * mm
    _draw_lines(canvas, *block.venue, BOLD, MARGIN, y)
    y -= 6 * mm
    _draw_lines(canvas, *block.address, REGULAR, MARGIN, y)
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
    for language in languages.CODES:
        _template(language)
