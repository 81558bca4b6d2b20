"""Organisers, events and ticket types: creating and editing them."""

from __future__ import annotations

from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from core.errors import ServiceError
from tickets import selectors
from tickets.models import Event, Organiser, TicketType
from tickets.services import trail
from tickets.services.event_design import clean_design_fields
from tickets.services.keys import ensure_event_key
from tickets.services.validation import (
    EVENT_TEXT,
    ORGANISER_TEXT,
    TICKET_TYPE_TEXT,
    clean_text_fields,
)


def create_organiser(name: str, slug: str | None = None) -> Organiser:
    name = clean_text_fields(ORGANISER_TEXT, {"name": name})["name"]
    slug = slug or slugify(name)[:100] or "organiser"
    organiser, _created = Organiser.objects.get_or_create(slug=slug, defaults={"name": name})
    return organiser


def create_event(organiser: Organiser, **fields) -> Event:
    fields = clean_design_fields(clean_text_fields(EVENT_TEXT, fields))
    with transaction.atomic():
        event = Event.objects.create(organiser=organiser, **fields)
        ensure_event_key(event)
        trail.event("event.created", event)
    return event


def ticket_type_name_taken(event: Event, name: str, ticket_type: TicketType | None) -> bool:
    """An early, named answer; the unique constraint is the guard (a race is a 409)."""
    clash = TicketType.objects.filter(event=event, name=name)
    if ticket_type is not None:
        clash = clash.exclude(pk=ticket_type.pk)
    return clash.exists()


def save_ticket_type(event: Event, changes: dict, ticket_type: TicketType | None = None
                     ) -> TicketType:
    """Create or edit a ticket type (API); its name follows the text rule."""
    changes = clean_text_fields(TICKET_TYPE_TEXT, changes)
    name = changes.get("name")
    if name is not None and ticket_type_name_taken(event, name, ticket_type):
        raise ServiceError("name", _("A ticket type with this name already exists."))
    with transaction.atomic():
        if ticket_type is None:
            ticket_type = TicketType(event=event)
        adding, before = ticket_type.pk is None, trail.stored_state(ticket_type)
        for field, value in changes.items():
            setattr(ticket_type, field, value)
        ticket_type.save()
        if adding:
            trail.ticket_type("ticket_type.created", ticket_type)
        elif changed := trail.audit.changes(before, trail.state(ticket_type)):
            trail.ticket_type("ticket_type.changed", ticket_type, changes=changed)
    return ticket_type


def update_event(event: Event, changes: dict) -> Event:
    """An organiser's edit of an event (API PUT/PATCH); its texts follow the text rule, its
    logo, colour and practical information the design rules (``event_design``)."""
    changes = clean_design_fields(clean_text_fields(EVENT_TEXT, changes))
    with transaction.atomic():
        before = trail.stored_state(event)
        for field, value in changes.items():
            setattr(event, field, value)
        event.save()
        trail.event_changed(event, before)
    return event


def save_event(event: Event) -> Event:
    """Save an event edited as a whole (the admin's form, texts already cleaned by the text
    rule) and make sure it has a signing key, in one transaction."""
    with transaction.atomic():
        adding, before = event.pk is None, trail.stored_state(event)
        event.save()
        ensure_event_key(event)
        if adding:
            trail.event("event.created", event)
        else:
            trail.event_changed(event, before)
    return event


def set_registration_open(events, is_open: bool) -> int:
    """Open or close self-service registration for these events; the number changed."""
    action = "event.registration_opened" if is_open else "event.registration_closed"
    with transaction.atomic():
        changing = list(Event.objects.select_for_update().filter(
            pk__in=[event.pk for event in events]).exclude(registration_open=is_open))
        Event.objects.filter(pk__in=[event.pk for event in changing]).update(
            registration_open=is_open)
        for event in changing:
            trail.event(action, event)
        # (An UPDATE sends no post_save: this process reads the events again at once, the
        # others within ``selectors.DEFAULT_TYPE_TTL_S``.)
        selectors.forget_default_ticket_types()
    return len(changing)


def delete_event(event: Event) -> None:
    """Delete an event without tickets; one with tickets is closed, never deleted (its
    attendees would be lost)."""
    if event.tickets.exists():
        raise ServiceError(
            "event", _("This event has tickets; close registration instead of deleting it.")
        )
    with transaction.atomic():
        trail.event("event.deleted", event)
        event.delete()


def delete_ticket_type(ticket_type: TicketType) -> None:
    """Delete a ticket type no ticket uses (the PROTECT foreign key is the last guard)."""
    if ticket_type.tickets.exists():
        raise ServiceError("ticket_type", _("Tickets of this type exist; it cannot go."))
    with transaction.atomic():
        trail.ticket_type("ticket_type.deleted", ticket_type)
        ticket_type.delete()
