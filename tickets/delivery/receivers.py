"""The delivery's receivers: e-mail every issued or reissued ticket (``ticket_issued``).

Connected by ``TicketsConfig.ready()``. A revoked ticket needs no receiver: a delivery still
queued for it is cancelled when a worker claims it (``batch``).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.dispatch import receiver

from tickets.delivery.queue import queue_tickets
from tickets.models import Ticket
from tickets.signals import ticket_issued

log = logging.getLogger(__name__)


@receiver(ticket_issued, sender=Ticket)
def send_issued_ticket(sender, ticket: Ticket, **kwargs) -> None:
    """Queue the e-mail of a newly issued or reissued ticket (sent after commit)."""
    if not settings.VARCO_SEND_ON_ISSUE:
        return
    try:
        queue_tickets([ticket])
    except Exception:  # the ticket is committed; the sweep creates the delivery later
        log.exception("could not queue the delivery of ticket %s; the sweep will", ticket.pk)
