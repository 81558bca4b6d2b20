"""A loopback TCP 9100 listener standing in for a Brother QL's network port, and the decoder
of what it received: ``brother_ql``'s own raster analyser (``BrotherQLReader``), which writes
each printed page as a PNG.

The listener takes any number of connections (one job each), keeps every byte received, and
can answer with a printer status block (``reply``), as a real QL does after printing.
"""

from __future__ import annotations

import contextlib
import io
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from brother_ql.reader import BrotherQLReader
from PIL import Image


def status_block(*, error_1: int = 0, error_2: int = 0, media_width: int = 62,
                 status_type: int = 0x01) -> bytes:
    """A 32-byte QL status answer (Brother's raster command reference, "Status information"):
    a QL-820NWB with 62 mm continuous tape, ``status_type`` 1 = printing completed,
    2 = error occurred; error bits in ``error_1``/``error_2``."""
    block = bytearray(32)
    block[0:8] = bytes([0x80, 0x20, 0x42, 0x34, 0x41, 0x30, 0x30, 0x00])
    block[8], block[9], block[10], block[11] = error_1, error_2, media_width, 0x0A
    block[18], block[19] = status_type, 0x00
    return bytes(block)


@dataclass
class LabelPrinter:
    port: int
    reply: bytes = b""
    jobs: list[bytes] = field(default_factory=list)
    connections: int = 0

    def pages(self, job: bytes) -> list[Image.Image]:
        """The pages a raster job prints, decoded by brother_ql's analyser."""
        with tempfile.TemporaryDirectory() as folder:
            reader = BrotherQLReader(io.BytesIO(job))
            reader.filename_fmt = str(Path(folder) / "page{counter:04d}.png")
            with contextlib.redirect_stdout(io.StringIO()):
                reader.analyse()
            pages = []
            for path in sorted(Path(folder).glob("page*.png")):
                with Image.open(path) as page:
                    pages.append(page.copy())
            return pages


@contextlib.contextmanager
def label_printer(reply: bytes = b"") -> Iterator[LabelPrinter]:
    server = socket.create_server(("127.0.0.1", 0))
    printer = LabelPrinter(server.getsockname()[1], reply)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            printer.connections += 1
            received = bytearray()
            with connection:
                connection.settimeout(10)
                try:
                    while chunk := connection.recv(65536):
                        received += chunk
                        if printer.reply and received.endswith(b"\x1a"):  # the print command
                            connection.sendall(printer.reply)
                except OSError:
                    pass
            printer.jobs.append(bytes(received))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield printer
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
