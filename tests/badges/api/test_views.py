"""GET /api/v1/events/{id}/badges.pdf: organisers only, their own events only, bad query
parameters answered with the one JSON error body."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.support.api_errors import assert_error
from tests.support.factories import make_event
from tests.support.ticket_files import pdf_page_count, pdf_text
from tickets import onboarding, services

pytestmark = pytest.mark.django_db


def _url(event) -> str:
    return f"/api/v1/events/{event.pk}/badges.pdf"


def _pdf(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_organiser_gets_every_badge_as_one_pdf(api, event, crowd):
    response = api.get(_url(event), HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="conf-2017-badges.pdf"' in response["Content-Disposition"]
    assert response["X-Badge-Count"] == "5"
    document = _pdf(response)
    assert pdf_page_count(document) == 5
    assert "Bruno Conti" in pdf_text(document)


def test_filters_and_sort_in_the_query(api, event, crowd):
    speaker = crowd["speaker_type"]
    response = api.get(_url(event), {"ticket_type": speaker.pk, "sort": "surname"})
    assert response.status_code == 200 and response["X-Badge-Count"] == "2"
    text = pdf_text(_pdf(response))
    assert text.index("Zamora") < text.index("Ελένη")
    response = api.get(_url(event), {"checked_in": "true"})
    assert response["X-Badge-Count"] == "1"


def test_an_anonymous_caller_is_refused(event):
    assert_error(APIClient().get(_url(event)), 401)


def test_another_organisers_event_is_not_found(event, api):
    other_team = services.create_organiser("Altra Fondazione", "altra")
    other_event = make_event(other_team, slug="altra-conf")
    assert_error(api.get(_url(other_event)), 404)
    assert api.get("/api/v1/events/999999/badges.pdf").status_code == 404
    # ...and that organiser sees their own, not ours.
    _user, _, token = onboarding.create_staff_user(other_team, "altro", "a@example.org", "pw")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(_url(other_event)).status_code == 200
    assert client.get(_url(event)).status_code == 404


@pytest.mark.parametrize(("query", "field"), [
    ("sort=age", "sort"),
    ("sort=name&sort=surname", "sort"),
    ("layout=abc", "layout"),
    ("layout=99999", "layout"),
    ("ticket_type=xyz", "ticket_type"),
    ("checked_in=maybe", "checked_in"),
    ("pages=3", "pages"),
])
def test_bad_parameters_are_a_400_naming_the_parameter(api, event, query, field):
    response = api.get(f"{_url(event)}?{query}", HTTP_ACCEPT="application/pdf")
    body = assert_error(response, 400, field=field, code="invalid")
    assert list(body["fields"]) == [field]
