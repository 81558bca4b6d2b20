"""Counters and constraints that must hold whatever path writes the rows."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from core.errors import ServiceError
from tickets import services
from tickets.models import Attendee, Event, TicketType

pytestmark = pytest.mark.django_db


def test_saving_a_stale_event_keeps_counters(event, register):
    """An instance read before a registration and saved after it (an admin form, an API
    update) must not write back the old issued_count/last_serial."""
    stale = Event.objects.get(pk=event.pk)
    stale_type = TicketType.objects.get(event=event)
    register(email="a@example.org")
    stale.venue = "Altrove"
    stale.save()
    stale_type.price = 5
    stale_type.save()
    event.refresh_from_db()
    assert (event.venue, event.issued_count, event.last_serial) == ("Altrove", 1, 1)
    ticket_type = TicketType.objects.get(pk=stale_type.pk)
    assert (ticket_type.price, ticket_type.issued_count) == (5, 1)
    # the next serial is still fresh (a reused serial would break the unique constraint)
    assert register(email="b@example.org").serial == 2


def test_explicit_update_fields_are_respected(event):
    event.name = "Nuovo nome"
    event.venue = "not saved"
    event.save(update_fields=["name"])
    event.refresh_from_db()
    assert (event.name, event.venue) == ("Nuovo nome", "Teatro Elfo Puccini")


def test_model_clean_names_the_fields(event, register):
    register(email="a@example.org")
    event.capacity = 0
    event.end = event.start
    with pytest.raises(ValidationError) as err:
        event.full_clean()
    assert {"capacity", "end"} <= set(err.value.message_dict)
    ticket_type = TicketType.objects.get(event=event)
    ticket_type.capacity = 0
    with pytest.raises(ValidationError) as err:
        ticket_type.full_clean()
    assert "capacity" in err.value.message_dict


def test_attendee_form_uniqueness_is_case_insensitive(event, register):
    register(email="giulia@example.org")
    duplicate = Attendee(event=event, name="G", email=" Giulia@Example.ORG")
    with pytest.raises(ValidationError) as err:
        duplicate.full_clean()
    assert "__all__" in err.value.message_dict or "email" in err.value.message_dict


def test_revoked_ticket_can_be_replaced_by_a_new_one(event, ticket_type, register):
    ticket = register()
    services.revoke_ticket(ticket)
    fresh = services.issue_ticket_for(ticket.attendee, ticket_type)
    assert fresh.serial == 2 and fresh.status == "valid"
    with pytest.raises(ServiceError) as err:
        services.issue_ticket_for(ticket.attendee, ticket_type)
    assert err.value.field == "attendee"


@pytest.mark.parametrize(
    ("registration", "field"),
    [
        (services.Registration("  ", "a@example.org"), "name"),
        (services.Registration("A\x00B", "a@example.org"), "name"),
        (services.Registration("x" * 201, "a@example.org"), "name"),
        (services.Registration("A", "a@example.org", "Coop\nSole"), "organisation"),
        (services.Registration("A", "not an e-mail"), "email"),
        (services.Registration("A", "a" * 250 + "@example.org"), "email"),
    ],
)
def test_register_validates_whatever_the_caller(event, ticket_type, registration, field):
    """The service is the one place the rules hold: pages, commands and imports call it."""
    with pytest.raises(ServiceError) as err:
        services.register(event, registration)
    assert err.value.field == field
    assert not Attendee.objects.exists()
