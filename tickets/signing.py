"""Signed QR secrets that a scanner can verify offline.

A code is ``base32(payload || signature)`` with no padding, upper case, so that a QR encoder
uses the dense alphanumeric mode. The payload is 15 bytes::

    format (1) | key id (4) | event id (4) | ticket id (4) | ticket version (2)

and the signature is Ed25519 (64 bytes) over the payload with the event's key ``key id``.
The resulting 127-character text fits a version-6 QR at error-correction level M.

Verifying needs only the event's public keys, so forged or altered codes are refused without
touching the database. Whether the ticket is still valid (not revoked, version current) is a
separate question answered by the database on the server, or by the snapshot offline.
Rotation: a new key becomes the active one for new codes; older keys keep verifying codes
they signed until they are deleted.
"""

from __future__ import annotations

import base64
import secrets
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

FORMAT = 1
_PAYLOAD = struct.Struct(">BIIIH")
_SIG_LEN = 64
CODE_BYTES = _PAYLOAD.size + _SIG_LEN
CODE_LENGTH = (CODE_BYTES * 8 + 4) // 5  # base32 characters without padding
# Crockford's alphabet: no I, L, O, U, so a reference read aloud or typed is unambiguous.
_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
assert len(_REFERENCE_ALPHABET) == 32  # new_reference takes 5 random bits per letter


class InvalidCode(ValueError):
    """The text is not a well-formed, correctly signed Varco code."""


@dataclass(frozen=True, slots=True)
class TicketClaim:
    key_id: int
    event_id: int
    ticket_id: int
    version: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate_keypair() -> tuple[str, str]:
    """Return a new (private, public) Ed25519 key pair as base64url raw bytes."""
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return _b64(private.private_bytes_raw()), _b64(public)


def load_private_key(text: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_unb64(text))


def load_public_key(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_unb64(text))


def sign_ticket(private_key: Ed25519PrivateKey, claim: TicketClaim) -> str:
    """Return the QR text for ``claim`` signed with ``private_key``."""
    payload = _PAYLOAD.pack(FORMAT, claim.key_id, claim.event_id, claim.ticket_id, claim.version)
    raw = payload + private_key.sign(payload)
    return base64.b32encode(raw).decode("ascii").rstrip("=")


# RFC 4648 base32 -> Python's base-32 digits (0-9A-V), so that int(text, 32) decodes in C: the
# stdlib's b32decode is pure Python and, with a canonical re-encoding check, cost more than the
# Ed25519 check itself on the door's hot path.
_TO_INT_DIGITS = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ23456701890",
    "0123456789ABCDEFGHIJKLMNOPQRSTUVZZZZZ",  # 0, 1, 8, 9 are not RFC 4648: made invalid
)
_UNUSED_BITS = CODE_LENGTH * 5 - CODE_BYTES * 8
# Raw public keys for libsodium by key id, with the key object they came from (a key ring
# reload makes new objects, and the cache entry is then refreshed).
_raw_keys: dict[int, tuple[Ed25519PublicKey, bytes]] = {}


def parse_code(code: str) -> tuple[TicketClaim, bytes, bytes]:
    """Split a code into its claim, signed payload and signature; no key needed.

    Cheap checks first (length, alphabet), so garbage costs microseconds. Only the canonical
    spelling is accepted (the last character's unused bits zero), so that no two different
    texts are the same valid code. The same format is read by the door page's offline
    ``checkin/frontend/src/codes.js``; ``checkin/frontend/test/code_vectors.json`` (written by
    tests/tickets/test_code_format.py from this module) holds both to the same answers.
    """
    text = code.strip().upper()
    if len(text) != CODE_LENGTH or not (text.isascii() and text.isalnum()):
        raise InvalidCode("not a code")
    try:
        value = int(text.translate(_TO_INT_DIGITS), 32)
    except ValueError as exc:
        raise InvalidCode("not base32") from exc
    if value & ((1 << _UNUSED_BITS) - 1):
        raise InvalidCode("not canonical")
    raw = (value >> _UNUSED_BITS).to_bytes(CODE_BYTES, "big")
    payload, signature = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
    fmt, key_id, event_id, ticket_id, version = _PAYLOAD.unpack(payload)
    if fmt != FORMAT:
        raise InvalidCode("unknown format")
    return TicketClaim(key_id, event_id, ticket_id, version), payload, signature


KeyLookup = Callable[[int], "tuple[int, Ed25519PublicKey] | None"]


def verify_code(code: str, public_key_for: KeyLookup) -> TicketClaim:
    """Verify ``code`` and return its claim.

    ``public_key_for(key_id)`` returns ``(event_id, Ed25519PublicKey)`` or ``None`` (the door
    passes ``keyring.get``). A code whose key is unknown, whose event does not match its key,
    or whose signature fails raises ``InvalidCode``. The Ed25519 check is libsodium's: half the
    CPU of OpenSSL's per-call set-up, and the signature check is most of a scan's CPU.
    """
    claim, payload, signature = parse_code(code)
    found = public_key_for(claim.key_id)
    if found is None:
        raise InvalidCode("unknown key")
    event_id, public_key = found
    if event_id != claim.event_id:
        raise InvalidCode("key belongs to another event")
    cached = _raw_keys.get(claim.key_id)
    if cached is None or cached[0] is not public_key:
        cached = (public_key, public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))
        _raw_keys[claim.key_id] = cached
    try:
        crypto_sign_open(signature + payload, cached[1])
    except (BadSignatureError, ValueError) as exc:
        raise InvalidCode("bad signature") from exc
    return claim


def new_reference() -> str:
    """A random 8-character ticket reference, shown as ``XXXX-XXXX``."""
    # 32 letters = 5 bits each: one call for 40 random bits, cut in eight, is exactly as
    # uniform as eight ``secrets.choice`` calls and a seventh of their cost (made at every
    # registration).
    bits = secrets.randbits(40)
    chars = "".join(_REFERENCE_ALPHABET[(bits >> shift) & 31] for shift in range(0, 40, 5))
    return f"{chars[:4]}-{chars[4:]}"


def normalise_reference(text: str) -> str:
    """Accept what staff type: lower case, no dash, O for 0, I/L for 1."""
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
    if len(cleaned) != 8:
        return ""
    return f"{cleaned[:4]}-{cleaned[4:]}"


class KeyRing:
    """Process-wide cache of public keys by key id, loaded from the database once.

    Key ids are increasing database ids, so an id at or below the highest one loaded is known
    to be absent without a query; a higher id triggers a reload at most every
    ``refresh_seconds``, so a flood of forged codes cannot turn into a flood of queries.
    Saving or deleting an ``EventKey`` clears the ring of the process that did it.
    """

    def __init__(self, refresh_seconds: float = 0.5) -> None:
        self._keys: dict[int, tuple[int, Ed25519PublicKey]] = {}
        self._max_id = 0
        self._loaded_at: float | None = None
        self._refresh = refresh_seconds
        self._lock = threading.Lock()

    def _load(self) -> None:
        # Imported on the first verification, not with the module: the code-format functions
        # above are plain Python, usable before (and without) Django's app registry.
        from tickets.models import EventKey

        keys = {
            pk: (event_id, load_public_key(public))
            for pk, event_id, public in EventKey.objects.values_list("pk", "event_id", "public_key")
        }
        self._keys = keys
        self._max_id = max(keys, default=0)
        self._loaded_at = time.monotonic()

    def get(self, key_id: int) -> tuple[int, Ed25519PublicKey] | None:
        found = self._keys.get(key_id)
        if found is not None:
            return found
        loaded_at = self._loaded_at
        if loaded_at is not None and (
            key_id <= self._max_id or time.monotonic() - loaded_at < self._refresh
        ):
            return None
        with self._lock:
            if key_id not in self._keys:
                self._load()
        return self._keys.get(key_id)

    def clear(self) -> None:
        with self._lock:
            self._keys = {}
            self._max_id = 0
            self._loaded_at = None


keyring = KeyRing()
