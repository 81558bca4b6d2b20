"""Reads for the event home: the event's numbers in one place (no writes here)."""

from __future__ import annotations

from django.db.models import Count, F, OuterRef, QuerySet, Subquery

from checkin.attendance.selectors import attendance
from checkin.models import Device
from tickets.models import Delivery, Event, Ticket

WAITING = (Delivery.State.QUEUED, Delivery.State.SENDING, Delivery.State.IN_DOUBT)


def latest_delivery(field: str, ticket_ref: str = "pk") -> Subquery:
    """A ticket's latest delivery's ``field`` (the newest row is the one the attendee got)."""
    return Subquery(
        Delivery.objects.filter(ticket=OuterRef(ticket_ref)).order_by("-pk").values(field)[:1]
    )


def delivery_counts(event: Event) -> dict[str, int]:
    """Valid tickets by the state of their latest e-mail: sent, waiting, failed, not sent."""
    rows = (
        Ticket.objects.filter(event=event, status=Ticket.Status.VALID)
        .annotate(latest=latest_delivery("state")).order_by()
        .values("latest").annotate(n=Count("pk"))
    )
    counts = {"sent": 0, "waiting": 0, "failed": 0, "not_sent": 0}
    for row in rows:
        state = row["latest"]
        if state == Delivery.State.SENT:
            counts["sent"] += row["n"]
        elif state in WAITING:
            counts["waiting"] += row["n"]
        elif state == Delivery.State.FAILED:
            counts["failed"] += row["n"]
        else:  # never queued, or its message was cancelled (superseded)
            counts["not_sent"] += row["n"]
    return counts


def failed_deliveries(event: Event, limit: int = 20) -> QuerySet[Delivery]:
    """Valid tickets whose latest e-mail failed, that delivery with the SMTP server's answer."""
    return (
        Delivery.objects.filter(ticket__event=event, ticket__status=Ticket.Status.VALID,
                                state=Delivery.State.FAILED)
        .annotate(newest=latest_delivery("pk", "ticket")).filter(pk=F("newest"))
        .select_related("ticket__attendee").order_by("-updated_at", "-pk")[:limit]
    )


def figures(event: Event) -> dict[str, int]:
    """What the event home shows and its JSON endpoint returns (the page polls it)."""
    live = attendance(event)
    return {
        "registrations": event.attendees.count(),
        "valid": Ticket.objects.filter(event=event, status=Ticket.Status.VALID).count(),
        "revoked": Ticket.objects.filter(event=event, status=Ticket.Status.REVOKED).count(),
        **delivery_counts(event),
        "checked_in": live["checked_in"],
        "inside": live["inside"],
        "devices": Device.objects.filter(event=event, revoked_at__isnull=True).count(),
    }
