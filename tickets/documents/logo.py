"""An event's logo as the ticket PDF embeds it: decoded and compressed once per logo version.

The stored logo is already normalised (``services.event_design``: a flattened RGB PNG, or
JPEG for a photograph, of at most 600 x 300 px). Decoding it and deflating its pixels costs
more than the rest of a ticket, so the PDF image object is made once per (event, logo
version), and every ticket's PDF carries a shallow copy of it (its ``format`` only reads its
fields): nothing is decoded or compressed again per ticket.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import io
import zlib
from dataclasses import dataclass

from PIL import Image
from reportlab.pdfbase.pdfdoc import PDFImageXObject
from reportlab.pdfgen.canvas import Canvas

from tickets.models import Event


def logo_bytes(event: Event) -> bytes:
    # PostgreSQL's driver gives a BinaryField as a memoryview, SQLite's as bytes.
    return bytes(event.logo or b"")


def logo_content_type(data: bytes) -> str:
    return "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"


def logo_version(event: Event) -> str | None:
    """A short digest of the logo's bytes (its version), or None without a logo."""
    data = logo_bytes(event)
    return hashlib.blake2b(data, digest_size=8).hexdigest() if data else None


@dataclass(frozen=True)
class PreparedLogo:
    name: str  # the XObject's name in every PDF: the version, so each PDF holds it once
    xobject: PDFImageXObject
    width: int
    height: int

    def draw(self, canvas: Canvas, x: float, y: float, width: float, height: float) -> None:
        """Place the logo in the box (x, y, width, height), keeping its proportions, centred
        vertically and aligned right. Does what ``Canvas.drawImage`` does after building its
        image object, with the object built once."""
        scale = min(width / self.width, height / self.height)
        w, h = self.width * scale, self.height * scale
        x, y = x + width - w, y + (height - h) / 2
        document = canvas._doc
        registered = document.getXObjectName(self.name)
        if registered not in document.idToObject:
            # A shallow copy per document: registering marks the object with its name in that
            # document; the copy shares the prepared pixels, so nothing is encoded again.
            xobject = copy.copy(self.xobject)
            canvas._setXObjects(xobject)
            document.Reference(xobject, registered)
            document.addForm(self.name, xobject)
        canvas._currentPageHasImages = 1
        canvas.saveState()
        canvas.translate(x, y)
        canvas.scale(w, h)
        canvas._code.append(f"/{registered} Do")
        canvas.restoreState()
        canvas._formsinuse.append(self.name)


def prepared_logo(event: Event) -> PreparedLogo | None:
    version = logo_version(event)
    if version is None:
        return None
    return _prepare(event.pk, version, logo_bytes(event))


@functools.lru_cache(maxsize=64)
def _prepare(event_pk: int, version: str, data: bytes) -> PreparedLogo:
    """The PDF image object of one logo version (the key's ``data`` is compared only when
    the digest matches, i.e. for the same logo)."""
    image = Image.open(io.BytesIO(data))
    xobject = PDFImageXObject(f"VarcoLogo{version}")
    xobject.width, xobject.height = image.size
    xobject.bitsPerComponent = 8
    xobject.colorSpace = "DeviceRGB"
    xobject.mask = None
    if image.format == "JPEG":  # a photograph (services.event_design): embedded as it is
        xobject._filters = ("DCTDecode",)
        xobject.streamContent = data
    else:
        xobject._filters = ("FlateDecode",)
        xobject.streamContent = zlib.compress(image.convert("RGB").tobytes(), 6)
    return PreparedLogo(xobject.name, xobject, *image.size)
