"""The embedded mode's e-mail backend: one ``.eml`` file per message under ``EMAIL_FILE_PATH``.

Django's file backend appends every message of a connection to one ``.log`` file (a batch of 50
tickets made one file a mail client cannot open, and nobody could find their own). Here each
message is a standard RFC 5322 file (``.eml``: double-click opens it in Thunderbird, Apple Mail,
Outlook), named so that a person finds theirs by eye or with ``ls var/mail/*zoe*``::

    20261206-051407-123456_zoe.muller-example.org_SXYN-MSEM.eml
    (UTC time to the microsecond) (first recipient) (reference)

The reference is the message's ``X-Varco-Reference`` header (the ticket's reference for ticket
e-mails), if any. Every part of the name is reduced to ASCII letters, digits, ``.``, ``_``,
``+`` and ``-``, so the name is safe on every file system and in a shell. Each file is written
under a hidden temporary name in the same directory, flushed to disk, then linked to its final
name: a reader (a person, a test, a mail client watching the folder) never sees half a message,
and two processes writing at once never overwrite each other's files.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import secrets
import unicodedata
from collections.abc import Sequence
from email.generator import BytesGenerator
from email.message import Message
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage

REFERENCE_HEADER = "X-Varco-Reference"
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
PART_LIMIT = 60  # characters per part of the name: a long address must not exceed NAME_MAX


def wire_bytes(mime: Message) -> bytes:
    """``mime`` (an ``EmailMessage.message()``) as SMTP sends it: CRLF line ends, no mangled
    "From " lines. Django 5.2's message objects take ``as_bytes(linesep=...)`` and Django 6's
    (the standard library's) do not; the generator takes it from both."""
    out = io.BytesIO()
    BytesGenerator(out, mangle_from_=False).flatten(mime, linesep="\r\n")
    return out.getvalue()


def safe_part(text: str, limit: int = PART_LIMIT) -> str:
    """``text`` as a file-name part: accents dropped (Zoë → Zoe), ``@`` → ``-``, anything else
    outside ``[A-Za-z0-9._+-]`` collapsed to ``-``, no leading dot (hidden files), ``limit``
    characters at most; ``"x"`` if nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = _UNSAFE.sub("-", ascii_text.replace("@", "-")).strip("-.")
    return cleaned[:limit].strip("-.") or "x"


def file_name(message: EmailMessage, now: dt.datetime) -> str:
    """The ``.eml`` name of ``message`` written at ``now`` (UTC)."""
    recipients = message.recipients()
    parts = [now.strftime("%Y%m%d-%H%M%S-%f"), safe_part(recipients[0] if recipients else "")]
    reference = message.extra_headers.get(REFERENCE_HEADER)
    if reference:
        parts.append(safe_part(str(reference)))
    return "_".join(parts) + ".eml"


def write_atomically(directory: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``directory/name`` (``name-2.eml``, ``-3`` … if taken), all at once."""
    temporary = directory / f".{secrets.token_hex(8)}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        stem = name.removesuffix(".eml")
        for attempt in range(1, 1000):
            target = directory / (name if attempt == 1 else f"{stem}-{attempt}.eml")
            try:
                # link, not rename: it fails on an existing name instead of replacing that file.
                os.link(temporary, target)
                return target
            except FileExistsError:
                continue
        raise FileExistsError(f"{directory / name}: 999 messages with this name already")
    finally:
        temporary.unlink(missing_ok=True)


class EmlFileBackend(BaseEmailBackend):
    """``EMAIL_BACKEND = "core.mail_files.EmlFileBackend"``; ``EMAIL_FILE_PATH``: the folder."""

    def __init__(self, *args, file_path: str | None = None, fail_silently: bool = False,
                 **kwargs) -> None:
        # Kept here, not passed on: Django 6 deprecates the base class's fail_silently.
        super().__init__(*args, **kwargs)
        self.fail_silently = fail_silently
        path = file_path or getattr(settings, "EMAIL_FILE_PATH", None)
        if not path:
            raise ImproperlyConfigured("EmlFileBackend needs EMAIL_FILE_PATH")
        self.directory = Path(path).resolve()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ImproperlyConfigured(f"cannot create {self.directory}: {exc}") from exc

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            # message() applies the headers (Message-ID, Date) as SMTP would send them.
            data = wire_bytes(message.message())
            now = dt.datetime.now(dt.UTC)
            try:
                write_atomically(self.directory, file_name(message, now), data)
            except OSError:
                if not self.fail_silently:
                    raise
                continue
            sent += 1
        return sent
