"""Tickets to deliver in bulk, and how many are sent: the worker tests and the drills share them."""

from __future__ import annotations

from tests.support.factories import make_event
from tickets import services
from tickets.models import Delivery, TicketType


def register_many(organiser, count: int, slug: str):
    event = make_event(organiser, slug=slug)
    ticket_type = TicketType.objects.create(event=event, name="Ingresso",
                                            name_i18n={"en": "Admission"})
    tickets = [
        services.register(event, services.Registration(
            f"Persona {i}", f"p{i}@example.org", f"Org {i % 37}", "it" if i % 3 else "en",
            ticket_type_id=ticket_type.pk,
        ))
        for i in range(count)
    ]
    return event, tickets


def sent_count(event) -> int:
    return Delivery.objects.filter(ticket__event=event, state=Delivery.State.SENT).count()
