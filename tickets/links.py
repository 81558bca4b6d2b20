"""Signed, unguessable links to an attendee's own ticket page (no login).

The token is ``django.core.signing`` over ``[ticket id, ticket version]`` with a salt of its
own, keyed by ``SECRET_KEY``: it cannot be forged or guessed (a 256-bit HMAC), and it names
one version of the ticket, so revoking or reissuing the ticket (both bump the version) makes
every link sent before stop working; the reissued ticket's e-mail carries a new link.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

from tickets.documents.logo import logo_version
from tickets.models import Event, Ticket

SALT = "varco.tickets.attendee-link"


class LinkInvalid(Exception):
    """The token was not made by us (tampered, truncated or guessed)."""


class LinkExpired(Exception):
    """The token was ours, but the ticket was revoked or reissued since."""


def ticket_token(ticket: Ticket) -> str:
    return signing.Signer(salt=SALT).sign_object([ticket.pk, ticket.version])


def ticket_url(ticket: Ticket) -> str:
    """Absolute URL of the attendee's ticket page (for e-mails)."""
    return settings.SITE_URL + reverse("ticket-page", args=[ticket_token(ticket)])


def ticket_for_token(token: str) -> Ticket:
    try:
        ticket_id, version = signing.Signer(salt=SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise LinkInvalid(str(exc)) from None
    ticket = (
        Ticket.objects.select_related("attendee", "event", "ticket_type")
        .filter(pk=ticket_id).first()
    )
    if ticket is None or ticket.version != version or ticket.status != Ticket.Status.VALID:
        raise LinkExpired(f"ticket {ticket_id} v{version}")
    return ticket


def logo_url(event: Event) -> str | None:
    """Path of the event's logo (served by ``views.event_logo``), or None without one. The
    ``v`` parameter is the logo's version, so a browser may cache it for as long as it likes."""
    version = logo_version(event)
    if version is None:
        return None
    return f"{reverse('event-logo', args=[event.slug])}?v={version}"
