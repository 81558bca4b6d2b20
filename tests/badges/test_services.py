"""Layouts and colours are written through badges.services, which holds their rules."""

from __future__ import annotations

import pytest

from badges import selectors, services
from core.errors import ServiceError
from tests.support.factories import make_event
from tickets.models import TicketType

pytestmark = pytest.mark.django_db


def test_one_default_and_one_per_ticket_type(event, ticket_type):
    default = services.create_layout(event, name="Predefinito")
    typed = services.create_layout(event, name="Ingresso", ticket_type=ticket_type,
                                   preset="ql-62x100")
    with pytest.raises(ServiceError) as caught:
        services.create_layout(event, name="Secondo")
    assert caught.value.field == "ticket_type"
    with pytest.raises(ServiceError):
        services.create_layout(event, name="Doppio", ticket_type=ticket_type)
    other_type = TicketType.objects.create(event=event, name="Relatore")
    assert selectors.layout_for(event, ticket_type) == typed
    assert selectors.layout_for(event, other_type) == default
    assert selectors.layout_for(event) == default


def test_without_a_layout_the_built_in_one_in_the_event_language(organiser):
    event = make_event(organiser, slug="english", languages=["en"])
    layout = selectors.layout_for(event)
    assert layout.pk is None and (layout.preset, layout.language) == ("a6", "en")


def test_an_update_raises_the_version(event):
    layout = services.create_layout(event, name="Predefinito")
    assert layout.version == 1
    services.update_layout(layout, preset="a4-4xa6")
    assert layout.version == 2 and layout.preset == "a4-4xa6"


@pytest.mark.parametrize(("fields", "field"), [
    ({"preset": "a3"}, "preset"),
    ({"language": "xx"}, "language"),
    ({"colour": "#fff"}, "colour"),
])
def test_bad_values_are_refused(event, fields, field):
    with pytest.raises(ServiceError) as caught:
        services.create_layout(event, name="x", **fields)
    assert caught.value.field == field


def test_a_ticket_type_of_another_event_is_refused(event, organiser):
    other = make_event(organiser, slug="other")
    foreign = TicketType.objects.create(event=other, name="Altro")
    with pytest.raises(ServiceError) as caught:
        services.create_layout(event, name="x", ticket_type=foreign)
    assert caught.value.field == "ticket_type"


@pytest.mark.parametrize("colour", ["red", "#12345", "#1234567", "#GGGGGG", "", "#12 456"])
def test_colours_are_hex(ticket_type, colour):
    with pytest.raises(ServiceError) as caught:
        services.set_colour(ticket_type, colour)
    assert caught.value.field == "colour"


def test_a_colour_is_replaced_not_duplicated(event, ticket_type):
    services.set_colour(ticket_type, "#000000")
    services.set_colour(ticket_type, " #FFFFFF ")
    assert selectors.band_colours(event)[ticket_type.pk] == "#ffffff"
