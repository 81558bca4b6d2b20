"""How background work runs: the Celery worker entry point, queues and periodic jobs.

``python -m worker`` starts a worker with the project's queues; it also runs the periodic
scheduler (beat) unless ``VARCO_SEPARATE_BEAT=1`` says a separate scheduler runs elsewhere.
"""
