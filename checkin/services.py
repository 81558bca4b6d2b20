"""Check-in writes: lists, devices (tokens), manual check-in, undo, offline upload.

The scan itself lives in ``checkin.scanning`` (the hot path); everything here is the slower,
rarer business around it and calls the same recording function, so there is one set of rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import qrcode
from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, When
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from qrcode.image.svg import SvgPathImage

from audit import services as audit
from checkin import devices, scanning
from checkin.devices import DeviceInfo, ListRule
from checkin.models import (
    CheckinList,
    Device,
    Direction,
    Presence,
    Reason,
    Result,
    ScanLog,
    Source,
)
from checkin.scanning import clock, nonces
from core.errors import ServiceError, error_body
from tickets.models import Event, TicketType

ANNUL_WINDOW = dt.timedelta(minutes=15)
MAX_UPLOAD = 500


# --- lists ------------------------------------------------------------------------------------
# The rules of lists and devices are checked here, and only here: the organiser API and the
# admin call these checks (the admin's forms to name the field) and these writes.


def check_hours(opens_at, closes_at) -> None:
    if opens_at and closes_at and closes_at <= opens_at:
        raise ServiceError("closes_at", _("The list must close after it opens."))


def check_types(event: Event, ticket_types: Iterable[TicketType]) -> list[TicketType]:
    ticket_types = list(ticket_types)
    for ticket_type in ticket_types:
        if ticket_type.event_id != event.pk:
            raise ServiceError(
                "ticket_types", format_lazy(_("Ticket type {id} belongs to another event."),
                                            id=ticket_type.pk)
            )
    return ticket_types


def check_name(event: Event, name: str, checkin_list: CheckinList | None = None) -> None:
    """One list of a name per event (the database's unique constraint, named for a 400)."""
    clash = CheckinList.objects.filter(event=event, name=name)
    if checkin_list is not None:
        clash = clash.exclude(pk=checkin_list.pk)
    if clash.exists():
        raise ServiceError("name", _("This event already has a check-in list with this name."),
                           code="duplicate")


def _forget_devices_on_commit() -> None:
    """Devices and their lists are cached per process: clear this one's now and after the
    commit, and every other process's (``devices.forget_everywhere``)."""
    devices.forget_everywhere()


@transaction.atomic
def create_list(event: Event, name: str, *, ticket_types: Iterable[TicketType] | None = None,
                **fields) -> CheckinList:
    """A check-in list; ``ticket_types`` None or empty admits every type of the event."""
    check_hours(fields.get("opens_at"), fields.get("closes_at"))
    types = check_types(event, ticket_types or [])
    check_name(event, name)
    checkin_list = CheckinList.objects.create(
        event=event, name=name, all_ticket_types=not types, **fields
    )
    checkin_list.ticket_types.set(types)
    _record("list.created", checkin_list)
    _forget_devices_on_commit()
    return checkin_list


def _record(action: str, target: CheckinList | Device, **data) -> None:
    event = target.event
    audit.record(action, organiser_id=event.organiser_id, event_id=event.pk, target=target,
                 data=data)


def _state(target: CheckinList | Device) -> dict:
    fields = [f for f in audit.editable_fields(type(target)) if f != "token_hash"]
    values = audit.snapshot(target, fields)
    relation = "ticket_types" if isinstance(target, CheckinList) else "lists"
    if target.pk is not None:
        values[relation] = sorted(getattr(target, relation).values_list("pk", flat=True))
    return values


@transaction.atomic
def update_list(checkin_list: CheckinList, *, ticket_types: Iterable[TicketType] | None = None,
                **fields) -> CheckinList:
    before = _state(checkin_list)
    for name, value in fields.items():
        setattr(checkin_list, name, value)
    check_hours(checkin_list.opens_at, checkin_list.closes_at)
    if "name" in fields:
        check_name(checkin_list.event, checkin_list.name, checkin_list)
    if ticket_types is not None:
        types = check_types(checkin_list.event, ticket_types)
        checkin_list.all_ticket_types = not types
        checkin_list.ticket_types.set(types)
    checkin_list.save()
    changed = audit.changes(before, _state(checkin_list))
    if changed:
        _record("list.changed", checkin_list, changes=changed)
    _forget_devices_on_commit()
    return checkin_list


@transaction.atomic
def delete_list(checkin_list: CheckinList) -> None:
    """A list nobody scanned on (the scan log keeps every scan's list)."""
    if checkin_list.scans.exists():
        raise ServiceError("list", _("This list has scans; it cannot be deleted."))
    _record("list.deleted", checkin_list)
    checkin_list.delete()
    _forget_devices_on_commit()


# --- devices ----------------------------------------------------------------------------------


def check_lists(event: Event, lists: Iterable[CheckinList] | None) -> list[CheckinList]:
    """A device's lists: of its event, at least one; None: every list the event has now."""
    if lists is None:
        lists = list(CheckinList.objects.filter(event=event))
    lists = list(lists)
    for checkin_list in lists:
        if checkin_list.event_id != event.pk:
            raise ServiceError("lists", format_lazy(_("List {id} belongs to another event."),
                                                 id=checkin_list.pk))
    if not lists:
        raise ServiceError("lists", _("A device needs at least one check-in list of its event."))
    return lists


@transaction.atomic
def create_device(event: Event, name: str, gate: str = "", *,
                  lists: Iterable[CheckinList] | None = None, created_by=None
                  ) -> tuple[Device, str]:
    """Create a scanner device; return it and its token (shown once, stored hashed).

    ``lists`` None: every check-in list the event has now.
    """
    allowed = check_lists(event, lists)
    token = devices.new_token()
    device = Device.objects.create(
        event=event, name=name, gate=gate, token_hash=devices.hash_token(token),
        token_hint=token[-4:], created_by=created_by,
    )
    device.lists.set(allowed)
    _record("device.created", device, gate=gate)
    _forget_devices_on_commit()
    return device, token


@transaction.atomic
def update_device(device: Device, *, lists: Iterable[CheckinList] | None = None,
                  **fields) -> Device:
    before = _state(device)
    for name, value in fields.items():
        setattr(device, name, value)
    device.save()
    if lists is not None:
        device.lists.set(check_lists(device.event, lists))
    changed = audit.changes(before, _state(device))
    if changed:
        _record("device.changed", device, changes=changed)
    _forget_devices_on_commit()
    return device


@transaction.atomic
def revoke_device(device: Device) -> Device:
    """The token stops working: in every process as soon as they hear of it through Redis,
    and within VARCO_DEVICE_CACHE_SECONDS whatever happens (checkin/devices.py)."""
    if Device.objects.filter(pk=device.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()):
        _record("device.revoked", device)
    devices.forget_everywhere()
    device.refresh_from_db()
    return device


@transaction.atomic
def rotate_device_token(device: Device) -> tuple[Device, str]:
    """A new token for the device (e.g. a lost phone); the old one stops working."""
    if device.is_revoked:
        raise ServiceError("device", _("A revoked device cannot get a new token."))
    token = devices.new_token()
    Device.objects.filter(pk=device.pk).update(
        token_hash=devices.hash_token(token), token_hint=token[-4:]
    )
    _record("device.token_rotated", device)
    devices.forget_everywhere()
    device.refresh_from_db()
    return device, token


def pairing_url(token: str, base: str | None = None, page: str = "/scan/") -> str:
    """What the pairing QR holds: the door page, with the token in the fragment.

    A fragment never reaches the server or its logs; the page reads it, stores the token
    and removes it from the address bar. ``base``: the site's address as the organiser
    reached it (the console passes the request's, so the link works from where they are);
    ``SITE_URL`` without one. ``page``: another page paired the same way (the badges' print
    station, ``/print/``).
    """
    return f"{(base or settings.SITE_URL).rstrip('/')}{page}#pair={token}"


def pairing_qr_svg(token: str, base: str | None = None, page: str = "/scan/") -> str:
    image = qrcode.make(pairing_url(token, base, page), image_factory=SvgPathImage,
                        box_size=10, border=2)
    return image.to_string(encoding="unicode")


def touch_device(device_id: int) -> None:
    Device.objects.filter(pk=device_id).update(last_seen_at=timezone.now())


# --- manual check-in, undo ---------------------------------------------------------------------


def manual_check_in(rule: ListRule, ticket_id: int, *, device_id: int | None = None,
                    user_id: int | None = None, direction: str = Direction.ENTRY,
                    nonce: str | None = None, request_key: str | None = None
                    ) -> scanning.ScanAnswer:
    """Staff found the attendee by search and check them in by hand (logged as manual).

    Raises ``checkin.scanning.nonces.NonceReused`` if ``nonce`` was used for another request."""
    return scanning.check_in_ticket(
        ticket_id,
        scanning.ScanInput(rule=rule, device_id=device_id, user_id=user_id, direction=direction,
                           nonce=nonce, source=Source.MANUAL, request_key=request_key),
    )


@transaction.atomic
def annul(device: DeviceInfo, nonce: str) -> ScanLog:
    """Undo the device's own accepted scan ``nonce`` of the last 15 minutes; idempotent.

    The scan's row stays in the log; a new ``annul`` row points at it (at most one, by a
    unique constraint), and the presence is put back as it was before that scan.
    """
    original = (
        ScanLog.objects.select_for_update()
        .filter(device_id=device.id, nonce=nonce)
        .first()
    )
    if original is None:
        raise ServiceError("nonce", _("This device made no scan with this nonce."),
                           code="not_found")
    done = ScanLog.objects.filter(annuls=original).first()
    if done is not None:
        return done
    if original.direction == Direction.ANNUL:
        raise ServiceError("nonce", _("An undo cannot be undone."), code="not_annullable")
    if original.result != Result.OK or original.ticket_id is None:
        raise ServiceError("nonce", _("Only an accepted scan can be undone."),
                           code="not_accepted")
    now = timezone.now()
    if now - original.received_at > ANNUL_WINDOW:
        raise ServiceError("nonce", _("Only scans of the last 15 minutes can be undone."),
                           code="too_old")
    presence = Presence.objects.filter(list_id=original.list_id, ticket_id=original.ticket_id)
    allow_exit = CheckinList.objects.values_list("allow_exit", flat=True).get(
        pk=original.list_id
    )
    if original.direction == Direction.ENTRY:
        presence.filter(entries__gt=0).update(
            entries=F("entries") - 1,
            inside=Case(When(entries__gt=1, then=not allow_exit), default=False),
            first_entry_at=Case(When(entries__gt=1, then=F("first_entry_at")), default=None),
            last_entry_at=Case(When(entries__gt=1, then=F("last_entry_at")), default=None),
            updated_at=now,
        )
    else:
        presence.filter(exits__gt=0, inside=False).update(
            exits=F("exits") - 1, inside=True, updated_at=now
        )
    return ScanLog.objects.create(
        event_id=original.event_id,
        list_id=original.list_id,
        device_id=device.id,
        ticket_id=original.ticket_id,
        direction=Direction.ANNUL,
        result=Result.OK,
        source=Source.MANUAL,
        scanned_at=now,
        received_at=now,
        annuls=original,
    )


# --- offline upload ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OfflineScan:
    list: int
    nonce: str
    scanned_at: clock.Claim
    code: str | None = None
    ticket: int | None = None  # a manual check-in made offline
    direction: str = Direction.ENTRY
    local_ok: bool = True
    request_key: str | None = None  # see nonces.request_key


_AFTER_ALL = dt.datetime.max.replace(tzinfo=dt.UTC)


def upload_offline(device: DeviceInfo, scans: list[OfflineScan]) -> tuple[list[dict], int]:
    """Record scans a device made while offline, oldest first; one answer per scan, and how
    many invalid codes were answered but not logged row by row.

    Each goes through the same statement as a live scan (source ``offline``), so a ticket
    scanned on two offline devices is admitted once; the later upload is logged as
    ``already_checked_in`` and, if the device had let the person in, flagged as a conflict.
    A re-upload of the same nonces records nothing new (a device may resend after a timeout).

    Invalid codes (failed signature) count against the device's flood allowance like live
    scans (``checkin.scanning.flood``): past it they are still answered ``invalid`` but only
    counted, not logged one by one — so an upload cannot write thousands of junk rows at once.
    Signed codes and tickets are never limited: an honest gate's queue is recorded in full.
    A scan whose nonce this device already used for a different request is answered with a
    ``nonce_reused`` error in its place; the others are recorded.
    """
    results: list[dict] = []
    not_logged = 0
    # A claim Python cannot hold (a clock in the year 0) is recorded at the receipt time: last.
    for item in sorted(scans, key=lambda s: s.scanned_at.at or _AFTER_ALL):
        scan = scanning.ScanInput(
            rule=device.lists[item.list], device_id=device.id, direction=item.direction,
            nonce=item.nonce, scanned_at=item.scanned_at, source=Source.OFFLINE,
            local_ok=item.local_ok, limit_invalid=True, upload=True, device_name=device.name,
            request_key=item.request_key,
        )
        try:
            if item.code is not None:
                answer = scanning.scan_code(item.code, scan)
            else:
                answer = scanning.check_in_ticket(item.ticket, scan)
        except scanning.TooManyInvalid:
            not_logged += 1
            answer = scanning.ScanAnswer(Result.REJECTED, Reason.INVALID)
        except nonces.NonceReused:
            results.append({"nonce": item.nonce, **error_body(
                "nonce_reused", nonces.NonceReused.message,
                {"nonce": ["Already used by this device for a different scan."]},
            )})
            continue
        results.append({"nonce": item.nonce, **answer.as_json(), "conflict": answer.conflict})
    return results, not_logged
