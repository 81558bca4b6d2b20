"""Delivery under trouble (the relay down for a while, the worker SIGKILLed once) and what the
attendees received: one message per ticket, with a PDF whose QR code is their code."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pypdfium2 as pdfium
import zxingcpp

from backend.eventday.http import Http
from backend.eventday.stack import Stack

OPEN_STATES = {"queued", "sending", "in_doubt"}


@dataclass
class Incidents:
    """Watches the relay and, when a share of the expected messages has arrived, takes the
    relay down for ``outage`` seconds; later SIGKILLs the worker and starts a new one."""

    stack: Stack
    expected: int
    outage: float
    log: list[str] = field(default_factory=list)
    outage_done: threading.Event = field(default_factory=threading.Event)
    kill_done: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _started: float = field(default_factory=time.monotonic)

    def _say(self, text: str) -> None:
        self.log.append(f"+{time.monotonic() - self._started:.1f} s: {text}")

    def run(self) -> None:
        relay = self.stack.relay
        assert relay is not None
        while not self._stop.is_set() and relay.handler.count() < self.expected // 3:
            time.sleep(0.05)
        if self._stop.is_set():
            return
        relay.down()
        self._say(f"SMTP relay down after {relay.handler.count()} messages, for "
                  f"{self.outage:g} s")
        self._stop.wait(self.outage)
        relay.up()
        self._say("SMTP relay back")
        self.outage_done.set()
        target = relay.handler.count() + max(1, (self.expected - relay.handler.count()) // 2)
        while not self._stop.is_set() and relay.handler.count() < target:
            time.sleep(0.02)
        if self._stop.is_set():
            return
        self.stack.kill_worker()
        self._say(f"worker SIGKILLed after {relay.handler.count()} messages; restarted")
        self.stack.start_worker()
        self.kill_done.set()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="incidents", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()


def wait_for_deliveries(api: Http, event_ids: list[int], timeout: float,
                        meanwhile=None) -> dict[int, dict]:
    """Every ticket of these events with its delivery, once none is still on its way
    (``meanwhile()`` is called between two looks: the QR codes are read as mail arrives)."""
    deadline = time.monotonic() + timeout
    while True:
        if meanwhile is not None:
            meanwhile()
        tickets = {}
        for event_id in event_ids:
            for row in api.all_pages(f"/api/v1/events/{event_id}/tickets/"):
                row["event_id"] = event_id
                tickets[row["id"]] = row
        open_rows = [t for t in tickets.values() if t["status"] == "valid"
                     and (t["delivery"] is None or t["delivery"]["state"] in OPEN_STATES)]
        if not open_rows or time.monotonic() > deadline:
            return tickets
        time.sleep(1.0)


def qr_codes(pdf: bytes) -> list[str]:
    """The QR codes on the first page: at 72 dpi first (the 5 cm code is ~140 px, enough
    and 4x cheaper), at 144 dpi if that did not find exactly one."""
    codes: list[str] = []
    for scale in (1.0, 2.0):
        document = pdfium.PdfDocument(pdf)
        try:
            image = document[0].render(scale=scale).to_pil()
        finally:
            document.close()
        codes = [r.text for r in zxingcpp.read_barcodes(image)
                 if r.format == zxingcpp.BarcodeFormat.QRCode]
        if len(codes) == 1:
            return codes
    return codes


@dataclass
class Inbox:
    """What the relay received, per ticket ("<id>.<version>")."""

    codes: dict[str, str] = field(default_factory=dict)  # ticket key -> code in the QR
    recipients: dict[str, str] = field(default_factory=dict)  # ticket key -> envelope address
    message_ids: dict[str, set[str]] = field(default_factory=dict)
    copies: dict[str, int] = field(default_factory=dict)
    bad_pdfs: dict[str, str] = field(default_factory=dict)  # ticket key -> what was wrong


def read_inbox(stack: Stack, decoded: Inbox | None = None) -> Inbox:
    """Decode the QR of each ticket's PDF once (``decoded``: an earlier reading to extend)."""
    inbox = decoded or Inbox()
    assert stack.relay is not None
    with stack.relay.handler.lock:
        messages = list(stack.relay.handler.messages)
    inbox.copies.clear()
    inbox.message_ids.clear()
    for message in messages:
        key = message.ticket
        inbox.copies[key] = inbox.copies.get(key, 0) + 1
        inbox.message_ids.setdefault(key, set()).add(message.message_id)
        inbox.recipients[key] = ",".join(message.envelope_to)
        if key in inbox.codes or key in inbox.bad_pdfs:
            continue
        try:
            codes = qr_codes(message.attachment(".pdf"))
        except Exception as exc:  # a broken attachment is a finding, not a crash
            inbox.bad_pdfs[key] = f"{type(exc).__name__}: {exc}"
            continue
        if len(codes) != 1:
            inbox.bad_pdfs[key] = f"{len(codes)} QR codes"
            continue
        inbox.codes[key] = codes[0]
    return inbox
