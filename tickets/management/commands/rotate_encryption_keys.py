"""Re-encrypt every secret stored at rest with the first key of VARCO_ENCRYPTION_KEYS.

Rotation (README, "Operations"): put a new key first in VARCO_ENCRYPTION_KEYS, keeping the old
ones after it, restart, run this command, then drop the old keys from the list.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core import encryption
from tickets.models import EventKey


class Command(BaseCommand):
    help = "Re-encrypt the events' private signing keys with the first VARCO_ENCRYPTION_KEYS key."

    def handle(self, *args, **options) -> None:
        rotated = 0
        with transaction.atomic():
            for key in EventKey.objects.select_for_update().only("pk", "private_key"):
                try:
                    if encryption.is_encrypted(key.private_key):
                        stored = encryption.rotate(key.private_key)
                    else:  # a row written before encryption at rest (migration not run?)
                        stored = encryption.encrypt(key.private_key)
                except encryption.InvalidToken:
                    raise CommandError(
                        f"event key {key.pk} opens with none of VARCO_ENCRYPTION_KEYS: keep the "
                        "old key in the list (after the new one) until this command has run"
                    ) from None
                EventKey.objects.filter(pk=key.pk).update(private_key=stored)
                rotated += 1
        self.stdout.write(self.style.SUCCESS(
            f"{rotated} event key(s) re-encrypted with the first VARCO_ENCRYPTION_KEYS key."
        ))
