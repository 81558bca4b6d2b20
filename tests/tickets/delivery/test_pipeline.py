"""The ticket e-mail pipeline against a real SMTP server (aiosmtpd) in this process.

Tasks run eagerly here (the worker-process tests are in test_worker.py); what is
tested is the delivery state machine, the message and its attachments as the SMTP server
received them, the in-doubt rule and the sweep.
"""

from __future__ import annotations

import datetime as dt
import email.policy

import pytest
from django.utils import timezone

from tests.support.ticket_files import pdf_page_count, pdf_qr_codes, pdf_text
from tickets import services
from tickets.delivery import batch, queue, sweep
from tickets.models import Delivery, Ticket

pytestmark = pytest.mark.django_db

State = Delivery.State


@pytest.fixture
def issue(register, django_capture_on_commit_callbacks):
    """Register through the service and run its after-commit hooks (the e-mail pipeline)."""

    def _issue(**kw) -> Ticket:
        with django_capture_on_commit_callbacks(execute=True):
            ticket = register(**kw)
        return ticket

    return _issue


def test_registration_emails_pdf_with_the_tickets_own_qr_code(issue, smtp_sink):
    ticket = issue(name="Giulia Rossi", organisation="Cooperativa Il Sole", language="it")
    assert smtp_sink.count() == 1
    received = smtp_sink.messages[0]
    assert received.envelope_to == ["giulia@example.org"]
    assert received.message["To"] == "giulia@example.org"
    assert received.ticket == f"{ticket.pk}.{ticket.version}"
    document = received.attachment(".pdf")
    assert pdf_page_count(document) == 1
    assert pdf_qr_codes(document) == [services.ticket_code(ticket)]
    text = pdf_text(document)
    for expected in ["Ma come gira questo Welfare", "venerdì 22 settembre 2017, 09:30\u201317:00",
                     "Teatro Elfo Puccini", "Corso Buenos Aires 33, 20124 Milano",
                     "Giulia Rossi", "Cooperativa Il Sole", "Ingresso", ticket.reference,
                     "Biglietto d'ingresso"]:
        assert expected in text, expected

    row = Delivery.objects.get(ticket=ticket)
    assert row.state == State.SENT
    assert row.attempts == 1
    assert row.smtp_response.startswith("250 ")
    assert received.message_id == row.message_id
    assert row.sent_at is not None and row.handed_at is not None


def test_message_has_text_html_pdf_and_calendar_entry(issue, smtp_sink):
    ticket = issue(language="en", name="John Smith")
    message = smtp_sink.messages[0].message
    assert message["Subject"] == "Your ticket for Ma come gira questo Welfare"
    body = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Dear John Smith" in body and ticket.reference in body
    assert "Friday 22 September 2017, 09:30\u201317:00" in body
    assert "/t/" in body and "Open my ticket" in html
    names = sorted(part.get_filename() for part in message.iter_attachments())
    assert names == ["event.ics", f"ticket-{ticket.reference}.pdf"]
    ics = smtp_sink.messages[0].attachment(".ics").decode()
    assert "DTSTART:20170922T073000Z" in ics and "DTEND:20170922T150000Z" in ics
    assert "SUMMARY:Ma come gira questo Welfare" in ics
    text = pdf_text(smtp_sink.messages[0].attachment(".pdf"))
    assert "Admission ticket" in text and "Admission" in text
    assert "Friday 22 September 2017, 09:30\u201317:00" in text


def test_italian_email_texts(issue, smtp_sink):
    issue(language="it")
    message = smtp_sink.messages[0].message
    assert message["Subject"] == "Il tuo biglietto per Ma come gira questo Welfare"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "Gentile Giulia Rossi" in body
    assert "venerdì 22 settembre 2017, 09:30\u201317:00" in body


def test_non_latin_names_are_embedded_and_extractable(issue, smtp_sink):
    issue(name="Αλέξανδρος Łukasiewicz-Дмитриев", organisation="Šťastný Ørsted", language="en")
    text = pdf_text(smtp_sink.messages[0].attachment(".pdf"))
    assert "Αλέξανδρος Łukasiewicz-Дмитриев" in text
    assert "Šťastný Ørsted" in text


def test_each_attendee_gets_their_own_message(issue, smtp_sink):
    tickets = [issue(email=f"p{i}@example.org", name=f"Person {i}") for i in range(3)]
    assert smtp_sink.count() == 3
    assert [m.envelope_to for m in smtp_sink.messages] == [
        [f"p{i}@example.org"] for i in range(3)
    ]
    for ticket, received in zip(tickets, smtp_sink.messages, strict=True):
        assert pdf_qr_codes(received.attachment(".pdf")) == [services.ticket_code(ticket)]


def test_a_replayed_task_sends_nothing_twice(issue, smtp_sink):
    ticket = issue()
    row = Delivery.objects.get(ticket=ticket)
    again = batch.send_batch([row.pk])
    assert again.sent == [] and smtp_sink.count() == 1
    row.refresh_from_db()
    assert row.attempts == 1


def test_temporary_refusal_is_retried_with_backoff_then_sent_once(issue, smtp_sink, settings):
    settings.VARCO_DELIVERY_RETRY_BASE_SECONDS = 60
    smtp_sink.refuse_rcpt = "451 4.3.0 Mailbox busy, try later"
    ticket = issue()
    row = Delivery.objects.get(ticket=ticket)
    assert row.state == State.QUEUED
    assert row.attempts == 1
    assert row.last_error == "451 4.3.0 Mailbox busy, try later"
    assert row.next_attempt_at > timezone.now() + dt.timedelta(seconds=40)
    # Not due yet: a task (or a replay) now sends nothing.
    assert batch.send_batch([row.pk]).sent == []
    smtp_sink.refuse_rcpt = None
    Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert batch.send_batch([row.pk]).sent == [row.pk]
    row.refresh_from_db()
    assert (row.state, row.attempts) == (State.SENT, 2)
    assert smtp_sink.per_ticket() == {f"{ticket.pk}.1": 1}


def test_refusal_after_the_data_is_retried_not_doubted(issue, smtp_sink):
    smtp_sink.refuse_data = "451 4.7.1 Greylisted"
    ticket = issue()
    row = Delivery.objects.get(ticket=ticket)
    assert (row.state, row.attempts, row.in_doubt_count) == (State.QUEUED, 1, 0)
    assert row.last_error.startswith("451 4.7.1")


def test_permanent_refusal_fails_with_the_smtp_answer(issue, smtp_sink):
    smtp_sink.permanent["nobody@example.org"] = "550 5.1.1 No such user"
    bad = issue(email="nobody@example.org")
    good = issue(email="somebody@example.org")
    bad_row, good_row = (Delivery.objects.get(ticket=t) for t in (bad, good))
    assert bad_row.state == State.FAILED
    assert bad_row.last_error == "550 5.1.1 No such user"
    assert good_row.state == State.SENT


def test_too_many_temporary_failures_end_in_failed(issue, smtp_sink, settings):
    settings.VARCO_DELIVERY_MAX_ATTEMPTS = 2
    smtp_sink.refuse_rcpt = "452 4.2.2 Over quota"
    ticket = issue()
    row = Delivery.objects.get(ticket=ticket)
    Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    batch.send_batch([row.pk])
    row.refresh_from_db()
    assert row.state == State.FAILED
    assert "452 4.2.2 Over quota" in row.last_error and "2 attempts" in row.last_error


def test_unreachable_server_keeps_the_ticket_queued(issue, settings):
    from tests.support.smtp_sink import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    ticket = issue()
    row = Delivery.objects.get(ticket=ticket)
    assert row.state == State.QUEUED
    assert "SMTP connection failed" in row.last_error
    assert row.next_attempt_at > timezone.now()


def test_revoked_before_sending_is_cancelled(register, smtp_sink):
    ticket = register()  # no on-commit run: the delivery is not even queued yet
    ids = queue.queue_tickets([ticket])
    services.revoke_ticket(ticket)
    result = batch.send_batch(ids)
    assert result.cancelled == ids and smtp_sink.count() == 0
    assert Delivery.objects.get(pk=ids[0]).state == State.CANCELLED


def test_reissue_sends_the_new_code_and_cancels_the_old_queued_one(register, smtp_sink):
    ticket = register()
    old = queue.queue_tickets([ticket])
    ticket = services.reissue_ticket(ticket)
    new = queue.queue_tickets([ticket])
    assert old != new
    batch.send_batch(old + new)
    assert Delivery.objects.get(pk=old[0]).state == State.CANCELLED
    assert Delivery.objects.get(pk=new[0]).state == State.SENT
    assert smtp_sink.count() == 1
    assert pdf_qr_codes(smtp_sink.messages[0].attachment(".pdf")) == [
        services.ticket_code(ticket)
    ]


def test_queueing_twice_keeps_one_open_delivery(register):
    ticket = register()
    first = queue.queue_tickets([ticket])
    second = queue.queue_tickets([ticket])
    third = queue.queue_tickets([ticket], reason=Delivery.Reason.RESEND)
    assert first == second == third
    assert Delivery.objects.filter(ticket=ticket).count() == 1


def test_sweep_requeues_work_lost_before_hand_over(register, smtp_sink, settings):
    ticket = register()
    [pk] = queue.queue_tickets([ticket])
    long_ago = timezone.now() - dt.timedelta(seconds=settings.VARCO_DELIVERY_STALE_SECONDS + 5)
    Delivery.objects.filter(pk=pk).update(state=State.SENDING, claim_token="dead-worker",
                                          claimed_at=long_ago)
    result = sweep.sweep()  # republishes; the eager task sends it
    assert result.requeued == 1 and result.in_doubt == 0
    row = Delivery.objects.get(pk=pk)
    assert row.state == State.SENT and row.in_doubt_count == 0
    assert smtp_sink.count() == 1


def test_in_doubt_rule_resends_with_the_same_message_id(register, smtp_sink, settings):
    """A worker died after handing the message over: re-sent, same Message-ID, flagged."""
    ticket = register()
    [pk] = queue.queue_tickets([ticket])
    row = Delivery.objects.get(pk=pk)
    # What the dead worker did: claimed, recorded the attempt, handed the message over
    # (the server accepted it), then died before writing "sent".
    batch.send_batch([pk])
    assert smtp_sink.count() == 1
    long_ago = timezone.now() - dt.timedelta(seconds=2 * settings.EMAIL_TIMEOUT + 100)
    Delivery.objects.filter(pk=pk).update(state=State.SENDING, sent_at=None, claim_token="dead",
                                          claimed_at=long_ago, handed_at=long_ago)
    # A sweep too early (a live worker may still be waiting for a slow answer) leaves it.
    Delivery.objects.filter(pk=pk).update(handed_at=timezone.now())
    assert sweep.sweep().in_doubt == 0
    Delivery.objects.filter(pk=pk).update(handed_at=long_ago)
    result = sweep.sweep()
    assert result.in_doubt == 1
    row = Delivery.objects.get(pk=pk)
    assert row.state == State.SENT
    assert row.in_doubt_count == 1 and "same Message-ID" in row.last_error
    assert row.attempts == 2
    ids = [m.message_id for m in smtp_sink.messages]
    assert ids == [row.message_id, row.message_id]  # the receiver can de-duplicate


def test_connection_lost_after_hand_over_is_in_doubt_and_resent_with_same_id(register,
                                                                              smtp_sink):
    """The server stored the message but the line dropped before its "250" came back."""
    ticket = register()
    [pk] = queue.queue_tickets([ticket])
    smtp_sink.hang_up_after_data = True
    result = batch.send_batch([pk])
    assert result.in_doubt == [pk] and pk in result.retry
    row = Delivery.objects.get(pk=pk)
    assert (row.state, row.in_doubt_count, row.attempts) == (State.IN_DOUBT, 1, 1)
    assert "re-sent with the same Message-ID" in row.last_error
    assert smtp_sink.count() == 1  # it had arrived
    smtp_sink.hang_up_after_data = False
    Delivery.objects.filter(pk=pk).update(next_attempt_at=timezone.now())
    assert batch.send_batch([pk]).sent == [pk]
    row.refresh_from_db()
    assert (row.state, row.attempts) == (State.SENT, 2)
    assert [m.message_id for m in smtp_sink.messages] == [row.message_id] * 2


def test_sweep_creates_missing_deliveries_for_recent_tickets(register, smtp_sink, settings):
    ticket = register()  # its hook never ran (the process "died" after the commit)
    Ticket.objects.filter(pk=ticket.pk).update(
        updated_at=timezone.now() - dt.timedelta(seconds=settings.VARCO_DELIVERY_STALE_SECONDS + 1)
    )
    result = sweep.sweep()
    assert result.created == 1
    assert Delivery.objects.get(ticket=ticket).state == State.SENT
    assert smtp_sink.count() == 1


def test_unsent_tickets_and_queue_unsent(register, smtp_sink):
    sent, failed, fresh = (register(email=f"{n}@example.org") for n in "abc")
    batch.send_batch(queue.queue_tickets([sent]))
    [failed_id] = queue.queue_tickets([failed])
    Delivery.objects.filter(pk=failed_id).update(state=State.FAILED, last_error="550 no")
    assert set(queue.unsent_tickets(sent.event)) == {failed, fresh}
    ids = queue.queue_unsent(sent.event)
    assert len(ids) == 2
    reasons = dict(Delivery.objects.filter(pk__in=ids).values_list("ticket_id", "reason"))
    assert reasons == {failed.pk: "resend", fresh.pk: "issued"}


def test_file_backend_in_embedded_mode(issue, settings, tmp_path):
    """Embedded mode's backend (the settings' default without EMAIL_HOST): one .eml per ticket
    e-mail, named after its recipient and the ticket's reference."""
    settings.EMAIL_BACKEND = "core.mail_files.EmlFileBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    ticket = issue()
    files = list(tmp_path.iterdir())
    assert len(files) == 1
    assert files[0].suffix == ".eml"
    assert f"_{ticket.reference}.eml" in files[0].name
    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert message["X-Varco-Ticket"] == f"{ticket.pk}.1"
    assert message["X-Varco-Reference"] == ticket.reference
    assert message["To"] == ticket.attendee.email
    assert Delivery.objects.get(ticket=ticket).state == State.SENT


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_send_the_same_delivery_twice(register, smtp_sink, settings):
    """Four workers (threads, each its own PostgreSQL connection) race for the same rows."""
    import threading

    from django.db import connection

    settings.VARCO_SEND_ON_ISSUE = False

    tickets = [register(email=f"race{i}@example.org") for i in range(40)]
    rows = Delivery.objects.bulk_create(
        [queue.new_delivery(t, Delivery.Reason.ISSUED) for t in tickets]
    )
    ids = [row.pk for row in rows]
    barrier = threading.Barrier(4)
    results = []

    def work(order):
        try:
            barrier.wait()
            results.append(batch.send_batch(order, top_up=40))
        finally:
            connection.close()

    orders = [ids, ids[::-1], ids[10:] + ids[:10], ids[25:] + ids[:25]]
    threads = [threading.Thread(target=work, args=(order,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(len(r.sent) for r in results) == 40
    assert smtp_sink.per_ticket() == {f"{t.pk}.1": 1 for t in tickets}
    assert set(Delivery.objects.values_list("state", "attempts")) == {("sent", 1)}


def test_queue_unsent_handles_large_events(event, ticket_type, settings):
    """More tickets than one query may name (SQLite's expression limits) are all queued."""
    settings.VARCO_SEND_ON_ISSUE = False
    for i in range(1100):
        services.register(event, services.Registration(f"P{i}", f"p{i}@example.org"))
    ids = queue.queue_unsent(event)
    assert len(ids) == 1100
    assert queue.queue_unsent(event) == ids  # idempotent: the same open deliveries
    assert Delivery.objects.count() == 1100


def test_in_a_batch_each_message_is_its_own_and_a_failed_render_holds_back_only_that_one(
        register, smtp_sink, monkeypatch):
    """One batch, one SMTP connection, the event's signing key read once: every message
    carries its own attendee's PDF and code, and a rendering error holds back only that
    ticket, which is queued again (never sent without its PDF)."""
    from tickets.documents import pdf

    tickets = [register(email=f"b{i}@example.org", name=f"Batch {i}") for i in range(6)]
    broken = tickets[2]
    real_render = pdf.render_ticket_pdf

    def render(ticket, code):
        if ticket.pk == broken.pk:
            raise RuntimeError("font file unreadable")
        return real_render(ticket, code)

    monkeypatch.setattr(pdf, "render_ticket_pdf", render)
    ids = queue.queue_tickets(tickets)
    result = batch.send_batch(ids)

    assert sorted(result.sent) == sorted(
        d for d in ids if Delivery.objects.get(pk=d).ticket_id != broken.pk)
    by_recipient = {m.envelope_to[0]: m for m in smtp_sink.messages}
    assert len(smtp_sink.messages) == len(by_recipient) == 5
    for ticket in tickets:
        received = by_recipient.get(ticket.attendee.email)
        if ticket.pk == broken.pk:
            assert received is None
            continue
        assert received.ticket == f"{ticket.pk}.{ticket.version}"
        assert pdf_qr_codes(received.attachment(".pdf")) == [services.ticket_code(ticket)]
    held = Delivery.objects.get(ticket=broken)
    assert held.state == State.QUEUED and held.attempts == 1
    assert "rendering failed: font file unreadable" in held.last_error

    monkeypatch.setattr(pdf, "render_ticket_pdf", real_render)
    Delivery.objects.filter(pk=held.pk).update(next_attempt_at=timezone.now())
    assert batch.send_batch([held.pk]).sent == [held.pk]
    assert smtp_sink.count() == 6
