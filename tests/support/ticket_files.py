"""Read back what a ticket e-mail carries: the QR code and the text of its PDF."""

from __future__ import annotations

import pypdfium2 as pdfium
import zxingcpp


def pdf_text(data: bytes) -> str:
    document = pdfium.PdfDocument(data)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


def pdf_qr_codes(data: bytes, scale: float = 2.0) -> list[str]:
    """Rasterise the first page and decode every QR code on it."""
    document = pdfium.PdfDocument(data)
    try:
        image = document[0].render(scale=scale).to_pil()
    finally:
        document.close()
    found = zxingcpp.read_barcodes(image)
    return [r.text for r in found if r.format == zxingcpp.BarcodeFormat.QRCode]


def pdf_page_count(data: bytes) -> int:
    document = pdfium.PdfDocument(data)
    try:
        return len(document)
    finally:
        document.close()
