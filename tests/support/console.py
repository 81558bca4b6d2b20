"""The console's walk: an event with something on every page, and every page's URL; an admin
form read back as a browser would post it.

Used by the translation walk (tests/console/test_translations.py), the event home's and the
audit trail's tests and the browser walk.
"""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser
from typing import Any

from django.contrib import admin
from django.test import RequestFactory
from django.utils import timezone

from badges import services as badge_services
from badges.jobs import stations
from badges.models import JobState, PrintJob
from checkin import services as checkin_services
from tests.support.checkin import Door
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
    a door device, one scan admitted and one refused: every list and the home have rows."""
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
    device, token = checkin_services.create_device(event, "Telefono 1", "Porta A")
    # The door: Giulia scanned in, Zoë's revoked ticket refused (the scan log has both).
    door = Door(token, checkin_list)
    assert door.scan(services.ticket_code(tickets[0]))["status"] == "ok"
    assert door.scan(services.ticket_code(tickets[2]))["status"] != "ok"
    # Print on arrival (set up after the scans, so they queue nothing): a station at the
    # door's gate, the list printing, a failed badge.
    layout = badge_services.create_layout(event, name="Etichetta", preset="ql-62")
    station, _token = stations.create_station(event, "Stampante 1", ["Porta A"])
    stations.set_list_printing(checkin_list, layout, station)
    PrintJob.objects.create(event=event, station=station, ticket=tickets[0], layout=layout,
                            gate="Porta A", state=JobState.FAILED, attempt=3,
                            last_error="client-error-not-found (queue varco-badges)")
    return ConsoleWorld(event, ticket_type, tickets, device, checkin_list)


def console_pages(user, event: Event) -> list[str]:
    """Every page of the console a user reaches: the index, each app, each registered model's
    list, add form and first object's change form, and the event's own pages (home, device
    form, import, log)."""
    request = RequestFactory().get("/admin/")
    request.user = user
    pages = ["/admin/", "/admin/tickets/", "/admin/checkin/", f"/admin/events/{event.pk}/",
             f"/admin/events/{event.pk}/devices/add/", f"/admin/events/{event.pk}/badges/",
             f"/admin/tickets/event/{event.pk}/import/",
             f"/admin/audit/auditentry/?event_id={event.pk}"]
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_module_permission(request):
            continue
        if f"/admin/{model._meta.app_label}/" not in pages:
            pages.append(f"/admin/{model._meta.app_label}/")
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        pages.append(base)
        if model_admin.has_add_permission(request):
            pages.append(f"{base}add/")
        first = model_admin.get_queryset(request).order_by("pk").first()
        if first is not None:
            pages.append(f"{base}{first.pk}/change/")
    return pages


class _FormFields(HTMLParser):
    """The values a browser would submit for the page's admin form (``<form id="…_form">``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.data: list[tuple[str, str]] = []
        self._inside = False
        self._select: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "form":
            self._inside = (values.get("id") or "").endswith("_form")
        if not self._inside or "disabled" in values:
            return
        name = values.get("name")
        if tag == "input" and name:
            kind = values.get("type", "text")
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in values:
                return
            default = "on" if kind in ("checkbox", "radio") else ""
            self.data.append((name, values.get("value") or default))
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in values:
            self.data.append((self._select, values.get("value", "")))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_endtag(self, tag):
        if tag == "form":
            self._inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.data.append((self._textarea, "".join(self._text).removeprefix("\n")))
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self._text.append(data)


def form_data(html: str, **changes: str) -> dict[str, list[str]]:
    """The admin form of ``html`` as the browser would post it, with ``changes`` applied."""
    parser = _FormFields()
    parser.feed(html)
    data: dict[str, list[str]] = {}
    for name, value in parser.data:
        data.setdefault(name, []).append(value)
    data.update({name: [value] for name, value in changes.items()})
    return data
