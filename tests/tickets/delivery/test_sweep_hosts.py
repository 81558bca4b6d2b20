"""The delivery sweep run by several hosts at once (every worker host runs the scheduler's
sweep, or two schedulers overlap after a failover): each lost delivery is queued again once,
each in-doubt one counted once, a missing one created once (tickets/delivery/sweep.py; its
UPDATEs are conditional and the missing rows are kept unique by the database)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Count
from django.utils import timezone

from tests.support.deliveries import register_many
from tests.support.many_processes import run_at_once
from tickets.models import Delivery, Ticket

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

SWEEP = """
from dataclasses import asdict
from tickets.delivery.sweep import sweep
print(json.dumps(asdict(sweep())))
"""


def test_four_hosts_sweeping_at_once_move_each_row_once(organiser, tmp_path):
    _, tickets = register_many(organiser, 90, "sweep-hosts")
    long_ago = timezone.now() - dt.timedelta(minutes=30)
    ids = [t.pk for t in tickets]
    Delivery.objects.filter(ticket_id__in=ids).delete()
    lost, doubtful, missing = ids[:30], ids[30:60], ids[60:]
    for ticket in tickets[:60]:
        Delivery.objects.create(
            ticket=ticket, version=ticket.version, reason=Delivery.Reason.ISSUED,
            recipient=ticket.attendee.email, message_id=f"<sweep-{ticket.pk}@test>",
            state=Delivery.State.SENDING, claimed_at=long_ago, attempts=1,
            handed_at=long_ago if ticket.pk in doubtful else None, claim_token="x")
    Ticket.objects.filter(pk__in=ids).update(updated_at=long_ago)

    results = run_at_once(SWEEP, 4, tmp_path)

    assert sum(r["requeued"] for r in results) == 30
    assert sum(r["in_doubt"] for r in results) == 30
    per_ticket = dict(Delivery.objects.filter(ticket_id__in=ids).values_list("ticket_id")
                      .annotate(n=Count("id")).values_list("ticket_id", "n"))
    assert per_ticket == dict.fromkeys(ids, 1)  # none lost, none doubled
    states = dict(Delivery.objects.filter(ticket_id__in=ids).values_list("ticket_id", "state"))
    assert {states[i] for i in lost} == {Delivery.State.QUEUED}
    assert {states[i] for i in doubtful} == {Delivery.State.IN_DOUBT}
    assert {states[i] for i in missing} == {Delivery.State.QUEUED}
    assert Delivery.objects.get(ticket_id=doubtful[0]).in_doubt_count == 1
