"""Secrets at rest: text encrypted with ``VARCO_ENCRYPTION_KEYS`` (Fernet, via MultiFernet).

The first key encrypts; every key listed decrypts, so a key is rotated by putting a new one
first, running ``manage.py rotate_encryption_keys`` (re-encrypts every stored secret with it)
and then dropping the old one from the list (README, "Operations").
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["InvalidToken", "decrypt", "encrypt", "is_encrypted", "rotate"]

# Every Fernet token starts with its version byte 0x80, base64: "gAAAAA".
_FERNET_PREFIX = "gAAAAA"


@lru_cache(maxsize=4)
def _multi(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _fernet() -> MultiFernet:
    # Keyed by the list itself, so a changed setting (tests, a reload) takes effect at once.
    return _multi(tuple(settings.VARCO_ENCRYPTION_KEYS))


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode("ascii")


def decrypt(token: str) -> str:
    """The plaintext; ``InvalidToken`` when no configured key opens it."""
    return _fernet().decrypt(token.encode("ascii")).decode()


def rotate(token: str) -> str:
    """The same plaintext encrypted with the first (newest) key."""
    return _fernet().rotate(token.encode("ascii")).decode("ascii")


def is_encrypted(text: str) -> bool:
    return text.startswith(_FERNET_PREFIX)
