"""A small crowd for the bulk printing tests: two ticket types, organisations, one entered;
and for print on arrival: a list that prints badges, two gates with a door device and a print
station each (``printing``)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from badges import services as badge_services
from badges.jobs import stations
from badges.models import BadgeLayout, PrintStation
from checkin.models import CheckinList, Device
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


@pytest.fixture(autouse=True)
def _badges_queued_in_the_request(settings):
    """The receiver's statement runs in the scan's request, so a test reads the badge right
    after the scan (tests/badges/jobs/test_handover.py tests the hand-over thread)."""
    settings.VARCO_PRINT_QUEUE_INLINE = True


@dataclass
class Printing:
    checkin_list: CheckinList
    layout: BadgeLayout
    device_a: Device
    token_a: str  # door device at gate A
    device_b: Device
    token_b: str  # door device at gate B
    station_a: PrintStation
    station_token_a: str
    station_b: PrintStation
    station_token_b: str

    def station_client(self, token: str | None = None) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token or self.station_token_a}")
        return client


@pytest.fixture
def printing(event, settings) -> Printing:
    settings.VARCO_SEND_ON_ISSUE = False
    checkin_list = make_list(event, allow_reentry=True, allow_exit=True)
    layout = badge_services.create_layout(event, name="Etichetta", preset="ql-62")
    device_a, token_a = make_device(event, [checkin_list], name="Porta A", gate="A")
    device_b, token_b = make_device(event, [checkin_list], name="Porta B", gate="B")
    station_a, station_token_a = stations.create_station(event, "Stampante A", ["A"])
    station_b, station_token_b = stations.create_station(
        event, "Stampante B", ["B"], stations.Output("cups", queue="badges-b"))
    stations.set_list_printing(checkin_list, layout)
    return Printing(checkin_list, layout, device_a, token_a, device_b, token_b, station_a,
                    station_token_a, station_b, station_token_b)
