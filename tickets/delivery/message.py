"""The ticket e-mail: plain text + HTML, the PDF ticket and a calendar entry attached.

Texts come from templates in the attendee's language. The message carries the delivery's
own Message-ID, so that a copy re-sent under the in-doubt rule (``tickets.delivery``) is the
same message to the receiving side. ``render`` builds it whole, bytes included, before its SMTP
exchange starts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from email.mime.text import MIMEText

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from core import mail_files
from tickets import links, services
from tickets.dates import event_when
from tickets.documents import ics, pdf
from tickets.models import Delivery, EventKey


class MissingAttachment(RuntimeError):
    """Refuse to build a ticket e-mail without its PDF."""


def ticket_message(delivery: Delivery, key: EventKey | None = None) -> EmailMultiAlternatives:
    """The e-mail of ``delivery``'s ticket; ``key``: the event's signing key, if at hand."""
    ticket = delivery.ticket
    attendee = ticket.attendee
    event = ticket.event
    language = attendee.language or event.default_language
    code = services.ticket_code(ticket, key)
    document = pdf.render_ticket_pdf(ticket, code)
    if not document.startswith(b"%PDF"):
        raise MissingAttachment(f"ticket {ticket.pk}: the PDF was not rendered")
    with translation.override(language):
        context = {
            "attendee": attendee,
            "event": event,
            "ticket": ticket,
            "when": event_when(event, language),
            "ticket_type": ticket.ticket_type.localized_name(language),
            "ticket_url": links.ticket_url(ticket),
            "language": language,
        }
        subject = _("Your ticket for %(event)s") % {"event": event.name}
        text = render_to_string("tickets/email/ticket.txt", context)
        html = render_to_string("tickets/email/ticket.html", context)
        calendar_entry = ics.event_ics(event, context["when"])
    message = EmailMultiAlternatives(
        subject=subject.replace("\n", " "),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[attendee.email],
        headers={
            "Message-ID": delivery.message_id,
            "X-Varco-Ticket": f"{ticket.pk}.{ticket.version}",
            # The reference the attendee sees on the ticket; in embedded mode it names the
            # message's .eml file (core/mail_files.py).
            "X-Varco-Reference": ticket.reference,
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(html, "text/html")
    message.attach(f"ticket-{ticket.reference}.pdf", document, "application/pdf")
    message.attach(_calendar_part(calendar_entry))
    return message


def _calendar_part(calendar_entry: bytes) -> MIMEText:
    """The ``event.ics`` part. Built here rather than by ``attach(name, content, mimetype)``:
    Django reads a text mimetype's parameters as part of its subtype and adds its own
    charset, which wrote ``charset`` twice (``text/calendar; charset=utf-8;
    method=PUBLISH; charset="utf-8"``), a header some clients refuse."""
    part = MIMEText(calendar_entry.decode("utf-8"), "calendar", "utf-8")
    part.set_param("method", "PUBLISH")
    part.add_header("Content-Disposition", "attachment", filename="event.ics")
    return part


@dataclass
class Rendered:
    """A delivery's message, built whole before its SMTP exchange starts: a rendering error
    is a failed attempt, never a message without its PDF."""

    message: EmailMessage
    # The bytes the SMTP dialogue sends (None for the file, console and memory backends).
    data: bytes | None


def render(delivery: Delivery, key: EventKey | None, smtp: bool) -> Rendered:
    message = ticket_message(delivery, key)
    if not smtp:
        return Rendered(message, None)
    mime = message.message()
    for part in mime.walk():
        if part.is_multipart():
            # Left unset, the stdlib generator picks a boundary and searches the whole text
            # for it with a regex compiled per message (a fifth of its 2 ms); a random one
            # cannot occur in the parts.
            part.set_boundary(f"=_varco_{uuid.uuid4().hex}")
    return Rendered(message, mail_files.wire_bytes(mime))

