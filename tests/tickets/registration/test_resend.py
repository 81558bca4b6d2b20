"""'Send my ticket again' (issue 13, item 11): offered where a second registration with the same
address is refused; rate-limited through core.rate_limits; sent only to the address stored at
registration; the same answer whether an address is registered or not; a resend row of the
exactly-once pipeline."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tickets import services
from tickets.models import Delivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser():
    return Client(enforce_csrf_checks=True)


def _post(client: Client, url: str, **data):
    page = client.get(url)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    return client.post(url, {"csrfmiddlewaretoken": token.group(1), **data})


def _answer(response, address: str) -> str:
    """The page with the address asked for blanked out (the only part that may differ)."""
    return response.content.decode().replace(address, "ADDRESS")


@pytest.fixture
def sent(register, smtp_sink, django_capture_on_commit_callbacks):
    """A registered attendee whose first e-mail has been sent."""
    with django_capture_on_commit_callbacks(execute=True):
        ticket = register(name="Giulia Rossi", email="giulia@example.org", language="en")
    assert smtp_sink.count() == 1
    return ticket


def test_a_second_registration_offers_to_send_the_ticket_again(browser, event, sent, smtp_sink,
                                                              django_capture_on_commit_callbacks):
    url = f"/e/{event.slug}/register/?lang=en"
    response = _post(browser, url, name="Giulia Rossi", email="giulia@example.org", lang="en")
    page = response.content.decode()
    assert response.status_code == 400 and "already registered" in page
    form = re.search(r'<form method="post" action="(/e/[^"]+/resend/)" class="resend">(.*?)</form>',
                     page, re.S)
    assert form is not None, page
    assert 'name="email" value="giulia@example.org"' in form.group(2)
    assert "Send my ticket again" in form.group(2)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.group(2)).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        answer = browser.post(form.group(1), {"csrfmiddlewaretoken": token, "lang": "en",
                                              "email": "giulia@example.org"})
    assert answer.status_code == 200
    assert "is on its way to that address again" in answer.content.decode()
    assert smtp_sink.count() == 2
    again = smtp_sink.messages[1]
    assert again.envelope_to == ["giulia@example.org"]
    assert again.ticket == f"{sent.pk}.{sent.version}"
    assert again.message_id != smtp_sink.messages[0].message_id  # a new message, same ticket
    row = Delivery.objects.filter(ticket=sent).order_by("-id").first()
    assert (row.reason, row.state, row.recipient) == ("resend", "sent", "giulia@example.org")


def test_the_answer_is_the_same_registered_or_not(browser, event, sent, smtp_sink,
                                                  django_capture_on_commit_callbacks):
    url = f"/e/{event.slug}/resend/?lang=en"
    with django_capture_on_commit_callbacks(execute=True):
        known = _post(browser, url, email="giulia@example.org", lang="en")
        unknown = _post(browser, url, email="nobody@example.org", lang="en")
    assert known.status_code == unknown.status_code == 200
    assert _answer(known, "giulia@example.org") == _answer(unknown, "nobody@example.org")
    assert smtp_sink.count() == 2  # only the registered address got a message
    assert [m.envelope_to for m in smtp_sink.messages] == [["giulia@example.org"]] * 2


def test_the_ticket_goes_to_the_stored_address_never_to_the_typed_one(
        browser, event, sent, smtp_sink, django_capture_on_commit_callbacks):
    url = f"/e/{event.slug}/resend/"
    with django_capture_on_commit_callbacks(execute=True):
        # The same address as email_key compares it (case, long s): the stored one is used.
        response = _post(browser, url, email="GIULIA@Example.ORG")
        _post(browser, url, email="\u017fomeone-else@example.org")
    assert response.status_code == 200
    assert [m.envelope_to for m in smtp_sink.messages] == [["giulia@example.org"]] * 2
    assert set(Delivery.objects.values_list("recipient", flat=True)) == {"giulia@example.org"}


def test_a_revoked_ticket_is_not_sent_and_the_answer_is_unchanged(
        browser, event, sent, smtp_sink, django_capture_on_commit_callbacks):
    services.revoke_ticket(sent)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(browser, f"/e/{event.slug}/resend/?lang=en", email="giulia@example.org")
    assert response.status_code == 200 and "on its way" in response.content.decode()
    assert smtp_sink.count() == 1


def test_a_double_click_queues_one_message(browser, event, sent):
    """Through the exactly-once pipeline: while a resend is open, another is that one."""
    url = f"/e/{event.slug}/resend/"
    _post(browser, url, email="giulia@example.org")  # after-commit hooks not run: stays queued
    _post(browser, url, email="giulia@example.org")
    assert Delivery.objects.filter(ticket=sent, reason="resend").count() == 1
    assert Delivery.objects.get(ticket=sent, reason="resend").state == "queued"


def test_a_bad_address_is_explained_in_the_page_language(browser, event):
    response = _post(browser, f"/e/{event.slug}/resend/", email="not an address")
    assert response.status_code == 400
    page = response.content.decode()
    assert '<html lang="it">' in page and 'aria-invalid="true"' in page
    assert "Inviami di nuovo il biglietto" in page


def test_per_address_limit_whoever_asks_and_registered_or_not(event, sent, settings,
                                                             smtp_sink):
    settings.VARCO_TICKET_RESEND_ADDRESS_RATE = "2/hour"
    for address in ("giulia@example.org", "nobody@example.org"):
        answers = []
        for client_ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):  # three connections
            client = Client(REMOTE_ADDR=client_ip)
            answers.append(client.post(f"/e/{event.slug}/resend/?lang=en", {"email": address}))
        assert [a.status_code for a in answers] == [200, 200, 429], address
        assert int(answers[-1]["Retry-After"]) > 0
        assert "Too many requests" in answers[-1].content.decode()


def test_per_connection_limit(event, settings):
    settings.VARCO_TICKET_RESEND_RATE = "3/hour"
    client = Client(REMOTE_ADDR="10.0.0.9")
    codes = [client.post(f"/e/{event.slug}/resend/", {"email": f"p{i}@example.org"}).status_code
             for i in range(4)]
    assert codes == [200, 200, 200, 429]
    settings.VARCO_TICKET_RESEND_RATE = None  # switched off: as for every limit
    assert client.post(f"/e/{event.slug}/resend/", {"email": "p9@example.org"}).status_code == 200


def test_the_limits_are_owned_by_core_rate_limits(settings):
    from core import rate_limits

    assert settings.VARCO_TICKET_RESEND_RATE == "10/hour"
    assert settings.VARCO_TICKET_RESEND_ADDRESS_RATE == "3/hour"
    assert rate_limits.TicketResendThrottle.rate_setting == "VARCO_TICKET_RESEND_RATE"
    assert rate_limits.TicketResendAddressThrottle("x").rate_setting == \
        "VARCO_TICKET_RESEND_ADDRESS_RATE"


def test_the_registered_page_links_to_it(browser, event, ticket_type, smtp_sink):
    response = _post(browser, f"/e/{event.slug}/register/?lang=en", name="Anna Bianchi",
                     email="anna@example.org", lang="en")
    page = browser.get(response["Location"]).content.decode()
    assert f'href="/e/{event.slug}/resend/?lang=en"' in page
    assert "Not received? Send my ticket again" in page
