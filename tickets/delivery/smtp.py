"""The SMTP hand-over: one message sent over an open SMTP session, step by step.

The same steps as ``smtplib.SMTP.sendmail`` (and so as Django's backend), split so that the
attempt is recorded after the server said "354" and before the text leaves (rule 3 of
``tickets.delivery``).
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Callable
from email.headerregistry import Address
from email.policy import default as default_policy

from tickets.delivery.message import Rendered


class ConnectionLost(Exception):
    """The SMTP connection is gone; the rest of the batch goes back to the queue."""


class ConnectionSpent(Exception):
    """The server ended a session that had carried messages before the next was handed over
    (a per-connection limit: "421" or a hang-up): reconnect and send that message again."""


def envelope_address(address: str) -> str:
    """The address for the SMTP envelope (``MAIL FROM``/``RCPT TO``) of a header address.

    The mailbox of ``address`` ("Name <a@b>" or "a@b"), with an internationalised domain
    IDNA-encoded: what Django's deprecated ``sanitize_address`` gave ``smtplib`` (which keeps
    only the mailbox of it). Refuses line breaks, several addresses or a non-ASCII local part
    (which needs SMTPUTF8) with a ``ValueError``.
    """
    if "\r" in address or "\n" in address:
        raise ValueError(f"Invalid address {address!r}: line break")
    header = default_policy.header_factory("To", address)
    if header.defects or len(header.addresses) != 1:
        raise ValueError(f"Invalid address {address!r}: not one mailbox")
    mailbox = header.addresses[0]
    if not mailbox.username.isascii():
        raise ValueError(f"Invalid address {address!r}: non-ASCII local part")
    domain = mailbox.domain
    if not domain.isascii():
        domain = domain.encode("idna").decode("ascii")
    return Address(username=mailbox.username, domain=domain).addr_spec


def smtp_error(exc: Exception) -> tuple[int | None, str]:
    """(the SMTP reply code if the server answered, a text for ``last_error``)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return code, f"{code} {_text(text)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code, f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return None, f"{type(exc).__name__}: {exc}"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


_LEADING_DOT = re.compile(rb"(?m)^\.")


def transmit(smtp: smtplib.SMTP, rendered: Rendered, handing_over: Callable[[], bool]) -> str:
    """Send one message over an open SMTP session; return the server's final answer.

    The same steps as ``smtplib.SMTP.sendmail`` (and so as Django's backend), split so that
    ``handing_over()`` runs after the server said "354" and before the text and the final dot
    leave: the moment from which the server may accept the message. It returns False if the
    claim was lost, and then nothing is sent (the connection is dropped mid-DATA, which makes
    the server discard the transaction).
    """
    message = rendered.message
    sender = envelope_address(message.from_email)
    recipients = [envelope_address(addr) for addr in message.recipients()]
    data = rendered.data
    smtp.ehlo_or_helo_if_needed()
    options = [f"size={len(data)}"] if smtp.does_esmtp and smtp.has_extn("size") else []
    code, answer = smtp.mail(sender, options)
    if code != 250:
        _reset(smtp, code)
        raise smtplib.SMTPSenderRefused(code, answer, sender)
    for recipient in recipients:
        code, answer = smtp.rcpt(recipient)
        if code not in (250, 251):
            _reset(smtp, code)
            raise smtplib.SMTPRecipientsRefused({recipient: (code, answer)})
    smtp.putcmd("data")
    code, answer = smtp.getreply()
    if code != 354:
        _reset(smtp, code)
        raise smtplib.SMTPDataError(code, answer)
    if not handing_over():
        smtp.close()
        raise ConnectionLost("claim lost before hand-over")
    body = _LEADING_DOT.sub(b"..", data)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    smtp.send(body + b".\r\n")
    code, answer = smtp.getreply()
    if code != 250:
        _reset(smtp, code)
        raise smtplib.SMTPDataError(code, answer)
    return f"{code} {_text(answer)}"[:500]


def _reset(smtp: smtplib.SMTP, code: int) -> None:
    if code == 421:  # the server is closing the session
        smtp.close()
        return
    try:
        smtp.rset()
    except smtplib.SMTPException:
        smtp.close()
