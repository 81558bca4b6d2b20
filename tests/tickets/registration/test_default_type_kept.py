"""The registration's default ticket type, kept a second per process
(``tickets.selectors.default_public_ticket_type``): changes made in this process hold at once,
changes made by another process within ``DEFAULT_TYPE_TTL_S``, and a type deleted meanwhile is
a clear refusal, never a 500."""

from __future__ import annotations

import json

import pytest

from tests.support.checkin import WsgiClient
from tests.support.clock import Clock
from tickets import selectors, services
from tickets.models import Event, Ticket, TicketType

pytestmark = pytest.mark.django_db


def post(event, email):
    body = json.dumps({"name": "Giulia Rossi", "email": email})
    return WsgiClient().post(f"/api/v1/public/events/{event.slug}/register/", body,
                             "application/json")


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(selectors.time, "monotonic", clock)
    return clock


def test_closing_registration_here_holds_at_once(event, ticket_type, clock):
    assert post(event, "a@example.org").status_code == 201  # the type is kept from here on
    services.set_registration_open([event], False)
    refused = post(event, "b@example.org")
    assert refused.status_code == 400 and refused.json()["error"] == "closed"


def test_a_change_made_by_another_process_holds_within_the_ttl(event, ticket_type, clock):
    assert post(event, "a@example.org").status_code == 201
    # Another process closes registration: no signal reaches this one.
    Event.objects.filter(pk=event.pk).update(registration_open=False)
    clock.now += selectors.DEFAULT_TYPE_TTL_S
    refused = post(event, "b@example.org")
    assert refused.status_code == 400 and refused.json()["error"] == "closed"
    assert Ticket.objects.filter(event=event).count() == 1


def test_a_type_deleted_meanwhile_is_refused_clearly(event, ticket_type, clock):
    TicketType.objects.filter(pk=ticket_type.pk).update(position=1)
    spare = TicketType.objects.create(event=event, name="Ospite", position=0)
    assert selectors.default_public_ticket_type(event.slug).pk == spare.pk  # kept
    # Another process deletes it (no signal here): the kept row names a type that is gone.
    TicketType.objects.filter(pk=spare.pk)._raw_delete("default")
    refused = post(event, "a@example.org")
    assert refused.status_code == 400 and "ticket_type" in json.dumps(refused.json())
    assert not Ticket.objects.filter(event=event).exists()
    clock.now += selectors.DEFAULT_TYPE_TTL_S  # read again: the remaining type is offered
    assert post(event, "a@example.org").status_code == 201
    assert Ticket.objects.get(event=event).ticket_type == ticket_type
