"""Real Celery worker processes on Redis, PostgreSQL and a real SMTP server (aiosmtpd).

- 500 tickets; the worker is SIGKILLed mid-batch and a new one started: every ticket arrives,
  and exactly once (the only allowed repeat is the in-doubt rule's re-send of the same message,
  same Message-ID, flagged on the delivery).
- The SMTP server refuses (451) for a while, then recovers: every ticket arrives exactly once.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict

import pytest
import redis
from django.db.models import Count

from tests.support.deliveries import register_many, sent_count
from tests.support.worker_process import Worker, no_other_sessions, wait_until, worker_env
from tickets.delivery import queue
from tickets.models import Delivery

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(240),
]


@pytest.fixture
def real_broker(settings):
    """Publish to the real Redis (not eagerly), starting from an empty queue."""
    from backend.celery import app

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    settings.VARCO_SEND_ON_ISSUE = False  # the test queues them all at once, as issue_tickets
    yield
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    # The killed workers' database sessions end a moment after them; let them go before the
    # test database is flushed and, at the end of the run, dropped.
    wait_until(no_other_sessions, timeout=15)


@pytest.mark.drills  # a fault drill too (tests/system/test_drills.py)
def test_worker_killed_mid_batch_every_ticket_delivered_exactly_once(
    organiser, smtp_sink, real_broker, tmp_path
):
    event, tickets = register_many(organiser, 500, "kill-test")
    env = worker_env(smtp_sink.port, tmp_path, VARCO_SEND_ON_ISSUE="0")
    ids = queue.queue_unsent(event)
    assert len(ids) == 500

    first = Worker(env, tmp_path / "worker1.log")
    try:
        assert wait_until(lambda: smtp_sink.count() >= 150, timeout=90), first.log_tail()
        first.kill()
    finally:
        first.stop()
    at_kill = smtp_sink.count()
    assert at_kill < 500, "the worker finished before it could be killed"
    stuck = Delivery.objects.filter(ticket__event=event, state=Delivery.State.SENDING).count()

    second = Worker(env, tmp_path / "worker2.log")
    try:
        done = wait_until(lambda: sent_count(event) == 500, timeout=120)
        assert done, f"{sent_count(event)} of 500 sent\n{second.log_tail()}"
        # Nothing more may arrive afterwards (a late duplicate would show up here).
        wait_until(lambda: False, timeout=3)
    finally:
        second.stop()

    rows = {d.ticket_id: d for d in Delivery.objects.filter(ticket__event=event)}
    per_ticket = smtp_sink.per_ticket()
    message_ids: dict[str, set[str]] = defaultdict(set)
    for received in smtp_sink.messages:
        message_ids[received.ticket].add(received.message_id)
    expected = {f"{t.pk}.{t.version}" for t in tickets}
    assert set(per_ticket) == expected  # every ticket arrived, nothing else did
    for ticket in tickets:
        key = f"{ticket.pk}.{ticket.version}"
        row = rows[ticket.pk]
        assert message_ids[key] == {row.message_id}  # one message per ticket
        if per_ticket[key] > 1:  # only the in-doubt re-send of that same message
            assert row.in_doubt_count >= per_ticket[key] - 1, (key, row.last_error)
    duplicates = sum(n - 1 for n in per_ticket.values())
    recovered = Delivery.objects.filter(
        ticket__event=event, last_error__contains="worker lost"
    ).count()
    in_doubt = sum(r.in_doubt_count for r in rows.values())
    print(f"\nkill test: {at_kill} received before SIGKILL, {stuck} deliveries left 'sending', "
          f"{recovered} recovered by the sweep, {in_doubt} in doubt, {duplicates} same-ID "
          f"re-sends, {smtp_sink.count()} messages for 500 tickets")
    assert stuck > 0 and recovered > 0  # the kill really interrupted batches in flight
    assert duplicates <= in_doubt


def test_smtp_refusing_then_recovering_delivers_each_ticket_once(
    organiser, smtp_sink, real_broker, tmp_path
):
    event, tickets = register_many(organiser, 60, "refusal-test")
    smtp_sink.refuse_rcpt = "451 4.3.2 System not accepting messages, try later"
    env = worker_env(smtp_sink.port, tmp_path, VARCO_SEND_ON_ISSUE="0")
    queue.queue_unsent(event)
    worker = Worker(env, tmp_path / "worker.log", concurrency=2)
    try:
        every_one_refused = Delivery.objects.filter(ticket__event=event, attempts=0)
        assert wait_until(lambda: not every_one_refused.exists(), timeout=60), worker.log_tail()
        assert smtp_sink.count() == 0 and smtp_sink.refused >= 60
        refused = Delivery.objects.filter(ticket__event=event, state=Delivery.State.QUEUED,
                                          last_error__startswith="451 4.3.2").count()
        assert refused > 0  # the refusal is visible on the deliveries while it lasts
        smtp_sink.refuse_rcpt = None
        assert wait_until(lambda: sent_count(event) == 60, timeout=90), worker.log_tail()
        wait_until(lambda: False, timeout=2)
    finally:
        worker.stop()
    per_ticket = smtp_sink.per_ticket()
    assert per_ticket == Counter({f"{t.pk}.{t.version}": 1 for t in tickets})
    attempts = Counter(
        Delivery.objects.filter(ticket__event=event).values_list("attempts", flat=True)
    )
    assert min(attempts) >= 2  # every one was refused at least once, then retried
    assert not Delivery.objects.filter(ticket__event=event).exclude(
        state=Delivery.State.SENT).exists()
    assert Delivery.objects.values("ticket").annotate(n=Count("pk")).filter(n__gt=1).count() == 0
