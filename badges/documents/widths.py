"""A name's widths in font units, so that fitting it to its box (``badge.fit_box``) wraps it
at every candidate size with additions instead of measuring every candidate line again: in a
bulk print that measuring was most of what the badge renderer added over drawing the strings.

Why own arithmetic instead of ``pdfmetrics.stringWidth`` per line: reportlab's TrueType width
(``_rl_accel.instanceStringWidthTTF``, and its pure-Python fallback) is ``(s * 0.001) * size``
where ``s`` is the sum of ``face.charWidths`` (``face.defaultWidth`` for a code point it lacks)
over the text. When every width of the font is a multiple of 1/256 (the advances of a font with
2,048 or 1,000 units per em scaled to 1/1000 em, as DejaVu's are) every such sum is exact in
floating point in any order, so a line's width computed here from its words' sums is the very
number the library returns, bit for bit, and lines break exactly where ``typesetting.wrap``
breaks them. For a font whose widths are not such multiples ``prepared`` answers ``None`` and
the caller measures with the library. tests/badges/documents/test_widths.py checks both
equalities (widths against ``stringWidth``, wrapping against ``wrap``).
"""

from __future__ import annotations

import functools

from reportlab.pdfbase import pdfmetrics

from tickets.documents.typesetting import clings, font_runs

_EXACT = 256.0  # widths must be multiples of 1/256 for the sums to be exact


@functools.cache
def _font_widths(font: str) -> tuple[dict[int, float], float] | None:
    """The font's ``(charWidths, defaultWidth)`` if sums of them are exact, else ``None``."""
    face = getattr(pdfmetrics.getFont(font), "face", None)
    if not isinstance(getattr(face, "charWidths", None), dict):
        return None  # not a TrueType font (a Type 1 font measures differently)
    widths = [*face.charWidths.values(), face.defaultWidth]
    if not all((w * _EXACT).is_integer() and 0 <= w < 2**20 for w in widths):
        return None
    return face.charWidths, face.defaultWidth


def _units(text: str, table: dict[int, float], default: float) -> float:
    return sum(table.get(ord(char), default) for char in text)


class Prepared:
    """``text`` split into its words, each with its width in font units (1/1000 em)."""

    __slots__ = ("default", "font", "prefixes", "space", "table", "units", "words")

    def __init__(self, text: str, font: str, table: dict[int, float], default: float) -> None:
        self.font = font
        self.table = table
        self.default = default
        self.words = text.split(" ")
        self.units = [_units(word, table, default) for word in self.words]
        self.space = table.get(32, default)
        self.prefixes: dict[str, list[float]] = {}  # a long word's running sums, for breaking

    def width(self, units: float, size: float) -> float:
        """The library's expression: ``stringWidth`` of a text whose units are ``units``."""
        return units * 0.001 * size

    def wrap(self, size: float, width: float) -> list[str]:
        """``typesetting.wrap(text, font, size, width)``, step for step."""
        lines: list[str] = []
        current, current_units = "", 0.0
        for word, units in zip(self.words, self.units, strict=True):
            if current:
                candidate, candidate_units = f"{current} {word}", current_units + self.space + units
            else:
                candidate, candidate_units = word, units
            if self.width(candidate_units, size) <= width:
                current, current_units = candidate, candidate_units
                continue
            if current:
                lines.append(current)
            pieces, current_units = self._break_word(word, size, width)
            lines.extend(pieces[:-1])
            current = pieces[-1] if pieces else ""
        if current or not lines:
            lines.append(current)
        return lines

    def _break_word(self, word: str, size: float, width: float) -> tuple[list[str], float]:
        """``typesetting``'s word breaking: the same binary search on the same widths (a
        piece's units are a difference of the word's prefix sums, exact like the sums); the
        pieces and the last one's units."""
        prefix = self.prefixes.get(word)
        if prefix is None:
            prefix = [0.0]
            for char in word:
                prefix.append(prefix[-1] + self.table.get(ord(char), self.default))
            self.prefixes[word] = prefix
        pieces, last = [], 0.0
        start, end = 0, len(word)
        while start < end:
            base = prefix[start]
            low, high = 1, end - start
            while low < high:
                middle = (low + high + 1) // 2
                if self.width(prefix[start + middle] - base, size) <= width:
                    low = middle
                else:
                    high = middle - 1
            rest = end - start
            while 1 < low < rest and clings(word[start + low]) and not word[start + low].isspace():
                low -= 1
            pieces.append(word[start:start + low])
            last = prefix[start + low] - base
            start += low
        return pieces, last


def prepared(text: str, font: str) -> Prepared | None:
    """``text`` ready to wrap by arithmetic, or ``None`` when the library must measure it (a
    text needing a fallback font for another script, or a font whose sums are not exact)."""
    runs = font_runs(text, font)
    if len(runs) != 1 or runs[0][0] != font:
        return None
    widths = _font_widths(font)
    if widths is None:
        return None
    return Prepared(text, font, *widths)
