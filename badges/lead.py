"""The lead retrieval code printed on a badge: who the wearer is, for an exhibitor's scanner,
and never a way through a door.

Format: ``VL1-<event id>-<ticket id>-<mac>``, where ``mac`` is the first 80 bits of an
HMAC-SHA256 (key derived from ``SECRET_KEY`` with its own salt) over ``event id:ticket id``,
in Crockford base32 (16 characters). Upper-case letters, digits and ``-`` only, so the QR uses
the dense alphanumeric mode.

Why it cannot open a door: an entry code is 127 characters of base32 with an Ed25519
signature by the event's key (``tickets.signing``); ``-`` is not in that alphabet and a lead
code is far shorter, so every scan path (server and the door page's offline check) parses it
as an invalid code before looking anything up (``tests/badges/test_lead.py`` posts one to the
door). Unlike the entry code it does not change when a ticket is reissued: a badge that is
already printed keeps working for lead retrieval; revoking the ticket is what ends it
(``selectors.ticket_for_lead_code`` answers only valid tickets).
"""

from __future__ import annotations

import base64
import hmac
import re

from django.utils.crypto import salted_hmac

PREFIX = "VL1"
_SALT = "varco.badges.lead-code"
_MAC_CHARS = 16  # 80 bits
_ID = "([1-9][0-9]{0,17})"
_PATTERN = re.compile(rf"^{PREFIX}-{_ID}-{_ID}-([0-9A-Z]{{{_MAC_CHARS}}})$")
# Crockford's base32 alphabet (no I, L, O, U), as ticket references use.
_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789ABCDEFGHJKMNPQRSTVWXYZ")


class InvalidLeadCode(ValueError):
    """Not a lead code this server issued."""


def _mac(event_id: int, ticket_id: int) -> str:
    digest = salted_hmac(_SALT, f"{event_id}:{ticket_id}", algorithm="sha256").digest()
    return base64.b32encode(digest[:10]).decode().translate(_CROCKFORD)


def lead_code(event_id: int, ticket_id: int) -> str:
    """The lead code of ticket ``ticket_id`` of event ``event_id``."""
    return f"{PREFIX}-{event_id}-{ticket_id}-{_mac(event_id, ticket_id)}"


def parse_lead_code(code: str) -> tuple[int, int]:
    """``(event id, ticket id)`` of a lead code; InvalidLeadCode if it is not one of ours."""
    match = _PATTERN.match(code.strip().upper())
    if not match:
        raise InvalidLeadCode(code)
    event_id, ticket_id, mac = int(match[1]), int(match[2]), match[3]
    if not hmac.compare_digest(mac, _mac(event_id, ticket_id)):
        raise InvalidLeadCode(code)
    return event_id, ticket_id
