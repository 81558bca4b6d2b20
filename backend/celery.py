"""The Celery application object (``celery -A backend``); tasks live in the apps.

Its configuration, task routes and periodic jobs included, is the ``CELERY_*`` settings:
every process (web, worker, beat) routes the same way. ``worker`` builds on this, never the
reverse.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

app = Celery("varco")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
