"""The ticket's QR code as inline SVG for the attendee's phone page."""

from __future__ import annotations

import qrcode
import qrcode.constants
from qrcode.image.svg import SvgPathImage


def qr_svg(code: str) -> str:
    """An SVG element (no XML declaration) that scales to its container, crisp at any size."""
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, border=4,
        image_factory=SvgPathImage,
    )
    qr.add_data(code)
    qr.make(fit=True)
    svg = qr.make_image().to_string(encoding="unicode")
    return svg[svg.index("<svg"):]
