"""Reading the audit log: always within the organisers the reader belongs to."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from audit.models import AuditEntry


def entries(organiser_ids: Iterable[int], *, event_id: int | None = None,
            attendee_id: int | None = None) -> QuerySet[AuditEntry]:
    found = AuditEntry.objects.filter(organiser_id__in=list(organiser_ids))
    if event_id is not None:
        found = found.filter(event_id=event_id)
    if attendee_id is not None:
        found = found.filter(attendee_id=attendee_id)
    return found.order_by("-at", "-id")
