"""The convegno day drill (``python manage.py simulate_day``, ``make event-day``).

A compressed day of "Ma come gira questo Welfare" run on loopback against the real stack —
gunicorn as deployed, ``python -m worker``, an SMTP relay with STARTTLS/AUTH (``relay``),
PostgreSQL + Redis when ``DATABASE_URL``/``REDIS_URL`` are set, else the embedded mode — and
driven only through public interfaces: the public registration API, the organiser API (CSV
import, devices, reissue), the door API as simulated door devices, the dashboards' live
stream. Then every number is reconciled (``reconcile``). It is an operational drill, not a
room: it sits in ``backend`` because it starts the deployable stack, and imports no app.

- ``stack``: the processes (gunicorn, worker, relay) and the organiser's onboarding.
- ``http``: the simulation's HTTP clients (stdlib, keep-alive, timed).
- ``plan``: the people, their arrival times and the day's incidents, from one seed.
- ``rush``: the registration rush and the CSV import; ``mail``: delivery and the codes.
- ``doors``: gates as door devices (online, offline with a queue, sync); ``dashboards``.
- ``reconcile``: the checks, the JSON and the HTML report; ``day``: the whole day in order.
"""
