"""How background work runs: the Celery worker entry point.

``python -m worker`` starts a worker on the project's queues (``CELERY_TASK_ROUTES``); it also
runs the periodic scheduler (beat, ``CELERY_BEAT_SCHEDULE``) unless ``VARCO_SEPARATE_BEAT=1``
says a separate scheduler runs elsewhere. It builds on ``backend.celery``, never the reverse.
"""
