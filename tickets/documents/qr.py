"""QR matrices for ticket codes: exactly what ``qrcode`` makes, in a fifth of the time.

``qrcode`` chooses the mask (the ISO 18004 rule: the lowest penalty of the 8) by building the
whole symbol 8 times and scoring each with pure-Python loops; that is two thirds of the cost
of a PDF ticket. Here the symbol is built once by ``qrcode`` with mask 0, the 7 other
candidates are derived from it by XOR on rows held as integers (masks only flip data
modules), and the same four penalty rules are scored with a few operations on the whole
symbol held as one integer (``_score``). The version, which depends only on the data's length,
is found once per length. The final symbol is the scored one with the chosen mask's flips and
its format information written by ``qrcode``'s own functions.
tests/tickets/documents/test_qr.py checks that the result equals ``qrcode``'s own ``make(fit=True)``
module for module.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import qrcode
import qrcode.constants
from qrcode import util

ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M
BORDER = 4  # the quiet zone the standard requires, in modules


class _Probe(qrcode.QRCode):
    """Records which modules carry data (all others are fixed patterns) for a version."""

    def map_data(self, data, mask_pattern) -> None:
        self.data_cells = [
            (r, c) for r, row in enumerate(self.modules) for c, v in enumerate(row) if v is None
        ]


@dataclass(frozen=True, slots=True)
class _Layout:
    """Per version: the bit masks that keep the penalty rules inside one line of modules.

    A symbol is scored as one integer: its rows, then its columns, each line ``size`` bits
    (column 0 or row 0 the most significant) in a ``size + 1``-bit slot whose top bit stays 0,
    line ``i`` at bit ``i * (size + 1)``. The rules then become a few shifts, ANDs and bit
    counts over the whole symbol instead of loops over modules.
    """

    size: int
    rows_bits: int  # the rows' part of the packed integer
    pairs: int  # bit p set where p and p + 1 lie in the same line
    finder: int  # bit p set where 11 modules from p lie in the same line
    blocks: int  # rule 2: bits 0..size-2 of rows 0..size-2
    flips: tuple[int, ...]  # per mask: the packed data modules it flips (relative to mask 0)
    flip_cells: tuple[tuple[tuple[int, int], ...], ...]  # the same, as (row, column) cells


def _pack(lines: list[str]) -> int:
    """Lines of "0"/"1" (most significant first) -> the packed integer described above."""
    return int("".join("0" + line for line in reversed(lines)), 2)


def _with_columns(rows: list[str]) -> list[str]:
    """Rows of "0"/"1" -> the rows, then the columns, as the packed integer lays them out."""
    return rows + ["".join(column) for column in zip(*rows, strict=True)]


def _lines(rows: list[int], size: int) -> list[str]:
    """Rows as ints -> the rows' and then the columns' "0"/"1" strings."""
    form = f"0{size}b"
    return _with_columns([format(row, form) for row in rows])


@functools.cache
def _layout(version: int) -> _Layout:
    probe = _Probe(version=version, error_correction=ERROR_CORRECTION)
    probe.add_data("0")
    probe.makeImpl(True, 0)
    size = probe.modules_count
    stride = size + 1
    masks = []
    for pattern in range(8):
        flip = util.mask_func(pattern)
        rows = [0] * size
        for r, c in probe.data_cells:
            if flip(r, c):
                rows[r] |= 1 << (size - 1 - c)
        masks.append(rows)
    flips = tuple(
        _pack(_lines([a ^ b for a, b in zip(masks[0], rows, strict=True)], size))
        for rows in masks
    )
    flip_cells = tuple(
        tuple((r, c) for r, c in probe.data_cells
              if (masks[0][r] ^ rows[r]) >> (size - 1 - c) & 1)
        for rows in masks
    )

    def every_line(bits: int, lines: int) -> int:
        return sum(bits << (i * stride) for i in range(lines))

    return _Layout(
        size=size,
        rows_bits=every_line((1 << size) - 1, size),
        pairs=every_line((1 << (size - 1)) - 1, 2 * size),
        finder=every_line((1 << (size - 10)) - 1, 2 * size),
        blocks=every_line((1 << (size - 1)) - 1, size - 1),
        flips=flips,
        flip_cells=flip_cells,
    )


# Rule 3's two patterns (dark-light 1:1:3:1:1 with 4 light modules on one side), as the bits
# of an 11-module window from its lowest bit up (reading order is from the highest bit).
_FINDERS = tuple(tuple(pattern[::-1]) for pattern in ("10111010000", "00001011101"))


def _score(symbol: int, layout: _Layout) -> int:
    """The four penalty rules of ISO 18004 as ``qrcode.util.lost_point`` scores them."""
    size = layout.size
    # Rule 1: a run of n >= 5 alike costs n - 2 = (its n - 4 windows of five) + 2.
    alike = ~(symbol ^ (symbol >> 1)) & layout.pairs
    five = alike & (alike >> 1) & (alike >> 2) & (alike >> 3)
    points = five.bit_count() + 2 * (five & ~(five << 1)).bit_count()
    # Rule 3: each finder-like window, overlapping ones included, costs 40.
    for pattern in _FINDERS:
        found = layout.finder
        for shift, bit in enumerate(pattern):
            found &= (symbol >> shift) if bit == "1" else ~(symbol >> shift)
        points += 40 * found.bit_count()
    # Rule 2: each 2x2 block of one colour costs 3 (counted by its top-left module).
    rows = symbol & layout.rows_bits
    same = ~(rows ^ (rows >> (size + 1)))
    points += 3 * (same & (same >> 1) & ~(rows ^ (rows >> 1)) & layout.blocks).bit_count()
    # Rule 4: the share of dark modules away from 50%.
    dark = rows.bit_count()
    return points + int(abs(float(dark) / size**2 * 100 - 50) / 5) * 10


def _penalty(rows: list[int], size: int) -> int:
    """Score a symbol given as rows of ints (most significant bit = column 0)."""
    version = (size - 17) // 4
    return _score(_pack(_lines(rows, size)), _layout(version))


@functools.lru_cache(maxsize=64)
def _version_for(chunks: tuple[tuple[int, int], ...]) -> int:
    """The version ``best_fit`` picks depends only on the data's modes and lengths."""
    probe = qrcode.QRCode(error_correction=ERROR_CORRECTION)
    for mode, length in chunks:
        probe.data_list.append(util.QRData(b"0" * length, mode=mode))
    return probe.best_fit()


def matrix(code: str) -> list[list[bool]]:
    """The QR symbol of ``code`` with its quiet zone, error correction level M."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=BORDER)
    qr.add_data(code)
    qr.version = _version_for(tuple((chunk.mode, len(chunk.data)) for chunk in qr.data_list))
    qr.makeImpl(True, 0)  # as qrcode scores candidates: format bits left blank
    layout = _layout(qr.version)
    base = _pack(_with_columns(["".join("1" if v else "0" for v in row) for row in qr.modules]))
    points = [_score(base ^ flip, layout) for flip in layout.flips]
    best = points.index(min(points))  # the first of equals, as qrcode
    # The final symbol from the scored one: flip the data modules from mask 0 to the chosen
    # mask, then write the format (and version) information, which the scoring left blank.
    modules = qr.modules
    for r, c in layout.flip_cells[best]:
        modules[r][c] = not modules[r][c]
    qr.mask_pattern = best
    qr.setup_type_info(False, best)
    if qr.version >= 7:
        qr.setup_type_number(False)
    return qr.get_matrix()


# --- the symbol as PDF drawing operators (the ticket PDF, the name badges) -------------------


@functools.cache
def _grid(modules: int, x: float, top: float, size: float) -> tuple[list[str], list[str]]:
    """Pre-formatted PDF numbers for a QR of ``modules`` modules: x offsets and row bottoms.

    Formatting floats is most of the cost of drawing ~400 rectangles, and a document's QR
    always has the same version and place, so the numbers are formatted once.
    """
    step = size / modules
    xs = [f"{x + i * step:.3f}" for i in range(modules + 1)]
    ys = [f"{top - (i + 1) * step:.3f} " for i in range(modules)]
    return xs, ys


@functools.cache
def _widths(modules: int, size: float) -> list[str]:
    step = size / modules
    return [f"{i * step:.3f}" for i in range(modules + 1)]


def pdf_path(symbol: list[list[bool]], x: float, top: float, size: float) -> str:
    """One filled PDF path of the dark modules of ``symbol`` (``matrix(code)``), merged into
    horizontal runs, ``size`` points wide with its top-left corner at (x, top): crisp at any
    zoom, unlike a scaled image."""
    modules = len(symbol)
    xs, ys = _grid(modules, x, top, size)
    widths = _widths(modules, size)
    height = widths[1]
    ops = []
    for row_index, row in enumerate(symbol):
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
