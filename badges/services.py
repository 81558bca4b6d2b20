"""Writes of the badges app: layouts and band colours. Every way in (admin, and the API or
console of later steps) goes through here, so the rules live in one place."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from audit import services as audit
from badges.models import BadgeColour, BadgeLayout
from core.errors import ServiceError
from tickets.models import Event, TicketType

LAYOUT_FIELDS = frozenset({"name", "preset", "language", "ticket_type", "show_organisation",
                           "show_logo", "show_lead_qr"})


def _checked(layout: BadgeLayout) -> None:
    if layout.ticket_type is not None and layout.ticket_type.event_id != layout.event_id:
        raise ServiceError("ticket_type", _("The ticket type belongs to another event."))
    try:
        layout.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ServiceError(field, messages[0]) from None


def _state(layout: BadgeLayout) -> dict:
    return audit.snapshot(layout, [f.attname if f.is_relation else f.name
                                   for f in layout._meta.concrete_fields
                                   if f.editable and not f.primary_key])


def save_layout(layout: BadgeLayout) -> BadgeLayout:
    """Create or update ``layout`` (recorded in the audit log); an update raises its
    ``version`` (the renderer's prepared geometry follows the values, the version tells a
    print job which edit it printed)."""
    _checked(layout)
    try:
        with transaction.atomic():
            event = layout.event
            if layout._state.adding:
                layout.save()
                audit.record("badge_layout.created", organiser_id=event.organiser_id,
                             event_id=event.pk, target=layout)
            else:
                stored = BadgeLayout.objects.filter(pk=layout.pk).first()
                before = _state(stored) if stored is not None else {}
                layout.version = F("version") + 1
                layout.save()
                layout.refresh_from_db(fields=["version"])
                audit.record("badge_layout.changed", organiser_id=event.organiser_id,
                             event_id=event.pk, target=layout,
                             data=audit.changes(before, _state(layout)))
    except IntegrityError:
        raise ServiceError(
            "ticket_type",
            _("This event already has a layout for this ticket type (or a default layout)."),
        ) from None
    return layout


def create_layout(event: Event, **fields) -> BadgeLayout:
    unknown = set(fields) - LAYOUT_FIELDS
    if unknown:
        raise ServiceError(sorted(unknown)[0], _("Unknown field."))
    return save_layout(BadgeLayout(event=event, **fields))


def update_layout(layout: BadgeLayout, **fields) -> BadgeLayout:
    unknown = set(fields) - LAYOUT_FIELDS
    if unknown:
        raise ServiceError(sorted(unknown)[0], _("Unknown field."))
    for name, value in fields.items():
        setattr(layout, name, value)
    return save_layout(layout)


def set_colour(ticket_type: TicketType, colour: str) -> BadgeColour:
    """The band colour of ``ticket_type``'s badges (#RRGGBB, stored lower case)."""
    row = BadgeColour(ticket_type=ticket_type, colour=(colour or "").strip().lower())
    try:
        row.full_clean(exclude=["ticket_type"], validate_unique=False,
                       validate_constraints=False)
    except ValidationError as exc:
        raise ServiceError("colour", exc.message_dict["colour"][0]) from None
    event = ticket_type.event
    with transaction.atomic():
        row, _created = BadgeColour.objects.update_or_create(ticket_type=ticket_type,
                                                      defaults={"colour": row.colour})
        audit.record("badge_colour.set", organiser_id=event.organiser_id, event_id=event.pk,
                     target=ticket_type, data={"colour": row.colour})
    return row
