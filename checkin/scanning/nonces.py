"""What a device's nonce stands for: a retry must be the same request.

A scan carries the device's nonce, unique per device in the scan log, so that a retry records
nothing new and gets the first answer back. Each log row also keeps a ``request_key``: a hash
of (code or ticket, list, type). Not the time or the source: the door page queues a live scan
that timed out for the offline upload with the same nonce, adding ``scanned_at`` and its local
verdict, and that is still the same scan. A request with a used nonce and another key is
refused (409 ``nonce_reused``) instead of getting another ticket's answer while its own ticket
is never checked in. Rows written before the key existed (null) replay as before.
"""

from __future__ import annotations

import hashlib


class NonceReused(Exception):
    """The device already used this nonce for a different request; nothing was recorded."""

    message = (
        "This device already used this nonce for a different scan (another code, ticket, "
        "list or type); a new scan needs a new nonce. A retry must repeat the request as is."
    )


def request_key(kind: str, value: str | int, list_id: int, direction: str) -> str:
    """What a nonce stands for: ``kind`` "code" (``value`` the stripped code) or "ticket"."""
    text = f"{kind}\x1f{value}\x1f{list_id}\x1f{direction}"
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
