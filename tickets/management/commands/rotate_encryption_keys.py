"""Re-encrypt every secret stored at rest with the first key of VARCO_ENCRYPTION_KEYS.

Rotation (README, "Operations"): put a new key first in VARCO_ENCRYPTION_KEYS, keeping the old
ones after it, restart, run this command, then drop the old keys from the list.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from tickets import services


class Command(BaseCommand):
    help = "Re-encrypt the events' private signing keys with the first VARCO_ENCRYPTION_KEYS key."

    def handle(self, *args, **options) -> None:
        try:
            rotated = services.reencrypt_event_keys()
        except services.KeyNotOpened as exc:
            raise CommandError(
                f"event key {exc.key_id} opens with none of VARCO_ENCRYPTION_KEYS: keep the "
                "old key in the list (after the new one) until this command has run"
            ) from None
        self.stdout.write(self.style.SUCCESS(
            f"{rotated} event key(s) re-encrypted with the first VARCO_ENCRYPTION_KEYS key."
        ))
