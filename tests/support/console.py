"""The console's walk: an event with something on every page, and every page's URL.

Used by the translation walk (tests/console/test_translations.py) and the event home's tests.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.contrib import admin
from django.test import RequestFactory
from django.utils import timezone

from checkin import services as checkin_services
from tickets import services
from tickets.models import Delivery, Event, Ticket, TicketType


@dataclasses.dataclass
class ConsoleWorld:
    event: Event
    ticket_type: TicketType
    tickets: list[Ticket]
    device: Any
    checkin_list: Any


def make_console_world(organiser, event: Event) -> ConsoleWorld:
    """Three attendees (one ticket sent, one failed with an SMTP answer, one revoked), a list,
    a door device, a manual check-in: every list and the home have rows to show."""
    ticket_type = TicketType.objects.create(event=event, name="Pass completo",
                                            name_i18n={"en": "Full pass"})
    tickets = [
        services.register(event, services.Registration(name, email, "Coop Il Sole", "it",
                                                       ticket_type_id=ticket_type.pk))
        for name, email in (("Giulia Rossi", "giulia@example.org"),
                            ("Marco Bianchi", "marco@example.org"),
                            ("Zoë Verdi", "zoe@example.org"))
    ]
    now = timezone.now()
    # What the worker would have recorded (the pipeline itself is tested in tickets/delivery).
    for ticket, fields in ((tickets[0], {"state": "sent", "sent_at": now,
                                         "smtp_response": "250 OK"}),
                           (tickets[1], {"state": "failed", "last_error":
                                         "550 5.1.1 <marco@example.org>: mailbox unavailable"})):
        Delivery.objects.create(ticket=ticket, version=ticket.version, attempts=1,
                                message_id=f"<{ticket.pk}@test.varco>",
                                recipient=ticket.attendee.email, **fields)
    services.revoke_ticket(tickets[2])
    checkin_list = checkin_services.create_list(event, "Ingresso principale")
    device, _token = checkin_services.create_device(event, "Telefono 1", "Porta A")
    return ConsoleWorld(event, ticket_type, tickets, device, checkin_list)


def console_pages(user, event: Event) -> list[str]:
    """Every page of the console a user reaches: the index, each app, each registered model's
    list, add form and first object's change form, and the event's home pages."""
    request = RequestFactory().get("/admin/")
    request.user = user
    pages = ["/admin/", "/admin/tickets/", "/admin/checkin/", f"/admin/events/{event.pk}/",
             f"/admin/events/{event.pk}/devices/add/"]
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_module_permission(request):
            continue
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        pages.append(base)
        if model_admin.has_add_permission(request):
            pages.append(f"{base}add/")
        first = model_admin.get_queryset(request).order_by("pk").first()
        if first is not None:
            pages.append(f"{base}{first.pk}/change/")
    return pages
