"""What tickets' services write to the audit log (``audit``): ids, labels and changes.

One place knows how an event, ticket type, attendee or ticket is named in the log, so every
service records the same way. Called inside the service's transaction.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from audit import services as audit
from tickets.models import Attendee, Event, Ticket, TicketType


def state(instance: models.Model) -> dict[str, Any]:
    return audit.snapshot(instance, audit.editable_fields(type(instance)))


def stored_state(instance: models.Model) -> dict[str, Any]:
    """The row as the database has it now (before an edit of ``instance`` is saved)."""
    if instance.pk is None:
        return {}
    stored = type(instance)._default_manager.filter(pk=instance.pk).first()
    return state(stored) if stored is not None else {}


def event(action: str, ev: Event, **data: Any) -> None:
    audit.record(action, organiser_id=ev.organiser_id, event_id=ev.pk, target=ev,
                 data=data)


def event_changed(ev: Event, before: dict[str, Any]) -> None:
    changed = audit.changes(before, state(ev))
    if changed:
        event("event.changed", ev, changes=changed)


def ticket_type(action: str, tt: TicketType, **data: Any) -> None:
    audit.record(action, organiser_id=tt.event.organiser_id, event_id=tt.event_id, target=tt,
                 data=data)


def attendee(action: str, person: Attendee, **data: Any) -> None:
    audit.record(action, organiser_id=person.event.organiser_id, event_id=person.event_id,
                 attendee_id=person.pk, target=person,
                 target_label=f"{person.name} <{person.email}>", data=data)


def ticket(action: str, tk: Ticket, **data: Any) -> None:
    audit.record(action, organiser_id=tk.event.organiser_id, event_id=tk.event_id,
                 attendee_id=tk.attendee_id, target=tk,
                 target_label=f"{tk.reference} ({tk.attendee.name})",
                 data={"version": tk.version, **data})
