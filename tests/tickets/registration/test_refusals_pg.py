"""The usual refusals of a public registration on PostgreSQL (a known address, the rush
after the last place) are answered by the registration statement itself: nothing changed,
no deliberate failure, no second query (tickets/services/postgres.py, part 1)."""

from __future__ import annotations

import pytest

from core.errors import ServiceError
from tickets import services
from tickets.models import Event, TicketType
from tickets.services import postgres, registration

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture
def no_second_look(monkeypatch):
    """The statement must say why by itself: the slow path (a failure on purpose, then the
    service's own queries) is out of bounds."""
    def refused(*args, **kwargs):
        raise AssertionError("answered by the slow path")
    original = postgres.take_place_and_issue

    def take(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        except postgres.Refused:
            raise AssertionError("the statement failed on purpose") from None
    monkeypatch.setattr(postgres, "take_place_and_issue", take)
    monkeypatch.setattr(registration, "email_taken", refused)


def register(event, email):
    return services.register(event, services.Registration(name="Giulia Rossi", email=email),
                             public=True)


def refusal(event, email) -> tuple[str, str]:
    with pytest.raises(ServiceError) as caught:
        register(event, email)
    return caught.value.code, caught.value.field


def counts(event, ticket_type) -> tuple[int, int, int]:
    event.refresh_from_db()
    ticket_type.refresh_from_db()
    return event.issued_count, event.last_serial, ticket_type.issued_count


def test_a_known_address_is_refused_by_the_statement(event, ticket_type, no_second_look):
    register(event, "giulia@example.org")
    before = counts(event, ticket_type)
    assert refusal(event, "GIULIA@example.org") == ("duplicate", "email")
    assert counts(event, ticket_type) == before  # no place taken, no serial used


def test_a_full_ticket_type_is_refused_by_the_statement(event, ticket_type, no_second_look):
    TicketType.objects.filter(pk=ticket_type.pk).update(capacity=1)
    register(event, "first@example.org")
    before = counts(event, ticket_type)
    assert refusal(event, "second@example.org") == ("sold_out", "ticket_type")
    assert counts(event, ticket_type) == before


def test_a_full_event_is_refused_and_a_known_address_told_first(event, ticket_type,
                                                                no_second_look):
    Event.objects.filter(pk=event.pk).update(capacity=1)
    register(event, "first@example.org")
    assert refusal(event, "second@example.org") == ("sold_out", "event")
    assert refusal(event, "FIRST@example.org") == ("duplicate", "email")
