"""Celery tasks of the ticket e-mail pipeline (the rules are in ``tickets.delivery``).

Registered by ``TicketsConfig.ready()`` (Celery's autodiscovery looks for ``tickets.tasks``
only); ``queue.publish`` sends ``send_deliveries`` by its name, never importing this module.
"""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_process_init
from django.utils import timezone

from tickets.delivery import queue
from tickets.delivery.batch import send_batch
from tickets.delivery.sweep import sweep
from tickets.documents import pdf


@worker_process_init.connect
def _warm_up(**kwargs) -> None:
    """Load fonts and page templates when a worker process starts, not on its first ticket."""
    pdf.warm_up()


@shared_task(name=queue.SEND_TASK, acks_late=True, ignore_result=True)
def send_deliveries(delivery_ids: list[int]) -> dict:
    """Claim and send a batch of deliveries over one SMTP connection.

    Safe to run twice or after a crash: rows are claimed with a conditional UPDATE, so a
    replayed message finds them sent (or claimed by someone else) and does nothing. Rows
    refused with a temporary error are retried by a new task when their backoff is due.
    """
    result = send_batch(list(delivery_ids))
    if result.retry:
        soonest = min(result.retry.values())
        countdown = max((soonest - timezone.now()).total_seconds(), 0.0)
        queue.publish(sorted(result.retry), countdown=countdown)
    return result.as_dict()


@shared_task(name="tickets.sweep_deliveries", ignore_result=True)
def sweep_deliveries() -> dict:
    """Periodic (beat): re-queue deliveries whose worker or task was lost."""
    return vars(sweep())
