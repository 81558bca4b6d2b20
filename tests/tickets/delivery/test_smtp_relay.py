"""The worker against an SMTP relay like the ones organisers use (aiosmtpd in this process):
STARTTLS with a certificate from a private CA that the worker verifies (``EMAIL_SSL_CAFILE``),
AUTH required, a limit of messages per connection, recipients refused for good (550) or for now
(450). The relay is the event-day drill's (backend/eventday/relay.py).
"""

from __future__ import annotations

import json

import pytest

from backend.eventday.relay import Relay
from backend.eventday.tls import make_test_ca
from tests.support.deliveries import register_many
from tests.support.settings_process import settings_in_subprocess
from tests.support.smtp_sink import free_port
from tests.support.ticket_files import pdf_qr_codes
from tickets import services
from tickets.delivery import batch, queue
from tickets.models import Delivery

pytestmark = pytest.mark.django_db

State = Delivery.State


@pytest.fixture
def relay(settings, tmp_path):
    ca = make_test_ca(tmp_path / "ca")
    with Relay(ca, free_port(), "varco", "s3cret-relay") as relay:
        settings.EMAIL_BACKEND = "tickets.delivery.connection.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = relay.port
        settings.EMAIL_HOST_USER = "varco"
        settings.EMAIL_HOST_PASSWORD = "s3cret-relay"
        settings.EMAIL_USE_TLS = True
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_SSL_CAFILE = str(ca.ca_file)
        settings.EMAIL_TIMEOUT = 10
        settings.VARCO_SEND_ON_ISSUE = False  # each test queues and sends its own batch
        settings.VARCO_SMTP_MESSAGES_PER_CONNECTION = 0
        yield relay


def _send_all(organiser, count: int, slug: str):
    event, tickets = register_many(organiser, count, slug)
    assert len(queue.queue_unsent(event)) == count
    result = batch.send_batch([], top_up=100)
    rows = {d.ticket_id: d for d in Delivery.objects.filter(ticket__event=event)}
    return tickets, result, rows


def test_starttls_verified_against_the_private_ca_and_auth(organiser, relay):
    tickets, result, rows = _send_all(organiser, 3, "tls-ok")
    assert result.as_dict()["sent"] == 3
    assert {r.state for r in rows.values()} == {State.SENT}
    assert relay.handler.connections == 1 and relay.handler.auth_failures == 0
    received = {m.ticket: m for m in relay.handler.messages}
    for ticket in tickets:
        message = received[f"{ticket.pk}.{ticket.version}"]
        assert pdf_qr_codes(message.attachment(".pdf")) == [services.ticket_code(ticket)]


def test_a_certificate_from_another_ca_is_refused_and_retried_later(
    organiser, relay, settings, tmp_path
):
    settings.EMAIL_SSL_CAFILE = str(make_test_ca(tmp_path / "other", "Not the relay's CA").ca_file)
    _, result, rows = _send_all(organiser, 2, "tls-bad-ca")
    assert result.as_dict()["retry"] == 2 and relay.handler.count() == 0
    for row in rows.values():
        assert row.state == State.QUEUED and row.attempts == 1
        assert "CERTIFICATE_VERIFY_FAILED" in row.last_error, row.last_error


def test_system_cas_alone_do_not_trust_the_private_ca(organiser, relay, settings):
    settings.EMAIL_SSL_CAFILE = None
    _, _result, rows = _send_all(organiser, 1, "tls-system-ca")
    assert relay.handler.count() == 0
    assert "CERTIFICATE_VERIFY_FAILED" in next(iter(rows.values())).last_error


def test_a_wrong_password_is_a_visible_temporary_failure(organiser, relay, settings):
    settings.EMAIL_HOST_PASSWORD = "wrong"
    _, _result, rows = _send_all(organiser, 2, "auth-bad")
    # smtplib tries each mechanism the relay offers (PLAIN, LOGIN) on the one connection.
    assert relay.handler.count() == 0 and relay.handler.connections == 1
    assert relay.handler.auth_failures >= 1
    for row in rows.values():
        assert row.state == State.QUEUED
        assert row.last_error.startswith("SMTP connection failed: 535"), row.last_error


def test_without_auth_the_relay_refuses_every_sender(organiser, relay, settings):
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    _, _result, rows = _send_all(organiser, 2, "auth-none")
    assert relay.handler.count() == 0
    # aiosmtpd answers MAIL FROM with 530 (authentication required): permanent, visible.
    assert {r.state for r in rows.values()} == {State.FAILED}
    assert all(r.last_error.startswith("530") for r in rows.values())


def test_the_relays_per_connection_limit_means_reconnecting_not_failing(organiser, relay):
    relay.handler.per_connection = 3
    _, result, rows = _send_all(organiser, 10, "limit-relay")
    assert result.as_dict() == {"sent": 10, "retry": 0, "failed": 0, "in_doubt": 0,
                                "cancelled": 0}
    assert relay.handler.count() == 10 and len(relay.handler.per_ticket()) == 10
    assert relay.handler.limit_hits == 3 and relay.handler.connections == 4
    assert {(r.state, r.attempts, r.last_error) for r in rows.values()} == {(State.SENT, 1, "")}


def test_our_own_limit_reconnects_before_the_relay_has_to_say_so(organiser, relay, settings):
    settings.VARCO_SMTP_MESSAGES_PER_CONNECTION = 4
    relay.handler.per_connection = 4
    _, result, _rows = _send_all(organiser, 10, "limit-ours")
    assert result.as_dict()["sent"] == 10
    assert relay.handler.connections == 3 and relay.handler.limit_hits == 0


def test_550_fails_that_ticket_for_good_with_the_answer_shown_others_arrive(
    organiser, relay, api
):
    relay.handler.permanent = {
        "p1@example.org": "550 5.1.1 <p1@example.org>: Recipient address rejected: "
                          "User unknown in virtual mailbox table",
        "p4@example.org": "450 4.2.0 <p4@example.org>: Recipient address rejected: Greylisted",
    }
    tickets, result, rows = _send_all(organiser, 6, "refused")
    assert result.as_dict()["sent"] == 4 and result.as_dict()["failed"] == 1
    failed, greylisted = rows[tickets[1].pk], rows[tickets[4].pk]
    assert failed.state == State.FAILED
    assert failed.last_error.startswith("550 5.1.1 <p1@example.org>: Recipient address rejected")
    assert greylisted.state == State.QUEUED and greylisted.last_error.startswith("450 4.2.0")
    assert relay.handler.count() == 4 and relay.handler.connections == 1
    # The organiser sees the relay's answer on the ticket.
    event_id = tickets[1].event_id
    body = api.get(f"/api/v1/events/{event_id}/tickets/{tickets[1].pk}/").json()
    assert body["delivery"]["state"] == "failed"
    assert "User unknown in virtual mailbox table" in body["delivery"]["last_error"]


def test_the_environment_selects_the_verifying_backend_and_its_ca_file():
    result = settings_in_subprocess(
        {"EMAIL_HOST": "relay.example.org", "EMAIL_USE_TLS": "1",
         "EMAIL_SSL_CAFILE": "/etc/varco/relay-ca.pem",
         "VARCO_SMTP_MESSAGES_PER_CONNECTION": "40"},
        "EMAIL_BACKEND", "EMAIL_SSL_CAFILE", "VARCO_SMTP_MESSAGES_PER_CONNECTION")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "EMAIL_BACKEND": "tickets.delivery.connection.EmailBackend",
        "EMAIL_SSL_CAFILE": "/etc/varco/relay-ca.pem",
        "VARCO_SMTP_MESSAGES_PER_CONNECTION": "40",
    }
