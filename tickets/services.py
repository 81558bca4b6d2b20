"""Business logic for events, registration, tickets and keys (writes; reads are in selectors).

Every function here is the one place its rule is enforced: the API, the admin, the public
registration page, management commands and the CSV import all call these.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import slugify

from core import encryption, text
from core.errors import ServiceError
from tickets import signing
from tickets.models import Attendee, Event, EventKey, Organiser, Ticket, TicketType

log = logging.getLogger(__name__)


# Hooks other modules register to react to ticket changes after commit (e-mail delivery).
_ticket_issued_hooks: list[Callable[[Ticket], None]] = []


def on_ticket_issued(hook: Callable[[Ticket], None]) -> Callable[[Ticket], None]:
    """Register ``hook(ticket)`` to run after the transaction that issued a ticket commits."""
    _ticket_issued_hooks.append(hook)
    return hook


def _notify_issued(ticket: Ticket) -> None:
    for hook in _ticket_issued_hooks:
        transaction.on_commit(lambda hook=hook: hook(ticket))


# --- organisers and events ------------------------------------------------------------------


def create_organiser(name: str, slug: str | None = None) -> Organiser:
    name = clean_text_fields(ORGANISER_TEXT, {"name": name})["name"]
    slug = slug or slugify(name)[:100] or "organiser"
    organiser, _ = Organiser.objects.get_or_create(slug=slug, defaults={"name": name})
    return organiser


def ensure_event_key(event: Event) -> EventKey:
    """Return the event's active signing key, creating one if it has none."""
    key = EventKey.objects.filter(event=event, active=True).first()
    if key is not None:
        return key
    try:
        with transaction.atomic():
            return EventKey.objects.create(event=event, active=True, **_new_keypair())
    except IntegrityError:  # another process created it first
        return EventKey.objects.get(event=event, active=True)


@transaction.atomic
def rotate_event_key(event: Event) -> EventKey:
    """Make a new key sign new codes; codes signed by older keys stay valid."""
    EventKey.objects.select_for_update().filter(event=event, active=True).update(active=False)
    return EventKey.objects.create(event=event, **_new_keypair())


def _new_keypair() -> dict[str, str]:
    """A fresh key pair as EventKey fields, the private key encrypted at rest."""
    private, public = signing.generate_keypair()
    return {"private_key": encryption.encrypt(private), "public_key": public}


def create_event(organiser: Organiser, **fields) -> Event:
    fields = clean_text_fields(EVENT_TEXT, fields)
    with transaction.atomic():
        event = Event.objects.create(organiser=organiser, **fields)
        ensure_event_key(event)
    return event


# --- registration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    name: str
    email: str
    organisation: str = ""
    language: str = ""
    ticket_type_id: int | None = None


# One-line texts and their lengths, per model: the one rule every write path applies.
# (field: (max length, required, multi-line))
ATTENDEE_TEXT = {"name": (200, True, False), "organisation": (200, False, False)}
EVENT_TEXT = {"name": (200, True, False), "venue": (200, False, False),
              "address": (300, False, False), "description": (None, False, True)}
TICKET_TYPE_TEXT = {"name": (200, True, False)}
ORGANISER_TEXT = {"name": (200, True, False)}


def clean_text_fields(rules: dict[str, tuple[int | None, bool, bool]], data: dict) -> dict:
    """``data`` with each text field of ``rules`` present cleaned (``core.text``).

    Fields absent from ``data`` are left alone (a PATCH); a ``ServiceError`` names the first
    field at fault. ``name_i18n`` (translations of a name) follows the rule of ``name``.
    """
    cleaned = dict(data)
    for field, (max_length, required, multiline) in rules.items():
        if field not in data:
            continue
        value = data[field] if data[field] is not None else ""
        try:
            value = text.clean_text(value, max_length, multiline=multiline)
        except text.TextRefused as exc:
            raise ServiceError(field, str(exc)) from None
        if required and not value:
            raise ServiceError(field, "This field may not be blank.")
        cleaned[field] = value
    if "name" in rules and isinstance(data.get("name_i18n"), dict):
        translations = {}
        for language, name in data["name_i18n"].items():
            try:
                translations[language] = text.clean_text(name, rules["name"][0])
            except text.TextRefused as exc:
                raise ServiceError("name_i18n", f"{language}: {exc}") from None
        cleaned["name_i18n"] = translations
    return cleaned


def clean_email(address: str) -> tuple[str, str]:
    """(the address to keep, its uniqueness key) or a ``ServiceError`` naming ``email``.

    The address kept is the one typed (trimmed, lower-cased as always: it is shown and the
    ticket is sent to it; Django's mail encodes an IDN domain for SMTP); the key is
    ``core.text.email_key``, which the database's unique constraint holds per event.
    """
    try:
        email = text.clean_text(address, 254).lower()
        validate_email(email)
        return email, text.email_key(email)
    except (ValidationError, text.TextRefused):
        raise ServiceError("email", f"Not a valid e-mail address: {address!r}.") from None


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
        "email", "This e-mail address is already registered for this event.", code="duplicate"
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
        raise ServiceError("language", f"Language must be one of: {', '.join(languages)}.")
    for field, value in changes.items():
        setattr(attendee, field, value)
    try:
        with transaction.atomic():
            attendee.save()
    except IntegrityError:  # the same address registered at the same moment
        raise duplicate_email() from None
    return attendee


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
        raise ServiceError("name", "A ticket type with this name already exists.")
    if ticket_type is None:
        return TicketType.objects.create(event=event, **changes)
    for field, value in changes.items():
        setattr(ticket_type, field, value)
    ticket_type.save()
    return ticket_type


def update_event(event: Event, changes: dict) -> Event:
    """An organiser's edit of an event (API PUT/PATCH); its texts follow the text rule."""
    changes = clean_text_fields(EVENT_TEXT, changes)
    for field, value in changes.items():
        setattr(event, field, value)
    event.save()
    return event


def _reserve_place(event: Event, ticket_type: TicketType) -> int:
    """Take one place of the event and of the ticket type; return the new serial.

    Conditional UPDATEs: the WHERE clause re-checks the capacity after the row lock, so
    concurrent registrations never oversell (the CHECK constraints are the last guard).

    Lock order, the same everywhere (see ``_release_place``): the event row, then the ticket
    type row, then the attendee insert. Every writer of an event's places queues on the event
    row first, so a long transaction (a CSV import) and single registrations or revocations
    cannot wait on each other in a cycle (a deadlock PostgreSQL would break by killing one).
    """
    taken = Event.objects.filter(
        Q(capacity__isnull=True) | Q(issued_count__lt=F("capacity")), pk=event.pk
    ).update(issued_count=F("issued_count") + 1, last_serial=F("last_serial") + 1)
    if not taken:
        raise ServiceError("event", "This event is full.", code="sold_out")
    taken = TicketType.objects.filter(
        Q(capacity__isnull=True) | Q(issued_count__lt=F("capacity")), pk=ticket_type.pk
    ).update(issued_count=F("issued_count") + 1)
    if not taken:  # the caller's transaction rolls back the event's place taken above
        raise ServiceError("ticket_type", "This ticket type is sold out.", code="sold_out")
    return Event.objects.values_list("last_serial", flat=True).get(pk=event.pk)


def _release_place(ticket: Ticket) -> None:
    Event.objects.filter(pk=ticket.event_id, issued_count__gt=0).update(
        issued_count=F("issued_count") - 1
    )
    TicketType.objects.filter(pk=ticket.ticket_type_id, issued_count__gt=0).update(
        issued_count=F("issued_count") - 1
    )


def _pick_ticket_type(event: Event, ticket_type_id: int | None, public_only: bool) -> TicketType:
    types = TicketType.objects.filter(event=event)
    if public_only:
        types = types.filter(public=True)
    if ticket_type_id is None:
        ticket_type = types.order_by("position", "id").first()
        if ticket_type is None:
            raise ServiceError("ticket_type", "This event has no ticket type to register for.")
        return ticket_type
    try:
        return types.get(pk=ticket_type_id)
    except TicketType.DoesNotExist:
        raise ServiceError(
            "ticket_type", f"Ticket type {ticket_type_id} does not exist for this event."
        ) from None


def _issue_ticket(
    event: Event, attendee: Attendee, ticket_type: TicketType, serial: int | None = None
) -> Ticket:
    """Create the ticket (taking a place unless the caller already took it as ``serial``)."""
    if serial is None:
        serial = _reserve_place(event, ticket_type)
    for _ in range(5):
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
    _notify_issued(ticket)
    return ticket


def register(event: Event, data: Registration, *, public: bool = False) -> Ticket:
    """Register one attendee and issue their ticket, atomically.

    ``public=True`` is the self-service path: registration must be open and only public
    ticket types are offered. Duplicate e-mail policy: one attendee per e-mail per event
    (case-insensitive); a second registration with the same address is refused.
    """
    if public and not event.registration_open:
        raise ServiceError("event", "Registration for this event is closed.", code="closed")
    name, email, organisation = validate_registration(data)
    language = data.language or event.default_language
    if event.languages and language not in event.languages:
        raise ServiceError(
            "language", f"Language must be one of: {', '.join(event.languages)}."
        )
    duplicate = duplicate_email()
    with transaction.atomic():
        ticket_type = _pick_ticket_type(event, data.ticket_type_id, public_only=public)
        # Cheap early answer before queueing on the event row; the unique constraint below
        # is what actually guarantees it.
        if email_taken(event, email):
            raise duplicate
        serial = _reserve_place(event, ticket_type)
        try:
            with transaction.atomic():
                attendee = Attendee.objects.create(
                    event=event, name=name, email=email, organisation=organisation,
                    language=language,
                )
        except IntegrityError:
            raise duplicate from None
        return _issue_ticket(event, attendee, ticket_type, serial)


def issue_ticket_for(attendee: Attendee, ticket_type: TicketType) -> Ticket:
    """Issue a ticket for an existing attendee who has no valid one."""
    with transaction.atomic():
        if Ticket.objects.filter(attendee=attendee, status=Ticket.Status.VALID).exists():
            raise ServiceError("attendee", "This attendee already has a valid ticket.")
        return _issue_ticket(attendee.event, attendee, ticket_type)


@transaction.atomic
def delete_attendee(attendee: Attendee) -> None:
    """Delete an attendee, first revoking their tickets so that their places are freed."""
    for ticket in Ticket.objects.filter(attendee=attendee, status=Ticket.Status.VALID):
        revoke_ticket(ticket)
    attendee.delete()


# --- ticket life cycle ----------------------------------------------------------------------


@transaction.atomic
def revoke_ticket(ticket: Ticket) -> Ticket:
    """Revoke: the code stops working everywhere and the place is freed."""
    updated = Ticket.objects.filter(pk=ticket.pk, status=Ticket.Status.VALID).update(
        status=Ticket.Status.REVOKED, version=F("version") + 1, updated_at=timezone.now()
    )
    if updated:
        _release_place(ticket)
        log.info("ticket %s revoked", ticket.pk)
    ticket.refresh_from_db()
    return ticket


@transaction.atomic
def reissue_ticket(ticket: Ticket) -> Ticket:
    """Issue a new code for the same ticket (e.g. a leaked PDF); the old code is refused."""
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.status != Ticket.Status.VALID:
        raise ServiceError("ticket", "A revoked ticket cannot be reissued.")
    Ticket.objects.filter(pk=ticket.pk).update(
        version=F("version") + 1, updated_at=timezone.now()
    )
    ticket.refresh_from_db()
    _notify_issued(ticket)
    return ticket


# key id -> (its stored ciphertext, the decrypted key): decrypting costs more than signing, so
# each process does it once per key (a changed row, e.g. re-encrypted, is decrypted again).
_private_keys: dict[int, tuple[str, object]] = {}


def ticket_code(ticket: Ticket, key: EventKey | None = None) -> str:
    """The QR text of the ticket's current version, signed with the event's active key.

    ``key``: that key if the caller already has it (a delivery batch reads the keys of its
    events once; the look-up costs more CPU than the signature).
    """
    if key is None or key.event_id != ticket.event_id or not key.active:
        key = EventKey.objects.filter(event_id=ticket.event_id, active=True).first()
    if key is None:
        key = ensure_event_key(ticket.event)
    cached = _private_keys.get(key.pk)
    if cached is None or cached[0] != key.private_key:
        cached = (key.private_key, key.signing_key())
        _private_keys[key.pk] = cached
    claim = signing.TicketClaim(key.pk, ticket.event_id, ticket.pk, ticket.version)
    return signing.sign_ticket(cached[1], claim)
