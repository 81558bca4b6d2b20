"""Races that only a real PostgreSQL can prove: parallel registrations, revokes, duplicates.

Each thread has its own database connection (Django's connections are per thread) and all
start together at a barrier, so the statements really interleave in the server.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection

from core.errors import ServiceError
from tests.support.factories import make_event
from tickets import attendee_csv, services
from tickets.models import Attendee, Event, Ticket, TicketType

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(120),
]


def in_parallel(calls: list[Callable[[], object]]) -> list[tuple]:
    """Run every call in its own thread, released together; return outcomes in order.

    An outcome is ("ok", value), ("refused", code, field) for a ServiceError, or
    ("crash", repr) for anything else, which a test treats as a failure.
    """
    barrier = threading.Barrier(len(calls))
    outcomes: list[tuple] = [()] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=30)
            outcomes[index] = ("ok", call())
        except ServiceError as exc:
            outcomes[index] = ("refused", exc.code, exc.field)
        except Exception as exc:  # reported, and asserted absent by the tests
            outcomes[index] = ("crash", repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    crashes = [o for o in outcomes if not o or o[0] == "crash"]
    assert not crashes, crashes
    return outcomes


def registration(event: Event, email: str, ticket_type: TicketType | None = None):
    return lambda: services.register(
        Event.objects.get(pk=event.pk),
        services.Registration("Persona", email, ticket_type_id=ticket_type and ticket_type.pk),
    )


def assert_counters_match_tickets(event: Event) -> None:
    event.refresh_from_db()
    valid = Ticket.objects.filter(event=event, status="valid")
    assert event.issued_count == valid.count()
    for ticket_type in event.ticket_types.all():
        assert ticket_type.issued_count == valid.filter(ticket_type=ticket_type).count()
    serials = list(Ticket.objects.filter(event=event).values_list("serial", flat=True))
    assert len(serials) == len(set(serials))
    assert event.last_serial == max(serials, default=0)
    # a refused registration leaves no attendee without a ticket
    assert not Attendee.objects.filter(event=event, tickets__isnull=True).exists()


@pytest.mark.parametrize("limit_on", ["ticket_type", "event"])
def test_fifty_parallel_registrations_for_the_last_ten_places(organiser, limit_on):
    event = make_event(organiser, slug=f"race-{limit_on}")
    ticket_type = TicketType.objects.create(event=event, name="Ingresso")
    for i in range(5):
        services.register(event, services.Registration("Early", f"early{i}@example.org"))
    if limit_on == "event":
        Event.objects.filter(pk=event.pk).update(capacity=15)
    else:
        TicketType.objects.filter(pk=ticket_type.pk).update(capacity=15)

    outcomes = in_parallel([registration(event, f"p{i}@example.org") for i in range(50)])

    kinds = Counter(o[0] for o in outcomes)
    assert kinds == {"ok": 10, "refused": 40}
    assert {o[1:] for o in outcomes if o[0] == "refused"} == {("sold_out", limit_on)}
    assert_counters_match_tickets(event)
    assert Ticket.objects.filter(event=event).count() == 15
    assert Event.objects.get(pk=event.pk).issued_count == 15


def test_parallel_registrations_across_ticket_types_respect_the_event(organiser):
    event = make_event(organiser, slug="two-types", capacity=10)
    types = [TicketType.objects.create(event=event, name=name, capacity=8)
             for name in ("A", "B")]
    calls = [registration(event, f"p{i}@example.org", types[i % 2]) for i in range(40)]
    outcomes = in_parallel(calls)
    assert Counter(o[0] for o in outcomes)["ok"] == 10
    assert_counters_match_tickets(event)


def test_duplicate_email_race_gives_one_attendee(event, ticket_type):
    outcomes = in_parallel([registration(event, "Same@Example.org") for _ in range(20)])
    assert Counter(o[0] for o in outcomes) == {"ok": 1, "refused": 19}
    assert {o[1:] for o in outcomes if o[0] == "refused"} == {("duplicate", "email")}
    assert Attendee.objects.filter(event=event).count() == 1
    assert_counters_match_tickets(event)
    assert Event.objects.get(pk=event.pk).issued_count == 1


def test_concurrent_revokes_release_the_place_once(event, ticket_type):
    tickets = [services.register(event, services.Registration("P", f"p{i}@example.org"))
               for i in range(3)]
    target = tickets[0]
    outcomes = in_parallel(
        [lambda: services.revoke_ticket(Ticket.objects.get(pk=target.pk)) for _ in range(20)]
    )
    assert all(o[0] == "ok" for o in outcomes)
    target.refresh_from_db()
    assert (target.status, target.version) == ("revoked", 2)
    ticket_type.refresh_from_db()
    assert ticket_type.issued_count == 2
    assert_counters_match_tickets(event)


def test_revoke_and_reissue_racing(event, ticket_type):
    ticket = services.register(event, services.Registration("P", "p@example.org"))

    def revoke():
        return services.revoke_ticket(Ticket.objects.get(pk=ticket.pk))

    def reissue():
        return services.reissue_ticket(Ticket.objects.get(pk=ticket.pk))

    outcomes = in_parallel([revoke, reissue] * 10)
    reissued = sum(1 for i, o in enumerate(outcomes) if i % 2 and o[0] == "ok")
    refused = [o for o in outcomes if o[0] == "refused"]
    assert all(o[1:] == ("invalid", "ticket") for o in refused)
    ticket.refresh_from_db()
    # one revocation and every successful reissue each bumped the version exactly once
    assert ticket.status == "revoked" and ticket.version == 1 + 1 + reissued
    assert_counters_match_tickets(event)


def test_stale_saves_racing_with_registrations_keep_counters(event, ticket_type):
    """Admin/API saves of the event while people register must not undo their places."""

    def save_event(i: int):
        def call():
            stale = Event.objects.get(pk=event.pk)
            stale.venue = f"Sala {i}"
            stale.save()

        return call

    calls = []
    for i in range(20):
        calls.append(registration(event, f"p{i}@example.org"))
        calls.append(save_event(i))
    outcomes = in_parallel(calls)
    assert all(o[0] == "ok" for o in outcomes)
    assert_counters_match_tickets(event)
    assert Event.objects.get(pk=event.pk).issued_count == 20


def test_parallel_imports_of_overlapping_lists(event, ticket_type):
    """Two organisers import overlapping lists at once: everyone once, nobody lost."""
    first = "name,email\n" + "".join(f"A{i},p{i}@example.org\n" for i in range(0, 30))
    second = "name,email\n" + "".join(f"B{i},p{i}@example.org\n" for i in range(20, 50))

    def importer(text: str):
        return lambda: attendee_csv.import_attendees(
            Event.objects.get(pk=event.pk), text, partial=True, skip_existing=True
        )

    outcomes = in_parallel([importer(first), importer(second)])
    results = [o[1] for o in outcomes]
    assert all(r.committed for r in results)
    assert Attendee.objects.filter(event=event).count() == 50
    created = sum(r.created for r in results)
    duplicates = sum(1 for r in results for e in r.errors if e.field == "email")
    assert created == 50 and created + duplicates + sum(r.skipped for r in results) == 60
    assert_counters_match_tickets(event)


def test_race_for_the_last_places_sells_them_exactly_and_mails_each_ticket_once(organiser):
    """The one-statement registration (tickets/services/postgres.py): 40 people, 4 of them
    twice with the same address, race for the last 7 places: exactly 7 sold, each with one
    delivery and one e-mail, every loser refused cleanly, and nothing left half made."""
    from django.core import mail

    from tickets.models import Delivery

    event = make_event(organiser, slug="last-places")
    ticket_type = TicketType.objects.create(event=event, name="Ingresso", capacity=12)
    for i in range(5):
        services.register(event, services.Registration("Early", f"early{i}@example.org"))
    mail.outbox.clear()
    emails = [f"p{i}@example.org" for i in range(36)] + [f"P{i}@Example.org" for i in range(4)]

    outcomes = in_parallel([registration(event, email) for email in emails])

    sold = [o[1] for o in outcomes if o[0] == "ok"]
    refusals = Counter(o[1:] for o in outcomes if o[0] == "refused")
    assert len(sold) == 7
    assert set(refusals) <= {("sold_out", "ticket_type"), ("duplicate", "email")}
    assert sum(refusals.values()) == 33
    ticket_type.refresh_from_db()
    assert ticket_type.issued_count == ticket_type.capacity == 12
    assert_counters_match_tickets(event)
    assert Ticket.objects.filter(event=event).count() == 12
    # the answers carry the rows the database holds, serials following the early ones
    assert {t.pk for t in sold} == set(
        Ticket.objects.filter(event=event, serial__gt=5).values_list("pk", flat=True))
    assert sorted(t.serial for t in sold) == list(range(6, 13))
    # one delivery per sold ticket, each e-mailed once (tasks run inline in the tests)
    deliveries = Delivery.objects.filter(ticket__in=[t.pk for t in sold])
    assert sorted(deliveries.values_list("ticket_id", flat=True)) == sorted(t.pk for t in sold)
    assert sorted(m.to[0].lower() for m in mail.outbox) == sorted(
        t.attendee.email for t in sold)


def test_a_registration_is_flushed_to_disk_before_its_ticket_is_announced(event, ticket_type,
                                                                         monkeypatch):
    """Alone in its transaction, a registration commits without waiting for the disk (the
    event row's lock is released at once) and is then flushed before anything acts on it;
    inside another transaction (a CSV import) it leaves that transaction's commit alone."""
    from django.db import transaction

    from tickets import signals
    from tickets.services import postgres

    seen: list[str] = []
    flush = postgres.flush_wal

    def spy_flush() -> None:
        seen.append(f"flush in_atomic={connection.in_atomic_block}")
        flush()

    def on_issued(**kwargs) -> None:
        seen.append("ticket_issued")

    def synchronous_commit() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    configured = synchronous_commit()
    assert configured != "off"
    monkeypatch.setattr(postgres, "flush_wal", spy_flush)
    signals.ticket_issued.connect(on_issued, dispatch_uid="flush-order")
    try:
        # a self-service registration: the rush (an organiser's own registration commits with
        # its audit entry, in a transaction of its own, like the "inside" case below)
        services.register(event, services.Registration("P", "alone@example.org"), public=True)
        assert seen == ["flush in_atomic=False", "ticket_issued"]
        assert synchronous_commit() == configured  # it was for that transaction only

        seen.clear()
        services.register(event, services.Registration("P", "organiser@example.org"))
        assert seen == ["ticket_issued"]

        seen.clear()
        with transaction.atomic():
            services.register(event, services.Registration("P", "inside@example.org"))
            assert synchronous_commit() == configured
        assert seen == ["ticket_issued"]
    finally:
        signals.ticket_issued.disconnect(dispatch_uid="flush-order")
    assert_counters_match_tickets(event)


def test_a_reference_drawn_twice_is_drawn_again_and_nothing_is_left_half_made(
        event, ticket_type, monkeypatch):
    """The statement's deliberate failure: the ticket's reference is taken after the event's
    place was, so the whole statement rolls back and the service draws another reference."""
    from tickets import signing

    first = services.register(event, services.Registration("A", "a@example.org"))
    draws = iter([first.reference, first.reference, "ZZZZ-ZZZ2"])
    monkeypatch.setattr(signing, "new_reference", lambda: next(draws))

    second = services.register(event, services.Registration("B", "b@example.org"))

    assert second.reference == "ZZZZ-ZZZ2"
    assert (second.serial, second.attendee.email) == (2, "b@example.org")
    assert_counters_match_tickets(event)
    assert Event.objects.get(pk=event.pk).issued_count == 2
