"""QR matrices for ticket codes: exactly what ``qrcode`` makes, in a third of the time.

``qrcode`` chooses the mask (the ISO 18004 rule: the lowest penalty of the 8) by building the
whole symbol 8 times and scoring each with pure-Python loops; that is two thirds of the cost
of a PDF ticket. Here the symbol is built once by ``qrcode`` with mask 0, the 7 other
candidates are derived from it by XOR on rows held as integers (masks only flip data
modules), and the same four penalty rules are scored with integer and regex operations. The
chosen mask is then handed back to ``qrcode`` to build the final symbol. tests/test_qr.py
checks that the result equals ``qrcode``'s own ``make(fit=True)`` module for module.
"""

from __future__ import annotations

import functools
import itertools
import re

import qrcode
import qrcode.constants
from qrcode import util

ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M
BORDER = 4  # the quiet zone the standard requires, in modules

_RUN = re.compile(r"0{5,}|1{5,}")  # rule 1: five or more alike in a row or column
_FINDER = re.compile(r"(?=10111010000|00001011101)")  # rule 3: finder-like 1:1:3:1:1 + light


class _Probe(qrcode.QRCode):
    """Records which modules carry data (all others are fixed patterns) for a version."""

    def map_data(self, data, mask_pattern) -> None:
        self.data_cells = [
            (r, c) for r, row in enumerate(self.modules) for c, v in enumerate(row) if v is None
        ]


@functools.cache
def _mask_rows(version: int) -> tuple[int, tuple[tuple[int, ...], ...]]:
    """For a version: its size and, per mask, the rows (as ints) of data modules it flips."""
    probe = _Probe(version=version, error_correction=ERROR_CORRECTION)
    probe.add_data("0")
    probe.makeImpl(True, 0)
    size = probe.modules_count
    masks = []
    for pattern in range(8):
        flip = util.mask_func(pattern)
        rows = [0] * size
        for r, c in probe.data_cells:
            if flip(r, c):
                rows[r] |= 1 << (size - 1 - c)
        masks.append(tuple(rows))
    return size, tuple(masks)


def _penalty(rows: list[int], size: int) -> int:
    """The four penalty rules of ISO 18004 as ``qrcode.util.lost_point`` scores them."""
    form = f"0{size}b"
    lines = [format(row, form) for row in rows]
    text = "\n".join(lines + ["".join(column) for column in zip(*lines, strict=True)])
    points = sum(len(run) - 2 for run in _RUN.findall(text))
    points += 40 * len(_FINDER.findall(text))
    inner = (1 << (size - 1)) - 1
    blocks = 0
    for top, bottom in itertools.pairwise(rows):
        same = ~(top ^ bottom)
        blocks += (same & (same >> 1) & ~(top ^ (top >> 1)) & inner).bit_count()
    points += 3 * blocks
    dark = sum(row.bit_count() for row in rows)
    return points + int(abs(float(dark) / size**2 * 100 - 50) / 5) * 10


def matrix(code: str) -> list[list[bool]]:
    """The QR symbol of ``code`` with its quiet zone, error correction level M."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=BORDER)
    qr.add_data(code)
    qr.best_fit()
    qr.makeImpl(True, 0)  # as qrcode scores candidates: format bits left blank
    size, masks = _mask_rows(qr.version)
    base = [int("".join("1" if v else "0" for v in row), 2) for row in qr.modules]
    best, best_points = 0, None
    for pattern in range(8):
        flip = [a ^ b for a, b in zip(masks[0], masks[pattern], strict=True)]
        rows = [row ^ f for row, f in zip(base, flip, strict=True)]
        points = _penalty(rows, size)
        if best_points is None or points < best_points:
            best, best_points = pattern, points
    qr.mask_pattern = best
    qr.makeImpl(False, best)
    return qr.get_matrix()
