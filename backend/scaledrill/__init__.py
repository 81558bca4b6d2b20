"""The scale drill (``python manage.py drill_scale``, ``make drill-scale``, docs/scaling.md).

Varco as several hosts on loopback, every engine a real process started from Debian packages
and PyPI, configured from the reference deployment's own files (``deploy/``): HAProxy on
127.0.0.1, three gunicorn "hosts" on 127.0.0.2-4, two ``python -m worker`` hosts and one
scheduler, PgBouncer in transaction mode, a PostgreSQL primary with a synchronous streaming
standby (two clusters of their own in a temporary directory, on free ports), Redis and an
SMTP sink. Under a scan wave from simulated door devices it breaks one thing at a time — a web
host SIGKILLed, a worker host SIGKILLed mid-delivery, the primary stopped and the standby
promoted, Redis restarted — and counts: no acknowledged scan lost or doubled, every ticket
e-mailed exactly once, the write downtime, the flood limit and the dashboards back. Like
``backend.eventday`` it is an operational drill, not a room: it starts the deployable stack
and talks to it over HTTP and SQL, importing no app.

- ``engines``: PostgreSQL (primary, standby, promotion), PgBouncer, HAProxy, Redis.
- ``hosts``: the Varco processes (web hosts, workers, scheduler) and the SMTP sink.
- ``wave``: the door devices (scans with retries, what each was told).
- ``drill``: the steps in order, each printing what it did and the counts it checked.
"""
