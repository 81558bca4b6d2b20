"""Delivery status in the API and the admin, resend, and the issue_tickets command."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from tickets import services
from tickets.delivery import batch, queue
from tickets.models import Delivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent_ticket(register, smtp_sink):
    ticket = register()
    batch.send_batch(queue.queue_tickets([ticket]))
    return ticket


def _url(ticket, action=""):
    return f"/api/v1/events/{ticket.event_id}/tickets/{ticket.pk}/{action}"


def test_ticket_shows_its_delivery_status(api, sent_ticket):
    body = api.get(_url(sent_ticket)).json()
    assert body["delivery"]["state"] == "sent"
    assert body["delivery"]["attempts"] == 1
    assert body["delivery"]["smtp_response"].startswith("250")
    assert body["delivery"]["possible_duplicate"] is False
    listed = api.get(f"/api/v1/events/{sent_ticket.event_id}/tickets/").json()
    assert listed["results"][0]["delivery"]["state"] == "sent"
    attendees = api.get(f"/api/v1/events/{sent_ticket.event_id}/attendees/").json()
    assert attendees["results"][0]["tickets"][0]["delivery"]["state"] == "sent"


def test_failed_delivery_shows_the_smtp_answer(api, register, smtp_sink):
    smtp_sink.permanent["giulia@example.org"] = "550 5.1.1 Mailbox unavailable"
    ticket = register()
    batch.send_batch(queue.queue_tickets([ticket]))
    body = api.get(_url(ticket)).json()
    assert body["delivery"]["state"] == "failed"
    assert body["delivery"]["last_error"] == "550 5.1.1 Mailbox unavailable"


def test_resend_sends_the_same_ticket_again(api, sent_ticket, smtp_sink,
                                            django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(_url(sent_ticket, "resend/"))
    assert response.status_code == 202
    assert response.json()["delivery"]["reason"] == "resend"
    assert smtp_sink.count() == 2
    codes = {m.ticket for m in smtp_sink.messages}
    assert codes == {f"{sent_ticket.pk}.1"}
    assert Delivery.objects.filter(ticket=sent_ticket, state="sent").count() == 2
    assert len({m.message_id for m in smtp_sink.messages}) == 2  # a new message, on purpose


def test_double_resend_while_queued_makes_one_delivery(api, sent_ticket):
    first = api.post(_url(sent_ticket, "resend/")).json()  # not executed: stays queued
    second = api.post(_url(sent_ticket, "resend/")).json()
    assert first["delivery"]["id"] == second["delivery"]["id"]
    assert first["delivery"]["state"] == "queued"
    assert Delivery.objects.filter(ticket=sent_ticket).count() == 2


def test_resend_of_a_revoked_ticket_is_a_400(api, sent_ticket):
    services.revoke_ticket(sent_ticket)
    response = api.post(_url(sent_ticket, "resend/"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.json()["error"] == "revoked"
    assert response.json()["fields"] == {"ticket": ["A revoked ticket cannot be sent."]}
    italian = api.post(_url(sent_ticket, "resend/"), HTTP_ACCEPT_LANGUAGE="it").json()
    assert (italian["error"], italian["fields"]) == (
        "revoked", {"ticket": ["Un biglietto revocato non si può inviare."]})


def test_resend_of_another_organisers_ticket_is_404(sent_ticket, db):
    from rest_framework.test import APIClient

    from tickets import onboarding

    other = services.create_organiser("Other", "other")
    _, _, token = onboarding.create_staff_user(other, "intruder", "i@example.org", "pw")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.post(_url(sent_ticket, "resend/")).status_code == 404
    assert client.post(_url(sent_ticket, "resend/")).json()["error"] == "not_found"


def test_admin_lists_delivery_state_filter_and_resend(client, staff, register, smtp_sink,
                                                       django_capture_on_commit_callbacks):
    staff.is_staff = True
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    smtp_sink.permanent["bad@example.org"] = "550 5.1.1 No such user here"
    good = register(email="good@example.org")
    bad = register(email="bad@example.org")
    batch.send_batch(queue.queue_tickets([good, bad]))
    page = client.get("/admin/tickets/ticket/?delivery=failed").content.decode()
    assert bad.reference in page and good.reference not in page
    assert "550 5.1.1 No such user here" in page
    page = client.get("/admin/tickets/delivery/?state__exact=failed").content.decode()
    assert "550 5.1.1 No such user here" in page
    smtp_sink.permanent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/tickets/ticket/", {
            "action": "resend", "_selected_action": [bad.pk],
        })
    assert response.status_code == 302
    assert [m.envelope_to for m in smtp_sink.messages][-1] == ["bad@example.org"]


@pytest.mark.django_db(transaction=True)  # the command publishes after commit
def test_issue_tickets_sends_unsent_and_reports(register, smtp_sink, settings, capsys):
    settings.VARCO_SEND_ON_ISSUE = False
    tickets = [register(email=f"t{i}@example.org") for i in range(5)]
    call_command("issue_tickets", "--event", tickets[0].event.slug, "--poll", "0.05")
    out = capsys.readouterr()
    assert "5 ticket(s)" in out.out and "Done: 5 sent." in out.out
    assert "e-mailing" in out.err  # the progress bar
    assert smtp_sink.count() == 5
    call_command("issue_tickets", "--event", tickets[0].event.slug)
    assert "sent already" in capsys.readouterr().out
    assert smtp_sink.count() == 5  # nothing twice


@pytest.mark.django_db(transaction=True)  # the command publishes after commit
def test_issue_tickets_exits_non_zero_with_the_failures(register, smtp_sink, settings):
    settings.VARCO_SEND_ON_ISSUE = False
    register(email="ok@example.org")
    ticket = register(email="refused@example.org")
    smtp_sink.permanent["refused@example.org"] = "550 5.7.1 Relaying denied"
    with pytest.raises(CommandError, match="1 failed"):
        call_command("issue_tickets", "--event", ticket.event.slug, "--poll", "0.05")
    # a second run retries the failed one (as a resend) once the problem is fixed
    smtp_sink.permanent.clear()
    call_command("issue_tickets", "--event", ticket.event.slug, "--poll", "0.05")
    assert sorted(m.envelope_to[0] for m in smtp_sink.messages) == [
        "ok@example.org", "refused@example.org"]


def test_issue_tickets_unknown_event(db):
    with pytest.raises(CommandError, match="No event"):
        call_command("issue_tickets", "--event", "nope")


def test_issue_tickets_times_out_when_no_worker_runs(register, settings, monkeypatch):
    settings.VARCO_SEND_ON_ISSUE = False
    ticket = register()
    monkeypatch.setattr(queue, "publish", lambda ids, countdown=None: None)  # no worker
    with pytest.raises(CommandError, match="still waiting"):
        call_command("issue_tickets", "--event", ticket.event.slug, "--timeout", "0.3",
                     "--poll", "0.05")
    assert Delivery.objects.get(ticket=ticket).state == "queued"
