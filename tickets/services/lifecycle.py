"""A ticket's life after issue: revoking, reissuing, deleting its attendee.

Revoking sends ``tickets.signals.ticket_revoked``, reissuing ``tickets.signals.ticket_issued``
(with ``reissued=True``), each once the transaction commits.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import ServiceError
from tickets import signals
from tickets.models import Attendee, Ticket
from tickets.services import trail
from tickets.services.capacity import release_place

log = logging.getLogger(__name__)


@transaction.atomic
def delete_attendee(attendee: Attendee) -> None:
    """Delete an attendee, first revoking their tickets so that their places are freed."""
    for ticket in Ticket.objects.filter(attendee=attendee, status=Ticket.Status.VALID):
        revoke_ticket(ticket)
    trail.attendee("attendee.deleted", attendee)
    attendee.delete()


@transaction.atomic
def revoke_ticket(ticket: Ticket, *, reason: str = "") -> Ticket:
    """Revoke: the code stops working everywhere and the place is freed."""
    updated = Ticket.objects.filter(pk=ticket.pk, status=Ticket.Status.VALID).update(
        status=Ticket.Status.REVOKED, version=F("version") + 1, updated_at=timezone.now()
    )
    if updated:
        release_place(ticket)
        signals.send_on_commit(signals.ticket_revoked, ticket)
        log.info("ticket %s revoked", ticket.pk)
    ticket.refresh_from_db()
    if updated:
        trail.ticket("ticket.revoked", ticket, **({"reason": reason} if reason else {}))
    return ticket


@transaction.atomic
def reissue_ticket(ticket: Ticket) -> Ticket:
    """Issue a new code for the same ticket (e.g. a leaked PDF); the old code is refused."""
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.status != Ticket.Status.VALID:
        raise ServiceError("ticket", _("A revoked ticket cannot be reissued."))
    Ticket.objects.filter(pk=ticket.pk).update(
        version=F("version") + 1, updated_at=timezone.now()
    )
    ticket.refresh_from_db()
    trail.ticket("ticket.reissued", ticket)
    signals.send_on_commit(signals.ticket_issued, ticket, reissued=True)
    return ticket
