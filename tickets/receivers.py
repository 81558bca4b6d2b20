"""The ticket app's own receivers (connected by ``TicketsConfig.ready()``).

The process's key ring (``tickets.signing.keyring``) follows the EventKey table: a key saved
or deleted here is re-read on the next verification. The registration's default ticket type,
kept a second per process (``selectors.default_public_ticket_type``), is read again after any
event or ticket type is saved or deleted here.
"""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tickets import selectors
from tickets.models import Event, EventKey, TicketType
from tickets.signing import keyring


@receiver([post_save, post_delete], sender=EventKey)
def clear_keyring(**kwargs) -> None:
    keyring.clear()


@receiver([post_save, post_delete], sender=Event)
@receiver([post_save, post_delete], sender=TicketType)
def forget_default_ticket_types(**kwargs) -> None:
    selectors.forget_default_ticket_types()
