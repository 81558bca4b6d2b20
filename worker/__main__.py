"""``python -m worker [extra celery worker options]``: a Celery worker for Varco.

A thin wrapper on ``celery -A backend worker`` that listens on every Varco queue and, unless
``VARCO_SEPARATE_BEAT`` is set, embeds the beat scheduler so periodic jobs (the delivery sweep)
run wherever workers run. Embedding beat in several workers at once would duplicate periodic
jobs; they are idempotent, but a deployment with many workers should run one
``celery -A backend beat`` and set ``VARCO_SEPARATE_BEAT=1`` on the workers.
"""

from __future__ import annotations

import os
import sys

import django
from celery import Celery
from django.conf import settings

from backend.celery import app


def queues(celery: Celery) -> list[str]:
    """The default queue and every queue a task is routed to (``CELERY_TASK_ROUTES``)."""
    names = [celery.conf.task_default_queue]
    names += [route["queue"] for route in (celery.conf.task_routes or {}).values()]
    return list(dict.fromkeys(names))


def build_argv(extra: list[str]) -> list[str]:
    argv = ["worker", "--queues", ",".join(queues(app)), "--loglevel",
            os.environ.get("LOG_LEVEL", "INFO")]
    if os.environ.get("VARCO_SEPARATE_BEAT", "").lower() not in {"1", "true", "yes"}:
        schedule = os.path.join(str(settings.VAR_DIR), "celerybeat-schedule")
        argv += ["--beat", "--schedule", schedule]
    return argv + extra


def main() -> None:
    django.setup()  # backend.celery set DJANGO_SETTINGS_MODULE if the environment had none
    app.worker_main(build_argv(sys.argv[1:]))


if __name__ == "__main__":
    main()
