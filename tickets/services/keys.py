"""Event signing keys and ticket codes: key creation, rotation, re-encryption, signing."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import IntegrityError, transaction

from core import encryption
from tickets import signing
from tickets.models import Event, EventKey, Ticket
from tickets.services import trail


def ensure_event_key(event: Event) -> EventKey:
    """Return the event's active signing key, creating one if it has none."""
    key = EventKey.objects.filter(event=event, active=True).first()
    if key is not None:
        return key
    try:
        with transaction.atomic():
            return EventKey.objects.create(event=event, active=True, **_new_keypair())
    except IntegrityError:  # another process created it first
        return EventKey.objects.get(event=event, active=True)


@transaction.atomic
def rotate_event_key(event: Event) -> EventKey:
    """Make a new key sign new codes; codes signed by older keys stay valid."""
    EventKey.objects.select_for_update().filter(event=event, active=True).update(active=False)
    key = EventKey.objects.create(event=event, **_new_keypair())
    trail.event("event.key_rotated", event, key_id=key.pk)
    return key


def _new_keypair() -> dict[str, str]:
    """A fresh key pair as EventKey fields, the private key encrypted at rest."""
    private, public = signing.generate_keypair()
    return {"private_key": encryption.encrypt(private), "public_key": public}


# key id -> (its stored ciphertext, the decrypted key): decrypting costs more than signing, so
# each process does it once per key (a changed row, e.g. re-encrypted, is decrypted again).
_private_keys: dict[int, tuple[str, object]] = {}


def signing_key(key: EventKey) -> Ed25519PrivateKey:
    """The decrypted private key of ``key`` (``ticket_code`` caches it per process)."""
    return signing.load_private_key(encryption.decrypt(key.private_key))


def ticket_code(ticket: Ticket, key: EventKey | None = None) -> str:
    """The QR text of the ticket's current version, signed with the event's active key.

    ``key``: that key if the caller already has it (a delivery batch reads the keys of its
    events once; the look-up costs more CPU than the signature).
    """
    if key is None or key.event_id != ticket.event_id or not key.active:
        key = EventKey.objects.filter(event_id=ticket.event_id, active=True).first()
    if key is None:
        key = ensure_event_key(ticket.event)
    cached = _private_keys.get(key.pk)
    if cached is None or cached[0] != key.private_key:
        cached = (key.private_key, signing_key(key))
        _private_keys[key.pk] = cached
    claim = signing.TicketClaim(key.pk, ticket.event_id, ticket.pk, ticket.version)
    return signing.sign_ticket(cached[1], claim)


class KeyNotOpened(Exception):
    """An event key that none of the configured encryption keys opens."""

    def __init__(self, key_id: int) -> None:
        super().__init__(f"event key {key_id} opens with none of the encryption keys")
        self.key_id = key_id


def reencrypt_event_keys() -> int:
    """Re-encrypt every event's private key with the first encryption key; the count.

    All or nothing (one transaction): a key that opens with none of the configured keys
    raises ``KeyNotOpened`` and nothing is changed.
    """
    rotated = 0
    with transaction.atomic():
        for key in EventKey.objects.select_for_update().only("pk", "private_key"):
            try:
                if encryption.is_encrypted(key.private_key):
                    stored = encryption.rotate(key.private_key)
                else:  # a row written before encryption at rest (migration not run?)
                    stored = encryption.encrypt(key.private_key)
            except encryption.InvalidToken:
                raise KeyNotOpened(key.pk) from None
            EventKey.objects.filter(pk=key.pk).update(private_key=stored)
            rotated += 1
    return rotated
