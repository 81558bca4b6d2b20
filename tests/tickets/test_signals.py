"""The ticket signals (``tickets.signals``), the extension points of issue 11, and the SMTP
envelope built without Django's deprecated ``sanitize_address``."""

from __future__ import annotations

import io
import smtplib
import warnings

import pytest
from django.core.management import call_command
from django.db import transaction

from tickets import services, signals
from tickets.delivery.smtp import envelope_address
from tickets.models import Delivery, Ticket


@pytest.fixture
def heard():
    """Every ticket signal sent during the test: (signal name, ticket id, extra arguments)."""
    calls: list[tuple] = []

    def listener(name):
        def receive(sender, ticket, **kwargs):
            assert sender is Ticket
            kwargs.pop("signal")
            calls.append((name, ticket.pk, kwargs))
        return receive

    receivers = {signals.ticket_issued: listener("issued"),
                 signals.ticket_revoked: listener("revoked")}
    for signal, receive in receivers.items():
        signal.connect(receive, weak=False)
    yield calls
    for signal, receive in receivers.items():
        signal.disconnect(receive)


@pytest.mark.django_db
def test_issuing_sends_ticket_issued_after_commit_only(register, heard,
                                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = register(email="anna@example.org")
        assert heard == []  # not inside the transaction
    assert heard == [("issued", ticket.pk, {"reissued": False})]


@pytest.mark.django_db
def test_reissue_is_one_ticket_issued_marked_reissued(register, heard,
                                                      django_capture_on_commit_callbacks):
    ticket = register(email="anna@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        services.reissue_ticket(ticket)
    assert heard == [("issued", ticket.pk, {"reissued": True})]


@pytest.mark.django_db
def test_revoking_sends_ticket_revoked_once(register, heard, django_capture_on_commit_callbacks):
    ticket = register(email="anna@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        services.revoke_ticket(ticket)
        services.revoke_ticket(ticket)  # already revoked: nothing changes, nothing is sent
    assert heard == [("revoked", ticket.pk, {})]


@pytest.mark.django_db
def test_deleting_an_attendee_sends_ticket_revoked(register, heard,
                                                   django_capture_on_commit_callbacks):
    ticket = register(email="anna@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_attendee(ticket.attendee)
    assert heard == [("revoked", ticket.pk, {})]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_registration_sends_nothing(register, heard):
    with pytest.raises(RuntimeError), transaction.atomic():
        register(email="anna@example.org")
        raise RuntimeError("the caller's transaction fails after the registration")
    assert heard == []
    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_a_failing_receiver_stops_neither_the_others_nor_the_request(
        register, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    def broken(sender, **kwargs):
        raise RuntimeError("a broken extension")

    signals.ticket_issued.connect(broken, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ticket = register(email="anna@example.org")
    finally:
        signals.ticket_issued.disconnect(broken)
    # The delivery's own receiver still queued (and, eagerly, sent) the ticket's e-mail.
    assert Delivery.objects.get(ticket=ticket).state == Delivery.State.SENT


@pytest.mark.django_db
def test_seed_demo_collects_the_receivers_lines(event):
    def door(sender, event, export_dir, **kwargs):
        return [f"door for {event.slug} in {export_dir}"]

    signals.demo_event_seeded.connect(door, weak=False)
    try:
        lines = signals.seed_demo(event, "/tmp/export")
    finally:
        signals.demo_event_seeded.disconnect(door)
    assert f"door for {event.slug} in /tmp/export" in lines


@pytest.mark.django_db
def test_seed_demo_prints_the_door_that_checkin_adds_through_the_signal(tmp_path):
    out = io.StringIO()
    call_command("seed_demo", "--export", str(tmp_path), stdout=out)
    assert "check-in list 'Ingresso principale'" in out.getvalue()
    assert (tmp_path / "device.json").exists() and (tmp_path / "codes.txt").exists()


# The SMTP envelope (MAIL FROM / RCPT TO) of each address, as it was with Django's
# ``sanitize_address`` (values taken from it): display names dropped, IDN domains encoded.
ENVELOPES = {
    "noreply@example.org": "<noreply@example.org>",
    "Varco <tickets@varco.invalid>": "<tickets@varco.invalid>",
    '"Café, Ünïcode" <tickets@bücher.example>': "<tickets@xn--bcher-kva.example>",
    "anna@bücher.example": "<anna@xn--bcher-kva.example>",
    "Ticket Desk <desk@xn--bcher-kva.example>": "<desk@xn--bcher-kva.example>",
    "a.b+tag@example.org": "<a.b+tag@example.org>",
    "Zoë <zoe@example.org>": "<zoe@example.org>",
}


@pytest.mark.parametrize("address", sorted(ENVELOPES))
def test_envelope_addresses_are_unchanged(address):
    assert smtplib.quoteaddr(envelope_address(address)) == ENVELOPES[address]
    try:
        from django.core.mail.message import sanitize_address  # gone in Django 7.0
    except ImportError:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        before = sanitize_address(address, "utf-8")
    assert smtplib.quoteaddr(before) == ENVELOPES[address]


@pytest.mark.parametrize("address", ["anna@example.org\r\nRCPT TO:<x@evil.example>",
                                     "a@example.org, b@example.org", ""])
def test_envelope_refuses_what_sanitize_address_refused(address):
    with pytest.raises(ValueError):
        envelope_address(address)


def test_a_non_ascii_local_part_is_refused_not_mangled():
    """``sanitize_address`` made ``=?utf-8?q?zo=C3=AB?=@example.org`` of it, an address no
    server delivers to; it needs SMTPUTF8, and attendees' addresses never have one (the
    registration's e-mail check refuses them)."""
    with pytest.raises(ValueError):
        envelope_address("zoë@example.org")
