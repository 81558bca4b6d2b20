"""The Celery application object (``celery -A backend``); tasks live in the apps."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

app = Celery("varco")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

from worker.schedule import configure as _configure_schedule  # noqa: E402

_configure_schedule(app)
