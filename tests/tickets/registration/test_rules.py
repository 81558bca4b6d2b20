"""Registration rules: capacity, duplicate e-mails, revoke/reissue bookkeeping."""

from __future__ import annotations

import pytest

from core.errors import ServiceError
from tests.support.factories import make_event
from tickets import services
from tickets.models import Event, Ticket, TicketType

pytestmark = pytest.mark.django_db


def test_register_issues_ticket_with_serial_and_reference(register, event):
    first = register(email="a@example.org")
    second = register(email="b@example.org")
    assert (first.serial, second.serial) == (1, 2)
    assert first.reference != second.reference
    assert len(first.reference) == 9 and first.reference[4] == "-"
    event.refresh_from_db()
    assert event.issued_count == 2


def test_duplicate_email_is_refused_case_insensitively(register):
    register(email="Giulia@Example.org")
    with pytest.raises(ServiceError) as err:
        register(email="giulia@example.ORG ")
    assert err.value.field == "email"
    assert err.value.code == "duplicate"


def test_ticket_type_capacity_is_never_exceeded(register, ticket_type):
    ticket_type.capacity = 2
    ticket_type.save()
    register(email="1@example.org")
    register(email="2@example.org")
    with pytest.raises(ServiceError) as err:
        register(email="3@example.org")
    assert err.value.code == "sold_out"
    ticket_type.refresh_from_db()
    assert ticket_type.issued_count == 2
    # the refused registration left no attendee behind
    assert ticket_type.event.attendees.count() == 2


def test_event_capacity_counts_all_types(organiser):
    event = make_event(organiser, slug="small", capacity=1)
    a = TicketType.objects.create(event=event, name="A")
    b = TicketType.objects.create(event=event, name="B")
    services.register(event, services.Registration("X", "x@example.org", ticket_type_id=a.pk))
    with pytest.raises(ServiceError) as err:
        services.register(event, services.Registration("Y", "y@example.org", ticket_type_id=b.pk))
    assert err.value.field == "event"


def test_revoke_frees_place_and_bumps_version(register, ticket_type):
    ticket_type.capacity = 1
    ticket_type.save()
    ticket = register()
    version = ticket.version
    revoked = services.revoke_ticket(ticket)
    assert revoked.status == Ticket.Status.REVOKED
    assert revoked.version == version + 1
    services.revoke_ticket(revoked)  # idempotent: no double release
    ticket_type.refresh_from_db()
    assert ticket_type.issued_count == 0
    register(email="other@example.org")  # the freed place can be taken


def test_reissue_bumps_version_and_refuses_revoked(register):
    ticket = register()
    again = services.reissue_ticket(ticket)
    assert again.version == 2
    services.revoke_ticket(again)
    with pytest.raises(ServiceError):
        services.reissue_ticket(again)


def test_public_registration_requires_open_event(register, event):
    event.registration_open = False
    event.save()
    with pytest.raises(ServiceError) as err:
        services.register(event, services.Registration("A", "a@example.org"), public=True)
    assert err.value.code == "closed"


def test_language_must_be_one_of_the_event(register):
    with pytest.raises(ServiceError) as err:
        register(language="de")
    assert err.value.field == "language"


def test_database_refuses_oversold_counter(event):
    """The CHECK constraint is the last guard if code ever bypassed the conditional update."""
    from django.db import IntegrityError, transaction

    Event.objects.filter(pk=event.pk).update(capacity=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.filter(pk=event.pk).update(issued_count=1)
