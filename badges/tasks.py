"""Celery tasks of print on arrival (found by Celery's autodiscovery of ``badges.tasks``)."""

from __future__ import annotations

from celery import shared_task

from badges.jobs.sweep import sweep


@shared_task(name="badges.sweep_print_jobs", ignore_result=True)
def sweep_print_jobs() -> dict:
    """Periodic (beat): stale claims back to the queue, lost hand-overs in doubt."""
    return vars(sweep())
