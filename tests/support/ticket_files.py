"""Read back what a ticket e-mail carries: the QR code and the text of its PDF."""

from __future__ import annotations

import ctypes

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
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


def pdf_chars(document: bytes) -> tuple[list[tuple[str, tuple, str, bool]], float, float]:
    """(char, box, font name, embedded) for every character on the page, and the page size."""
    doc = pdfium.PdfDocument(document)
    page = doc[0]
    width, height = page.get_size()
    text = page.get_textpage()
    result = []
    for index in range(text.count_chars()):
        char = chr(pdfium_c.FPDFText_GetUnicode(text, index))
        left, right, bottom, top = (ctypes.c_double() for _ in range(4))
        pdfium_c.FPDFText_GetCharBox(text, index, left, right, bottom, top)
        obj = pdfium_c.FPDFText_GetTextObject(text, index)
        font = pdfium_c.FPDFTextObj_GetFont(obj) if obj else None
        name, embedded = "", False
        if font:
            buffer = ctypes.create_string_buffer(256)
            pdfium_c.FPDFFont_GetBaseFontName(font, buffer, 256)
            name = buffer.value.decode()
            embedded = bool(pdfium_c.FPDFFont_GetIsEmbedded(font))
        if result and "\udc00" <= char <= "\udfff" and "\ud800" <= result[-1][0] <= "\udbff":
            # PDFium gives characters past U+FFFF as two UTF-16 halves: join them
            pair = (result[-1][0] + char).encode("utf-16-be", "surrogatepass").decode("utf-16-be")
            result[-1] = (pair, *result[-1][1:])
            continue
        result.append((char, (left.value, right.value, bottom.value, top.value), name, embedded))
    return result, width, height


def pdf_page_texts(data: bytes) -> list[str]:
    """The text of each page."""
    document = pdfium.PdfDocument(data)
    try:
        return [page.get_textpage().get_text_range() for page in document]
    finally:
        document.close()
