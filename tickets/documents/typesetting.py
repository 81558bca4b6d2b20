"""Text on the ticket PDF: fonts (registered once per process), font runs for scripts DejaVu
lacks, shaping, measuring, wrapping and fitting a text into a box.

DejaVu Sans (shipped in ``tickets/documents/fonts``; reportlab's own Vera covers Latin-1
only) covers Italian and every Latin, Greek and Cyrillic name, and such a text is drawn as one
string in one font. A text with characters DejaVu lacks is cut into runs, each drawn in the
first font of ``FALLBACK_FONTS`` that has them (Noto Sans for Arabic, Hebrew, Indic scripts
and Thai, Droid Sans Fallback for Chinese/Japanese, Nanum for Korean, Symbola for emoji:
Debian packages installed by ``make fonts`` and the Dockerfile), loaded on first use and shaped
with HarfBuzz (``uharfbuzz``). Every font is embedded as a subset of the glyphs the ticket uses.
Limits: emoji are monochrome and a ZWJ sequence shows as its parts; a name mixing a
right-to-left run with left-to-right text keeps the runs in typed order (no full bidi).
"""

from __future__ import annotations

import functools
import logging
import unicodedata
from pathlib import Path

from reportlab.pdfbase import pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import ShapedStr, TTFont, shapeStr
from reportlab.pdfgen.canvas import Canvas

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


# The names other rooms use (the name badges, ``badges/documents/badge.py``): the same
# functions under public names, since no app may import another's underscored names.
fonts = _fonts
font_runs = _runs
text_width = _width
draw_text = _draw_text
wrap = _wrap
fit = _fit
clings = _clings
