"""tickets.documents.qr makes exactly the symbol qrcode makes (same mask choice), only faster."""

from __future__ import annotations

import random

import qrcode
import qrcode.constants
from qrcode import util

from tickets.documents import qr
from tickets.signing import CODE_LENGTH

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _reference(code: str) -> list[list[bool]]:
    symbol = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    symbol.add_data(code)
    symbol.make(fit=True)
    return symbol.get_matrix()


def test_same_symbol_as_qrcode_for_ticket_codes():
    rng = random.Random(7)
    masks = set()
    for _ in range(80):
        code = "".join(rng.choice(ALPHABET) for _ in range(CODE_LENGTH))
        assert qr.matrix(code) == _reference(code), code
        symbol = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
        symbol.add_data(code)
        symbol.make()
        masks.add(symbol.best_mask_pattern())
    assert len(masks) >= 5  # the comparison covered most mask choices


def test_same_symbol_for_other_sizes_and_modes():
    rng = random.Random(11)
    for length in (1, 5, 20, 60, 200, 400, 700):  # versions 1 to 15, with version info
        for _ in range(6):
            code = "".join(rng.choice(ALPHABET + "abcdef-:/ ") for _ in range(length))
            assert qr.matrix(code) == _reference(code), (length, code)


def test_penalty_equals_qrcodes_scoring():
    rng = random.Random(3)
    code = "".join(rng.choice(ALPHABET) for _ in range(CODE_LENGTH))
    symbol = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    symbol.add_data(code)
    symbol.best_fit()
    for pattern in range(8):
        symbol.makeImpl(True, pattern)
        rows = [int("".join("1" if v else "0" for v in row), 2) for row in symbol.modules]
        assert qr._penalty(rows, len(rows)) == util.lost_point(symbol.modules)
