"""The sweep: lost work queued again (rule 5 of ``tickets.delivery``)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from tickets.delivery.queue import CLAIMABLE, State, new_delivery, publish
from tickets.models import Delivery, Ticket

log = logging.getLogger(__name__)

MISSING_LOOKBACK = dt.timedelta(days=1)


@dataclass
class SweepResult:
    requeued: int = 0
    in_doubt: int = 0
    republished: int = 0
    created: int = 0


def sweep(now: dt.datetime | None = None) -> SweepResult:
    """Find lost work and queue it again (see the module docstring, rule 5)."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.VARCO_DELIVERY_STALE_SECONDS)
    doubt_after = max(settings.VARCO_DELIVERY_STALE_SECONDS, 2 * settings.EMAIL_TIMEOUT)
    doubt_cutoff = now - dt.timedelta(seconds=doubt_after)
    result = SweepResult()
    # Claimed, never handed to the server: nothing left the machine, send again.
    result.requeued = Delivery.objects.filter(
        state=State.SENDING, handed_at__isnull=True, claimed_at__lt=stale
    ).update(state=State.QUEUED, claim_token="", next_attempt_at=now, updated_at=now,
             last_error="worker lost before sending; queued again")
    # Handed over, no answer recorded: in doubt; re-sent with the same Message-ID, unless it
    # was tried too often already (then failed, and visible as possibly delivered).
    Delivery.objects.filter(
        state=State.SENDING, handed_at__lt=doubt_cutoff,
        attempts__gte=settings.VARCO_DELIVERY_MAX_ATTEMPTS,
    ).update(state=State.FAILED, claim_token="", in_doubt_count=F("in_doubt_count") + 1,
             updated_at=now, last_error="in doubt after the last attempt: the worker was lost "
                                        "after handing the message over; it may have arrived")
    result.in_doubt = Delivery.objects.filter(
        state=State.SENDING, handed_at__lt=doubt_cutoff
    ).update(state=State.IN_DOUBT, claim_token="", handed_at=None, next_attempt_at=now,
             in_doubt_count=F("in_doubt_count") + 1, updated_at=now,
             last_error="in doubt: worker lost after handing the message to the SMTP server; "
                        "re-sent with the same Message-ID")
    # Tickets issued recently with no delivery at all (lost between commit and hook).
    if settings.VARCO_SEND_ON_ISSUE:
        missing = list(
            Ticket.objects.filter(
                status=Ticket.Status.VALID, updated_at__lt=stale,
                updated_at__gte=now - MISSING_LOOKBACK,
            )
            .exclude(Exists(Delivery.objects.filter(ticket=OuterRef("pk"),
                                                    version=OuterRef("version"))))
            .select_related("attendee")[:5000]
        )
        if missing:
            rows = [new_delivery(t, Delivery.Reason.ISSUED) for t in missing]
            for row in rows:  # due at this sweep's "now", so the publication below takes them
                row.queued_at = row.next_attempt_at = row.updated_at = now
            Delivery.objects.bulk_create(rows, ignore_conflicts=True)
            result.created = len(missing)
    # Everything due that nobody claimed: its task was lost (or its retry was).
    due = list(
        Delivery.objects.filter(
            Q(next_attempt_at__lt=stale) | Q(updated_at__gte=now),
            state__in=CLAIMABLE, next_attempt_at__lte=now,
        ).order_by("next_attempt_at", "id").values_list("pk", flat=True)[:20000]
    )
    if due:
        publish(due)
    result.republished = len(due)
    if result.requeued or result.in_doubt or result.created or due:
        log.info("delivery sweep: %s", result)
    return result
