"""The console's bulk badge printing (console/badges.py): the form turns into the API's
parameters (badges.printing's rules), the streamed answer reports progress and carries the PDF,
and another organiser's event is a 404."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

from badges import services as badge_services
from console import badges as console_badges
from tests.support.factories import make_event
from tests.support.ticket_files import pdf_page_count, pdf_page_texts
from tickets import onboarding
from tickets import services as ticket_services
from tickets.models import TicketType

NAMES = ["Zeno Adami", "Ángela Zamora", "bruno Conti", "Carla Bianchi"]


@pytest.fixture
def people(settings, event, ticket_type, register):
    settings.VARCO_SEND_ON_ISSUE = False
    speaker = TicketType.objects.create(event=event, name="Relatore",
                                        name_i18n={"en": "Speaker"}, position=1)
    tickets = [register(name=name, email=f"p{i}@example.org",
                        ticket_type_id=(speaker if i == 1 else ticket_type).pk)
               for i, name in enumerate(NAMES)]
    ticket_services.revoke_ticket(register(name="Revocato Rossi", email="r@example.org"))
    return tickets, speaker


@pytest.fixture
def console(staff) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(staff)
    return client


def _stream(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"] == console_badges.NDJSON
    body = b"".join(response.streaming_content).decode()
    assert body.endswith("\n")
    return [json.loads(line) for line in body.splitlines()]


def _names(pdf: bytes) -> list[str]:
    compact = ["".join(text.split()) for text in pdf_page_texts(pdf)]
    return [next(n for n in NAMES if "".join(n.split()) in page) for page in compact]


def test_the_page_is_linked_from_the_event_home_and_offers_the_events_choices(
        console, event, people):
    badge_services.create_layout(event, name="Etichette 62", preset="ql-62")
    home = console.get(f"/admin/events/{event.pk}/").content.decode()
    assert f'href="/admin/events/{event.pk}/badges/"' in home
    html = console.get(f"/admin/events/{event.pk}/badges/").content.decode()
    assert "Etichette 62" in html and "Relatore" in html
    assert f'action="/admin/events/{event.pk}/badges/print/"' in html


def test_the_stream_reports_progress_then_the_pdf_in_the_chosen_order(
        console, event, people, monkeypatch):
    monkeypatch.setattr(console_badges, "PROGRESS_SECONDS", 0)  # a line after every badge
    lines = _stream(console.post(f"/admin/events/{event.pk}/badges/print/", {"sort": "surname"},
                                 HTTP_ACCEPT=console_badges.NDJSON))
    assert lines[0] == {"total": 4}
    assert [line["done"] for line in lines[1:-1]] == [1, 2, 3, 4, 4]
    last = lines[-1]
    assert (last["count"], last["total"], last["filename"]) == (4, 4, f"{event.slug}-badges.pdf")
    pdf = base64.b64decode(last["pdf"], validate=True)
    assert pdf_page_count(pdf) == 4  # the built-in A6 layout; the revoked ticket never prints
    assert _names(pdf) == ["Zeno Adami", "Carla Bianchi", "bruno Conti", "Ángela Zamora"]


def test_filters_and_layout_reach_the_pdf(console, event, people):
    _tickets, speaker = people
    layout = badge_services.create_layout(event, name="Foglio", preset="a4-8x90x54")
    lines = _stream(console.post(f"/admin/events/{event.pk}/badges/print/",
                                 {"sort": "name", "layout": layout.pk,
                                  "ticket_type": [t.pk for t in event.ticket_types.exclude(
                                      pk=speaker.pk)]},
                                 HTTP_ACCEPT=console_badges.NDJSON))
    pdf = base64.b64decode(lines[-1]["pdf"])
    assert lines[-1]["count"] == 3 and pdf_page_count(pdf) == 1  # 8 badges a sheet
    texts = "".join("".join(pdf_page_texts(pdf)).split())
    assert "ÁngelaZamora" not in texts and "ZenoAdami" in texts


def test_nobody_selected_is_an_empty_answer_not_an_error(console, event, people):
    lines = _stream(console.post(f"/admin/events/{event.pk}/badges/print/",
                                 {"sort": "name", "organisation": "Nessuna"},
                                 HTTP_ACCEPT=console_badges.NDJSON))
    assert lines[0] == {"total": 0} and lines[-1]["count"] == 0


def test_a_bad_value_is_a_400_naming_the_field(console, event, people):
    response = console.post(f"/admin/events/{event.pk}/badges/print/",
                            {"sort": "colour", "checked_in": "maybe"},
                            HTTP_ACCEPT=console_badges.NDJSON)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid" and {"sort", "checked_in"} <= set(body["fields"])
    # without the page's script: the form again, with its errors
    page = console.post(f"/admin/events/{event.pk}/badges/print/", {"sort": "colour"})
    assert page.status_code == 200 and b"errorlist" in page.content


def test_without_the_script_the_answer_is_the_pdf(console, event, people):
    response = console.post(f"/admin/events/{event.pk}/badges/print/",
                            {"sort": "registration", "checked_in": "false"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["X-Badge-Count"] == "4"
    assert "attachment" in response["Content-Disposition"]
    assert _names(b"".join(response.streaming_content)) == NAMES


def test_another_organisers_event_is_a_404(console, people):
    team = ticket_services.create_organiser("Zeta Eventi", "zeta")
    theirs = make_event(team, slug="zeta-summit", name="Zeta Summit")
    assert console.get(f"/admin/events/{theirs.pk}/badges/").status_code == 404
    assert console.post(f"/admin/events/{theirs.pk}/badges/print/", {"sort": "name"},
                        HTTP_ACCEPT=console_badges.NDJSON).status_code == 404
    user, _, _ = onboarding.create_staff_user(team, "zeta-staff", "z@example.org", "pw")
    other = Client()
    other.force_login(user)
    event = people[0][0].event
    assert other.get(f"/admin/events/{event.pk}/badges/").status_code == 404
