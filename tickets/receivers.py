"""The ticket app's own receivers (connected by ``TicketsConfig.ready()``).

The process's key ring (``tickets.signing.keyring``) follows the EventKey table: a key saved
or deleted here is re-read on the next verification.
"""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tickets.models import EventKey
from tickets.signing import keyring


@receiver([post_save, post_delete], sender=EventKey)
def clear_keyring(**kwargs) -> None:
    keyring.clear()
