"""Registering attendees and issuing their tickets; editing an attendee.

Issuing a ticket sends ``tickets.signals.ticket_issued`` once the transaction commits.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from core import text
from core.errors import ServiceError
from tickets import selectors, signals, signing
from tickets.models import Attendee, Event, Ticket, TicketType
from tickets.services import postgres, trail
from tickets.services.capacity import reserve_place
from tickets.services.validation import ATTENDEE_TEXT, clean_email, clean_text_fields


@dataclass(frozen=True)
class Registration:
    name: str
    email: str
    organisation: str = ""
    language: str = ""
    ticket_type_id: int | None = None


def validate_registration(data: Registration) -> tuple[str, str, str]:
    """Validate and normalise (name, email, organisation) whichever path the data came by."""
    fields = clean_text_fields(
        ATTENDEE_TEXT, {"name": data.name, "organisation": data.organisation}
    )
    email, _key = clean_email(data.email)
    return fields["name"], email, fields["organisation"]


def email_taken(event: Event, email: str, exclude_pk: int | None = None) -> bool:
    clash = Attendee.objects.filter(event=event, email_key=text.email_key(email))
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    return clash.exists()


def duplicate_email() -> ServiceError:
    return ServiceError(
        "email", _("This e-mail address is already registered for this event."), code="duplicate"
    )


def update_attendee(attendee: Attendee, changes: dict) -> Attendee:
    """An organiser's edit (API PUT/PATCH, admin change): the registration's rules again."""
    changes = clean_text_fields(ATTENDEE_TEXT, changes)
    if "email" in changes:
        changes["email"], _key = clean_email(changes["email"])
        if email_taken(attendee.event, changes["email"], exclude_pk=attendee.pk):
            raise duplicate_email()
    language = changes.get("language")
    languages = attendee.event.languages
    if language is not None and languages and language not in languages:
        raise ServiceError("language", format_lazy(_("Language must be one of: {languages}."),
                                                    languages=", ".join(languages)))
    before = trail.stored_state(attendee)
    for field, value in changes.items():
        setattr(attendee, field, value)
    try:
        with transaction.atomic():
            attendee.save()
            changed = trail.audit.changes(before, trail.state(attendee))
            if changed:
                trail.attendee("attendee.changed", attendee, changes=changed)
    except IntegrityError:  # the same address registered at the same moment
        raise duplicate_email() from None
    return attendee


def _no_such_ticket_type(ticket_type_id: int) -> ServiceError:
    return ServiceError("ticket_type", format_lazy(
        _("Ticket type {id} does not exist for this event."), id=ticket_type_id))


def _pick_ticket_type(event: Event, ticket_type_id: int | None, public_only: bool,
                      default: TicketType | None = None) -> TicketType:
    if default is not None and ticket_type_id in (None, default.pk):
        return default  # read by the caller with the event (selectors.default_public_...)
    types = selectors.offered_ticket_types(public_only).filter(event=event)
    if ticket_type_id is None:
        ticket_type = types.first()
        if ticket_type is None:
            raise ServiceError("ticket_type", _("This event has no ticket type to register for."))
        return ticket_type
    try:
        return types.get(pk=ticket_type_id)
    except TicketType.DoesNotExist:
        raise _no_such_ticket_type(ticket_type_id) from None


def _issue_ticket(
    event: Event, attendee: Attendee, ticket_type: TicketType, serial: int | None = None
) -> Ticket:
    """Create the ticket (taking a place unless the caller already took it as ``serial``)."""
    if serial is None:
        serial = reserve_place(event, ticket_type)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                ticket = Ticket.objects.create(
                    event=event,
                    attendee=attendee,
                    ticket_type=ticket_type,
                    serial=serial,
                    reference=signing.new_reference(),
                )
            break
        except IntegrityError as exc:
            if "reference" not in str(exc).lower():
                raise
    else:  # pragma: no cover - 32^8 references; five collisions in a row do not happen
        raise RuntimeError("could not draw a unique ticket reference")
    signals.send_on_commit(signals.ticket_issued, ticket, reissued=False)
    return ticket


def register(event: Event, data: Registration, *, public: bool = False,
             audited: bool = True,
             default_ticket_type: TicketType | None = None) -> Ticket:
    """Register one attendee and issue their ticket, atomically.

    ``public=True`` is the self-service path: registration must be open and only public
    ticket types are offered. Duplicate e-mail policy: one attendee per e-mail per event
    (case-insensitive); a second registration with the same address is refused.

    An organiser's registration (not ``public``) goes to the audit log unless ``audited`` is
    False (the CSV import records one entry for the whole file).
    ``default_ticket_type``: the type a registration naming none gets, if the caller read it
    already with the event (``selectors.default_public_ticket_type``, for ``public=True``).
    """
    if public and not event.registration_open:
        raise ServiceError("event", _("Registration for this event is closed."), code="closed")
    name, email, organisation = validate_registration(data)
    language = data.language or event.default_language
    if event.languages and language not in event.languages:
        raise ServiceError(
            "language", format_lazy(_("Language must be one of: {languages}."),
                                    languages=", ".join(event.languages))
        )
    duplicate = duplicate_email()
    if connection.vendor == "postgresql":
        ticket_type = _pick_ticket_type(event, data.ticket_type_id, public_only=public,
                                        default=default_ticket_type)
        attendee = Attendee(event=event, name=name, email=email,
                            email_key=text.email_key(email), organisation=organisation,
                            language=language)
        # the statement writes the row without save(): the derived search keys are set here
        attendee.search_name, attendee.search_email = attendee.search_keys()
        if public or not audited:
            return _register_in_one_statement(event, ticket_type, attendee)
        with transaction.atomic():  # the organiser's registration and its audit entry, together
            ticket = _register_in_one_statement(event, ticket_type, attendee)
            trail.attendee("attendee.added", attendee, ticket=ticket.reference)
        return ticket
    with transaction.atomic():
        ticket_type = _pick_ticket_type(event, data.ticket_type_id, public_only=public,
                                        default=default_ticket_type)
        # Cheap early answer before queueing on the event row; the unique constraint below
        # is what actually guarantees it.
        if email_taken(event, email):
            raise duplicate
        serial = reserve_place(event, ticket_type)
        try:
            with transaction.atomic():
                attendee = Attendee.objects.create(
                    event=event, name=name, email=email, organisation=organisation,
                    language=language,
                )
        except IntegrityError:
            raise duplicate from None
        ticket = _issue_ticket(event, attendee, ticket_type, serial)
        if audited and not public:
            trail.attendee("attendee.added", attendee, ticket=ticket.reference)
        return ticket


def _register_in_one_statement(event: Event, ticket_type: TicketType, attendee: Attendee
                               ) -> Ticket:
    """``register`` on PostgreSQL: the place, the attendee and the ticket in one statement, so
    that the event row's lock, which every registration of the event queues on, is held while
    the server runs that statement only (``tickets.services.postgres`` explains)."""
    # Alone, the statement is its own transaction and commits without waiting for the disk,
    # which frees the event row at once; ``flush_wal`` makes it durable right after, before the
    # ticket is announced (its e-mail queued) and before anyone is answered. Inside another
    # transaction (a CSV import's) it runs in a savepoint and that transaction's COMMIT decides.
    alone = not connection.in_atomic_block
    for _attempt in range(5):
        ticket = Ticket(event=event, attendee=attendee, ticket_type=ticket_type, serial=0,
                        reference=signing.new_reference())
        try:
            with nullcontext() if alone else transaction.atomic():
                outcome = postgres.take_place_and_issue(
                    event, ticket_type, attendee, ticket, commit_asynchronously=alone
                )
        except postgres.Refused:
            # Rolled back whole: find out why (rare: the ticket type's last place, a known
            # address, or a reference already drawn, which the next round draws again).
            if email_taken(event, attendee.email):
                raise duplicate_email() from None
            try:
                ticket_type.refresh_from_db(fields=["capacity", "issued_count"])
            except TicketType.DoesNotExist:  # deleted since it was read (kept up to a second)
                raise _no_such_ticket_type(ticket_type.pk) from None
            if ticket_type.capacity is not None and (
                ticket_type.issued_count >= ticket_type.capacity
            ):
                raise ServiceError("ticket_type", _("This ticket type is sold out."),
                                   code="sold_out") from None
            continue
        if outcome.ticket_id is None:  # refused before anything changed; the statement says why
            # A known address is told so even when the event is full (the answer that lets
            # them find their ticket).
            if outcome.known:
                raise duplicate_email()
            if outcome.type_full and not outcome.event_full:
                raise ServiceError("ticket_type", _("This ticket type is sold out."),
                                   code="sold_out")
            raise ServiceError("event", _("This event is full."), code="sold_out")
        if alone:
            postgres.flush_wal()
        signals.send_on_commit(signals.ticket_issued, ticket, reissued=False)
        return ticket
    raise RuntimeError("could not draw a unique ticket reference")  # pragma: no cover


def issue_ticket_for(attendee: Attendee, ticket_type: TicketType) -> Ticket:
    """Issue a ticket for an existing attendee who has no valid one."""
    with transaction.atomic():
        if Ticket.objects.filter(attendee=attendee, status=Ticket.Status.VALID).exists():
            raise ServiceError("attendee", _("This attendee already has a valid ticket."))
        return _issue_ticket(attendee.event, attendee, ticket_type)

