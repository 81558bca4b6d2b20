"""Organiser API tokens: ``Authorization: Token <token>``, checked against their SHA-256.

The token is shown once, when it is made (``create_organiser``, ``seed_demo``); the database
keeps only ``sha256(token)`` in ``ApiToken``, as it does for scanner devices
(``checkin.devices``). 192 random bits need no slow hash: nobody can search that space.
"""

from __future__ import annotations

import hashlib
import secrets

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from tickets.models import ApiToken

TOKEN_PREFIX = "vo_"


def new_token() -> str:
    """A new organiser token: ``vo_`` + 32 URL-safe characters (192 random bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class HashedTokenAuthentication(TokenAuthentication):
    """DRF's token scheme (same header, same answers, same OpenAPI scheme), hashed storage."""

    def authenticate_credentials(self, key: str):
        record = (
            ApiToken.objects.select_related("user").filter(token_hash=hash_token(key)).first()
        )
        if record is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not record.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return record.user, record
