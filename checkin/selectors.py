"""Check-in reads: door-side search, the offline snapshot, the changes feed, organiser lists."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from checkin.devices import DeviceInfo
from checkin.models import CheckinList, Device, Presence, Result, ScanLog
from checkin.scanning import flood, iso
from tickets import selectors as ticket_selectors
from tickets.models import Attendee, Event, EventKey, Ticket, TicketType

# Rows committed out of id/time order (concurrent transactions) are caught by re-reading this
# much of the recent past on every poll; clients de-duplicate by id.
CHANGES_OVERLAP = dt.timedelta(seconds=5)
CHANGES_LIMIT = 1000
SEARCH_LIMIT = 25


def lists_for_event(event: Event) -> QuerySet[CheckinList]:
    return CheckinList.objects.filter(event=event).prefetch_related("ticket_types")


def devices_for_event(event: Event) -> QuerySet[Device]:
    return Device.objects.filter(event=event).prefetch_related("lists")


def scans_for_event(event: Event) -> QuerySet[ScanLog]:
    return (
        ScanLog.objects.filter(event=event)
        .select_related("device", "list", "ticket__attendee", "annuls")
        .order_by("-received_at", "-id")
    )


def search_matches(event_id: int, query: str) -> QuerySet[Ticket]:
    """The door's search as one statement: tickets of the event whose attendee the query finds
    by name, organisation or ticket reference, accent-, case- and script-blind
    (``tickets.selectors.matching_attendees``; not by e-mail: the door shows no addresses, so
    it does not look them up either)."""
    attendees = ticket_selectors.matching_attendees(
        Attendee.objects.filter(event_id=event_id), query, emails=False, event_id=event_id
    )
    # attendee IN (the matches): a semi-join the planner starts from the search index
    return (
        Ticket.objects.filter(event_id=event_id, attendee__in=attendees)
        .select_related("attendee", "ticket_type")
        .order_by("-status", "attendee__name", "id")
    )


def search_tickets(device: DeviceInfo, query: str, list_id: int | None = None) -> list[dict]:
    """Attendees of the device's event found by ``search_matches``, with their presence."""
    query = query.strip()
    if len(query) < 2:
        return []
    tickets = list(search_matches(device.event_id, query)[:SEARCH_LIMIT])
    lists = [list_id] if list_id is not None else list(device.lists)
    state = {
        p.ticket_id: p
        for p in Presence.objects.filter(
            list_id__in=lists, ticket__in=[t.pk for t in tickets], entries__gt=0
        ).order_by("first_entry_at")
    }
    results = []
    for ticket in tickets:
        presence = state.get(ticket.pk)
        results.append(
            {
                "ticket": ticket.pk,
                "reference": ticket.reference,
                "status": ticket.status,
                "name": ticket.attendee.name,
                "organisation": ticket.attendee.organisation,
                "ticket_type": ticket.ticket_type.name,
                "checked_in": presence is not None,
                "inside": bool(presence and presence.inside),
                "first_checked_in_at": iso(presence.first_entry_at) if presence else None,
            }
        )
    return results


TICKET_FIELDS = ["id", "version", "status", "name", "organisation", "ticket_type", "reference"]
PRESENCE_FIELDS = ["list", "ticket", "inside", "entries", "first_entry_at"]


def _ticket_rows(tickets: QuerySet[Ticket]) -> list[list]:
    return [
        list(row)
        for row in tickets.values_list(
            "id", "version", "status", "attendee__name", "attendee__organisation",
            "ticket_type_id", "reference",
        ).order_by("id")
    ]


def snapshot(device: DeviceInfo) -> dict:
    """Everything a device needs to validate and record scans while offline.

    Tickets are sent as compact rows (``ticket_fields`` names the columns); a code is valid
    offline when its signature verifies with one of ``keys``, its ticket is in ``tickets`` with
    status ``valid`` and the same version. ``revoked`` lists revoked tickets with their current
    version: any code for them is refused. ``cursor`` starts the changes feed.
    """
    now = timezone.now()
    tickets = Ticket.objects.filter(event_id=device.event_id)
    rows = _ticket_rows(tickets)
    types = list(
        TicketType.objects.filter(event_id=device.event_id).values_list("pk", "name", "name_i18n")
    )
    return {
        "generated_at": iso(now),
        "cursor": iso(now),
        "event": event_json(device.event_id),
        "device": {"id": device.id, "name": device.name, "gate": device.gate},
        "lists": [list_json(rule) for rule in device.lists.values()],
        "keys": [
            {"id": pk, "event": event_id, "public_key": public}
            for pk, event_id, public in EventKey.objects.filter(event_id=device.event_id)
            .values_list("pk", "event_id", "public_key")
        ],
        "ticket_types": {str(pk): name for pk, name, _ in types},
        # The names in the event's other languages (the organiser's ``name_i18n``), so the door
        # page shows the ticket type in its own language, offline too.
        "ticket_type_names": {str(pk): translations or {} for pk, _, translations in types},
        "ticket_fields": TICKET_FIELDS,
        "tickets": [row for row in rows if row[2] == Ticket.Status.VALID],
        "revoked": [[row[0], row[1]] for row in rows if row[2] != Ticket.Status.VALID],
        "presence_fields": PRESENCE_FIELDS,
        "presence": [
            [p["list_id"], p["ticket_id"], p["inside"], p["entries"], iso(p["first_entry_at"])]
            for p in Presence.objects.filter(list_id__in=list(device.lists), entries__gt=0)
            .values("list_id", "ticket_id", "inside", "entries", "first_entry_at")
        ],
        "invalid_code_limit": flood.offline_allowance(),
    }


def event_json(event_id: int) -> dict:
    event = Event.objects.get(pk=event_id)
    return {
        "id": event.pk,
        "name": event.name,
        "venue": event.venue,
        "timezone": event.timezone,
        "languages": event.languages,
        "start": iso(event.start),
        "end": iso(event.end),
    }


def list_json(rule) -> dict:
    return {
        "id": rule.id,
        "name": rule.name,
        "ticket_types": list(rule.ticket_types) if rule.ticket_types is not None else None,
        "allow_reentry": rule.allow_reentry,
        "allow_exit": rule.allow_exit,
        "opens_at": iso(rule.opens_at),
        "closes_at": iso(rule.closes_at),
    }


def changes(device: DeviceInfo, since: dt.datetime) -> dict:
    """What changed on the device's lists since ``since`` (scans by any device, tickets).

    Returns accepted scans and undos (``scans``, with the resulting presence in
    ``presence``), and tickets created, revoked or reissued (``tickets``), so an online device
    keeps its offline copy current within one poll. Pass the returned ``cursor`` next time.
    """
    now = timezone.now()
    start = since - CHANGES_OVERLAP
    scans = list(
        ScanLog.objects.filter(
            list_id__in=list(device.lists), received_at__gte=start, result=Result.OK
        )
        .order_by("received_at", "id")
        .values(
            "id", "list_id", "ticket_id", "device_id", "direction", "source", "scanned_at",
            "received_at", "annuls_id",
        )[:CHANGES_LIMIT]
    )
    more = len(scans) == CHANGES_LIMIT
    cursor = scans[-1]["received_at"] if more else now
    touched = {(s["list_id"], s["ticket_id"]) for s in scans if s["ticket_id"]}
    presence = []
    if touched:
        presence = [
            [p["list_id"], p["ticket_id"], p["inside"], p["entries"], iso(p["first_entry_at"])]
            for p in Presence.objects.filter(
                list_id__in={lst for lst, _ in touched},
                ticket_id__in={tk for _, tk in touched},
            ).values("list_id", "ticket_id", "inside", "entries", "first_entry_at")
            if (p["list_id"], p["ticket_id"]) in touched
        ]
    tickets = _ticket_rows(
        Ticket.objects.filter(event_id=device.event_id, updated_at__gte=start)
    )
    return {
        "cursor": iso(cursor),
        "more": more,
        "scans": [
            {
                "id": s["id"],
                "list": s["list_id"],
                "ticket": s["ticket_id"],
                "device": s["device_id"],
                "own": s["device_id"] == device.id,
                "type": s["direction"],
                "source": s["source"],
                "scanned_at": iso(s["scanned_at"]),
                "received_at": iso(s["received_at"]),
                "annuls": s["annuls_id"],
            }
            for s in scans
        ],
        "presence_fields": PRESENCE_FIELDS,
        "presence": presence,
        "ticket_fields": TICKET_FIELDS,
        "tickets": tickets,
    }
