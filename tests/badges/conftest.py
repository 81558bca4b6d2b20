"""A small crowd for the bulk printing tests: two ticket types, organisations, one entered."""

from __future__ import annotations

import pytest

from tests.support.checkin import Door, make_device, make_list
from tickets import services
from tickets.models import TicketType

PEOPLE = [  # (name, organisation, speaker?) in registration order
    ("zoe Adams", "Coop Il Sole", False),
    ("Ángela Zamora", "", True),
    ("Bruno Conti", "ARCI Milano", False),
    ("carla bianchi", "coop il sole", False),
    ("Ελένη Παπαδοπούλου", "ARCI Milano", True),
]


@pytest.fixture
def crowd(event, ticket_type, register):
    """``{name: ticket}``; Bruno Conti has entered (scanned at the door)."""
    speaker = TicketType.objects.create(event=event, name="Relatore",
                                        name_i18n={"en": "Speaker"}, position=1)
    tickets = {}
    for index, (name, organisation, is_speaker) in enumerate(PEOPLE):
        tickets[name] = register(name=name, email=f"p{index}@example.org",
                                 organisation=organisation,
                                 ticket_type_id=(speaker if is_speaker else ticket_type).pk)
    checkin_list = make_list(event)
    _device, token = make_device(event, [checkin_list])
    answer = Door(token, checkin_list).scan(services.ticket_code(tickets["Bruno Conti"]))
    assert answer["status"] == "ok"
    tickets["speaker_type"] = speaker
    return tickets
