"""Periodic jobs and task routing, applied to the Celery app by ``backend.celery``.

Beat runs inside ``python -m worker`` (unless ``VARCO_SEPARATE_BEAT`` is set and a separate
``celery -A backend beat`` runs), so the delivery sweep runs wherever workers run.
"""

from __future__ import annotations

from celery import Celery

from worker import queues

TASK_ROUTES = {
    "tickets.send_deliveries": {"queue": queues.DELIVERIES},
    "tickets.sweep_deliveries": {"queue": queues.DEFAULT},
}


def beat_schedule(sweep_seconds: float) -> dict:
    return {
        "sweep-deliveries": {
            "task": "tickets.sweep_deliveries",
            "schedule": sweep_seconds,
            # A sweep that could not run in its slot is useless later: the next one comes.
            "options": {"expires": max(sweep_seconds, 1.0)},
        },
    }


def configure(app: Celery) -> None:
    @app.on_after_configure.connect(weak=False)
    def _apply(sender: Celery, **kwargs) -> None:
        from django.conf import settings

        sender.conf.task_routes = {**TASK_ROUTES, **(sender.conf.task_routes or {})}
        sender.conf.beat_schedule = {
            **beat_schedule(settings.VARCO_DELIVERY_SWEEP_SECONDS),
            **(sender.conf.beat_schedule or {}),
        }
