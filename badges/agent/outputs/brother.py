"""A Brother QL label printer, raw over TCP (port 9100): the badge as Brother QL raster.

The badge PDF is rasterised with PDFium (``pypdfium2``, already the project's PDF reader in
tests and the event-day drill) at the printer's 300 dpi, turned so the badge's short side runs
across the tape, and cropped to the label's printable dots (the presets keep 3 mm free of text
at every edge, more than the 1.5 mm the printer cannot reach). The raster commands come from
``brother_ql_next`` (imported as ``brother_ql``): the maintained fork of ``brother_ql``, whose
last release was in 2019; the fork keeps the same API and models, is released regularly, and
ships the raster analyser (``brother_ql.reader``) the tests decode with. ``brother_ql_next``
is GPL-3.0-only, which section 13 of both licences lets Varco (AGPL-3.0-or-later) use.

The hand-over is a plain TCP connection with a connect timeout and a send timeout. A raster
job prints only when its last byte (the print command) arrives, so a connection refused or a
send that fails is ``NotPrinted`` (the print command never left this machine's buffers);
after a complete send the printer's status answers (32-byte blocks) are read for a moment and
a reported error (no media, cover open, cutter jam) fails the job with the printer's words.
A raw socket keeps no history: after a crash between hand-over and report the agent cannot
prove anything, so such a job stays in doubt for a person to settle (``lookup`` is UNKNOWN).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from datetime import datetime

import pypdfium2 as pdfium
from brother_ql.conversion import convert
from brother_ql.labels import FormFactor, LabelsManager
from brother_ql.models import ModelsManager
from brother_ql.raster import BrotherQLRaster
from brother_ql.reader import interpret_response
from PIL import Image

from badges.agent.client import Job
from badges.agent.outputs import NotPrinted, Proof

logger = logging.getLogger("badges.agent")

DPI = 300
MM_PER_INCH = 25.4
FIT_TOLERANCE_MM = 1.0
STATUS_BLOCK = 32


def models() -> list[str]:
    return [model.identifier for model in ModelsManager().iter_elements()]


def labels() -> list[str]:
    return [label.identifier for label in LabelsManager().iter_elements()]


def rasterise(pdf: bytes, dpi: int = DPI) -> Image.Image:
    """The PDF's first page at ``dpi``, greyscale, on white."""
    document = pdfium.PdfDocument(pdf)
    try:
        if len(document) != 1:
            raise NotPrinted(f"a badge is one page, this PDF has {len(document)}", retry=False)
        bitmap = document[0].render(scale=dpi / 72, grayscale=True)
        return bitmap.to_pil().convert("L")
    finally:
        document.close()


class BrotherPrinter:
    keeps_history = False  # a raw socket: nothing to look up after a crash

    def __init__(self, host: str, port: int, model: str, label: str, *,
                 connect_timeout: float = 5.0, send_timeout: float = 30.0,
                 status_timeout: float = 2.0) -> None:
        if model not in models():
            raise ValueError(f"unknown Brother QL model {model!r} (one of: {', '.join(models())})")
        if label not in labels():
            raise ValueError(f"unknown Brother QL label {label!r} (one of: {', '.join(labels())})")
        self.host, self.port, self.model, self.label = host, port, model, label
        self.spec = LabelsManager()[label]
        if self.spec.restricted_to_models and model not in self.spec.restricted_to_models:
            raise ValueError(f"label {label} does not fit a {model}")
        self.connect_timeout = connect_timeout
        self.send_timeout = send_timeout
        self.status_timeout = status_timeout

    def describe(self) -> str:
        return f"Brother {self.model} ({self.label}) at {self.host}:{self.port}"

    def _fit(self, job: Job) -> None:
        across, along = sorted((job.width_mm, job.height_mm))
        tape_width, tape_length = self.spec.tape_size
        if abs(across - tape_width) > FIT_TOLERANCE_MM or (
                self.spec.form_factor != FormFactor.ENDLESS
                and abs(along - tape_length) > FIT_TOLERANCE_MM):
            medium = f"{tape_width} mm" + (f" x {tape_length} mm" if tape_length else " roll")
            raise NotPrinted(f"a {job.width_mm:g} x {job.height_mm:g} mm badge does not fit the "
                             f"{medium} label {self.label}", retry=False)

    def image(self, job: Job, pdf: bytes) -> Image.Image:
        """The badge as the printer's dots: width across the tape, printable area only."""
        self._fit(job)
        page = rasterise(pdf)
        if page.width > page.height:  # landscape badge: its short side goes across the tape
            page = page.rotate(90, expand=True)
        total_w = self.spec.dots_total[0]
        if page.width != total_w:  # the page is the tape's width; rounding may differ by a dot
            page = page.resize((total_w, round(page.height * total_w / page.width)),
                               Image.Resampling.LANCZOS)
        printable_w, printable_h = self.spec.dots_printable
        left = (total_w - printable_w) // 2
        if self.spec.form_factor == FormFactor.ENDLESS:
            top, bottom = 0, page.height
        else:
            top = (page.height - printable_h) // 2
            bottom = top + printable_h
        return page.crop((left, top, left + printable_w, bottom))

    def prepare(self, job: Job, pdf: bytes) -> bytes:
        raster = BrotherQLRaster(self.model)
        raster.exception_on_warning = True
        model = ModelsManager()[self.model]
        try:
            convert(raster, [self.image(job, pdf)], self.label, cut=True, rotate=0,
                    compress=model.compression, dither=False, threshold=70)
        except NotPrinted:
            raise
        except Exception as error:  # brother_ql raises plain exceptions for a bad image
            raise NotPrinted(f"cannot convert the badge for {self.describe()}: {error}",
                             retry=False) from error
        return bytes(raster.data)

    def send(self, job: Job, prepared: bytes) -> str | None:
        try:
            connection = socket.create_connection((self.host, self.port),
                                                  timeout=self.connect_timeout)
        except OSError as error:
            raise NotPrinted(f"{self.describe()}: cannot connect: {error}", retry=True) from error
        with connection:
            connection.settimeout(self.send_timeout)
            try:
                connection.sendall(prepared)
            except OSError as error:
                # sendall failed: at least the last bytes, the print command, never left
                raise NotPrinted(f"{self.describe()}: the job was cut off: {error}",
                                 retry=True) from error
            errors = self._status(connection)
        if errors:
            raise NotPrinted(f"{self.describe()}: the printer reports {', '.join(errors)}",
                             retry=False)
        return None

    def _status(self, connection: socket.socket) -> list[str]:
        """Errors in the status blocks the printer sends within ``status_timeout``."""
        received = b""
        deadline = time.monotonic() + self.status_timeout
        with contextlib.suppress(OSError):
            while (left := deadline - time.monotonic()) > 0:
                connection.settimeout(left)
                chunk = connection.recv(4096)
                if not chunk:
                    break
                received += chunk
        errors: list[str] = []
        for start in range(0, len(received) - STATUS_BLOCK + 1, STATUS_BLOCK):
            try:
                errors += interpret_response(received[start:start + STATUS_BLOCK])["errors"]
            except Exception:  # brother_ql raises NameError for a block it cannot read
                logger.warning("unreadable status from %s", self.describe())
        return list(dict.fromkeys(errors))

    def lookup(self, job_id: int, attempt: int, since: datetime | None) -> Proof:
        return Proof.UNKNOWN  # a raw socket keeps no history
