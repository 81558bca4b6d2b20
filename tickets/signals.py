"""Keep the process's key ring in step with the EventKey table."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tickets.models import EventKey
from tickets.signing import keyring


@receiver([post_save, post_delete], sender=EventKey)
def _clear_keyring(**kwargs) -> None:
    keyring.clear()
