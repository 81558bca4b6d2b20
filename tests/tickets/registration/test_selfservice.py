"""Attendee self-service: the public registration page and the signed ticket link."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.support.factories import make_event
from tests.support.ticket_files import pdf_qr_codes
from tickets import links, services
from tickets.models import Attendee, Delivery, TicketType

pytestmark = pytest.mark.django_db


def _form_post(client: Client, url: str, **data):
    page = client.get(url)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    return client.post(url, {"csrfmiddlewaretoken": token.group(1), **data})


@pytest.fixture
def browser():
    return Client(enforce_csrf_checks=True)


def test_registration_page_in_italian_by_default_and_english_on_request(browser, event,
                                                                         ticket_type):
    url = f"/e/{event.slug}/register/"
    page = browser.get(url).content.decode()
    assert '<html lang="it">' in page
    assert "Nome e cognome" in page and "venerdì 22 settembre 2017" in page
    assert 'href="?lang=en"' in page
    page = browser.get(url + "?lang=en").content.decode()
    assert '<html lang="en">' in page
    assert "Full name" in page and "Friday 22 September 2017" in page
    assert 'autocomplete="email"' in page and 'name="viewport"' in page


def test_register_through_the_page_sends_the_ticket(browser, event, ticket_type, smtp_sink,
                                                    django_capture_on_commit_callbacks):
    url = f"/e/{event.slug}/register/?lang=en"
    with django_capture_on_commit_callbacks(execute=True):
        response = _form_post(browser, url, name="Anna Bianchi", email="Anna@Example.org",
                              organisation="Comune di Milano", lang="en")
    assert response.status_code == 302
    assert response["Location"] == f"/e/{event.slug}/registered/?lang=en"
    attendee = Attendee.objects.get(event=event)
    assert (attendee.email, attendee.language) == ("anna@example.org", "en")
    page = browser.get(response["Location"]).content.decode()
    assert "You are registered" in page and "anna@example.org" in page
    assert smtp_sink.count() == 1
    assert smtp_sink.messages[0].envelope_to == ["anna@example.org"]
    assert Delivery.objects.get(ticket__attendee=attendee).state == "sent"


def test_form_without_csrf_token_is_refused(browser, event, ticket_type):
    response = browser.post(f"/e/{event.slug}/register/",
                            {"name": "X", "email": "x@example.org"})
    assert response.status_code == 403
    assert not Attendee.objects.exists()


def test_field_errors_are_shown_next_to_the_fields(browser, event, ticket_type):
    response = _form_post(browser, f"/e/{event.slug}/register/?lang=it", name=" ",
                          email="not-an-address", lang="it")
    assert response.status_code == 400
    page = response.content.decode()
    assert 'role="alert"' in page
    assert 'aria-invalid="true"' in page and 'id="id_email-error"' in page
    assert "Nome e cognome: Campo obbligatorio." in page  # Django's own Italian
    assert not Attendee.objects.exists()


def test_duplicate_email_is_explained(browser, event, ticket_type, register):
    register(email="giulia@example.org")
    response = _form_post(browser, f"/e/{event.slug}/register/?lang=en", name="Giulia",
                          email="GIULIA@example.org", lang="en")
    assert response.status_code == 400
    assert "already registered for this event" in response.content.decode()


def test_full_event_says_so_and_refuses(browser, organiser):
    event = make_event(organiser, slug="tiny", capacity=1)
    TicketType.objects.create(event=event, name="Ingresso")
    url = f"/e/{event.slug}/register/?lang=en"
    page = browser.get(url).content.decode()
    assert "<form" in page
    # someone takes the last place while this visitor fills the form
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    services.register(event, services.Registration("First", "first@example.org"), public=True)
    response = browser.post(url, {"csrfmiddlewaretoken": token, "name": "Late",
                                  "email": "late@example.org", "lang": "en"})
    assert response.status_code == 400
    assert "this event is full" in response.content.decode()
    page = browser.get(url).content.decode()
    assert "this event is full" in page and "<form" not in page


def test_closed_registration(browser, event, ticket_type):
    event.registration_open = False
    event.save()
    page = browser.get(f"/e/{event.slug}/register/?lang=it").content.decode()
    assert "Le iscrizioni a questo evento sono chiuse." in page and "<form" not in page


def test_unknown_event_is_404(browser, db):
    assert browser.get("/e/nope/register/").status_code == 404


def test_several_ticket_types_are_offered(browser, event, ticket_type):
    other = TicketType.objects.create(event=event, name="Relatore", name_i18n={"en": "Speaker"},
                                      position=2)
    TicketType.objects.create(event=event, name="Staff", public=False)
    page = browser.get(f"/e/{event.slug}/register/?lang=en").content.decode()
    assert "Admission" in page and "Speaker" in page and "Staff" not in page
    response = _form_post(browser, f"/e/{event.slug}/register/?lang=en", name="S",
                          email="s@example.org", ticket_type=other.pk, lang="en")
    assert response.status_code == 302
    assert Attendee.objects.get().tickets.get().ticket_type == other


def test_ticket_link_opens_the_ticket_with_qr_and_pdf(client, register):
    ticket = register(language="en")
    url = links.ticket_url(ticket)
    assert url.startswith("http://") and "/t/" in url
    path = url.split("127.0.0.1:8000", 1)[-1]
    response = client.get(path)
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert response["Referrer-Policy"] == "no-referrer"
    page = response.content.decode()
    assert "<svg" in page and ticket.reference in page and "Giulia Rossi" in page
    assert "Admission" in page and "Download the PDF ticket" in page
    pdf_url = re.search(r'href="([^"]+\.pdf)"', page).group(1)
    document = client.get(pdf_url)
    assert document["Content-Type"] == "application/pdf"
    assert pdf_qr_codes(document.content) == [services.ticket_code(ticket)]


def test_tampered_or_guessed_links_are_404(client, register):
    ticket = register()
    token = links.ticket_token(ticket)
    other = register(email="other@example.org")
    forged = links.ticket_token(other).split(":")[0] + ":" + token.split(":")[1]
    for bad in (token[:-1] + ("A" if token[-1] != "A" else "B"), token[:20], forged, "x"):
        assert client.get(f"/t/{bad}/").status_code == 404
        assert client.get(f"/t/{bad}/ticket.pdf").status_code == 404


def test_link_stops_working_when_revoked_or_reissued(client, register):
    ticket = register()
    old = links.ticket_token(ticket)
    ticket = services.reissue_ticket(ticket)
    new = links.ticket_token(ticket)
    assert client.get(f"/t/{old}/").status_code == 410
    assert client.get(f"/t/{old}/ticket.pdf").status_code == 410
    assert client.get(f"/t/{new}/").status_code == 200
    services.revoke_ticket(ticket)
    response = client.get(f"/t/{new}/")
    assert response.status_code == 410
    assert "annullato o sostituito" in response.content.decode()
