"""Factories the tests share: objects made through the services every real path uses.

Fixtures (``organiser``, ``event``, ``register``...) stay in tests/conftest.py; these are the
plain functions a test calls when it needs more than the fixtures give (a second event, an
event with a capacity).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from tickets import services
from tickets.models import Event, Organiser

ROME = zoneinfo.ZoneInfo("Europe/Rome")


def make_event(organiser: Organiser, slug: str = "conf-2017", capacity: int | None = None,
               **extra) -> Event:
    fields = {
        "name": "Ma come gira questo Welfare",
        "slug": slug,
        "venue": "Teatro Elfo Puccini",
        "address": "Corso Buenos Aires 33, 20124 Milano",
        "start": dt.datetime(2017, 9, 22, 9, 30, tzinfo=ROME),
        "end": dt.datetime(2017, 9, 22, 17, 0, tzinfo=ROME),
        "languages": ["it", "en"],
        "capacity": capacity,
    }
    fields.update(extra)
    return services.create_event(organiser, **fields)
