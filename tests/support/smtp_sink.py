"""A real SMTP server (aiosmtpd) for the tests: it receives, parses and counts messages.

It runs in a thread of the test process on 127.0.0.1. ``refuse`` makes it answer a temporary
error (451) at RCPT or DATA end, to test retries; clearing it lets the messages through.
"""

from __future__ import annotations

import email
import email.policy
import logging
import os
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller

from backend.eventday.relay import Message

logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command


def free_port() -> int:
    """A free port in the range the tests may use (VARCO_TEST_PORTS, default 8100-8199).

    Tried from a random place in the range, not from its start: the port is only free when
    probed, and two test runs on one machine (or two servers started close together) that both
    took the lowest free one would race for it, and one would talk to the other's server."""
    low, high = (int(p) for p in os.environ.get("VARCO_TEST_PORTS", "8100-8199").split("-"))
    start = random.randint(low, high)
    for port in [*range(start, high + 1), *range(low, start)]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {low}-{high}")


# One received message: the event-day relay's (the drill reads mail the same way).
Received = Message


@dataclass
class SinkHandler:
    messages: list[Received] = field(default_factory=list)
    refuse_rcpt: str | None = None  # e.g. "451 4.3.0 Try again later"
    refuse_data: str | None = None
    refused: int = 0
    permanent: dict[str, str] = field(default_factory=dict)  # address -> 5xx answer
    hang_up_after_data: bool = False  # accept the message, then drop the line unanswered
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.permanent:
            return self.permanent[address]
        if self.refuse_rcpt:
            with self.lock:
                self.refused += 1
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_data:
            with self.lock:
                self.refused += 1
            return self.refuse_data
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self.lock:
            self.messages.append(Received(list(envelope.rcpt_tos), message, raw))
        if self.hang_up_after_data:  # the in-doubt instant: stored, but no "250" comes back
            server.transport.abort()
        return "250 2.0.0 Message accepted for delivery"

    def per_ticket(self) -> Counter:
        with self.lock:
            return Counter(m.ticket for m in self.messages)

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count() >= count:
                return True
            time.sleep(0.05)
        return self.count() >= count


class SMTPSink:
    def __init__(self) -> None:
        self.handler = SinkHandler()
        self.port = free_port()
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, data_size_limit=10_000_000
        )

    def __enter__(self) -> SMTPSink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
