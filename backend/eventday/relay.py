"""The drill's SMTP relay: an aiosmtpd server that behaves like the relays organisers use.

STARTTLS with a certificate from the run's test CA (the worker verifies it), AUTH required
(and only after STARTTLS), a limit of messages per connection (then "421" and the line is
closed, as Postfix/Exchange-style limits do), permanent refusals of chosen recipients ("550"),
and an outage switch (the port refuses connections while it is down). Everything received is
kept for the reconciliation. aiosmtpd is a development dependency: only the drill and the
tests import this module.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from backend.eventday.tls import TestCA

# aiosmtpd logs every command, and warns on each AUTH about its own deprecated attribute
logging.getLogger("mail.log").setLevel(logging.ERROR)


@dataclass
class Message:
    envelope_to: list[str]
    message: email.message.EmailMessage
    raw: bytes

    @property
    def ticket(self) -> str:
        """``<ticket id>.<version>`` (the X-Varco-Ticket header)."""
        return str(self.message["X-Varco-Ticket"]).strip()

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"]).strip()

    def attachment(self, suffix: str) -> bytes:
        for part in self.message.iter_attachments():
            if (part.get_filename() or "").endswith(suffix):
                content = part.get_content()
                return content if isinstance(content, bytes) else content.encode()
        raise KeyError(suffix)


@dataclass
class RelayHandler:
    username: str
    password: str
    per_connection: int = 0  # 0: no limit
    permanent: dict[str, str] = field(default_factory=dict)  # address -> "550 ..." answer
    messages: list[Message] = field(default_factory=list)
    connections: int = 0
    auth_failures: int = 0
    limit_hits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == self.username.encode()
              and auth_data.password == self.password.encode())
        if not ok:
            with self.lock:
                self.auth_failures += 1
        return AuthResult(success=ok, handled=False)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        if session.ssl is None:  # the first EHLO of a connection (STARTTLS is required)
            with self.lock:
                self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.per_connection and getattr(session, "carried", 0) >= self.per_connection:
            with self.lock:
                self.limit_hits += 1
            # Answer first, then hang up, like a relay enforcing its per-session limit.
            asyncio.get_running_loop().call_later(0.05, server.transport.close)
            return "421 4.7.0 Too many messages in this session, closing connection"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.permanent:
            return self.permanent[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        session.carried = getattr(session, "carried", 0) + 1
        with self.lock:
            self.messages.append(Message(list(envelope.rcpt_tos), message, raw))
        return "250 2.0.0 Message accepted for delivery"

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def per_ticket(self) -> Counter:
        with self.lock:
            return Counter(m.ticket for m in self.messages)


class Relay:
    """The relay on ``127.0.0.1:port``; ``down()``/``up()`` make an outage on the same port."""

    def __init__(self, ca: TestCA, port: int, username: str, password: str,
                 per_connection: int = 0) -> None:
        self.ca = ca
        self.port = port
        self.handler = RelayHandler(username, password, per_connection)
        self.controller: Controller | None = None

    def _controller(self) -> Controller:
        return Controller(
            self.handler, hostname="127.0.0.1", port=self.port, data_size_limit=10_000_000,
            tls_context=self.ca.server_context(), require_starttls=True,
            authenticator=self.handler.authenticate, auth_required=True,
            auth_require_tls=True,
        )

    def up(self) -> None:
        if self.controller is None:
            self.controller = self._controller()
            self.controller.start()

    def down(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def is_up(self) -> bool:
        return self.controller is not None

    def __enter__(self) -> Relay:
        self.up()
        return self

    def __exit__(self, *exc) -> None:
        self.down()
