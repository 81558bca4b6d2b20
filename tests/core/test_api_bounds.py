"""Query parameters at the edges of their ranges (found by schemathesis): lists stay 200s."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
HUGE = "16165795186541118619648"  # past any 64-bit integer


@pytest.fixture
def lists(event, ticket_type, register) -> list[str]:
    register()
    return [f"{V1}/organisers/", f"{V1}/events/", f"{V1}/events/{event.pk}/ticket-types/",
            f"{V1}/events/{event.pk}/attendees/", f"{V1}/events/{event.pk}/tickets/"]


@pytest.mark.parametrize("query", [
    f"limit={HUGE}", f"offset={HUGE}", f"offset=-741516&limit={HUGE}", "limit=-1",
    "offset=-5", "limit=abc&offset=xyz", f"limit={HUGE}&offset={HUGE}",
])
def test_extreme_pagination_is_no_error(api, lists, query):
    for url in lists:
        response = api.get(f"{url}?{query}")
        assert response.status_code == 200, (url, query, response.content[:200])
        assert isinstance(response.json()["results"], list)


def test_limit_is_capped_and_offset_past_the_end_is_empty(api, lists):
    response = api.get(f"{V1}/events/?offset=5&limit={HUGE}")
    body = response.json()
    assert body["results"] == [] and body["count"] == 1
    previous = parse_qs(urlsplit(body["previous"]).query)
    assert previous["limit"] == ["1000"]
    body = api.get(f"{V1}/events/?offset={HUGE}").json()
    assert body["results"] == [] and body["count"] == 1


def test_nul_in_a_search_is_a_400_naming_it(api, event, register):
    """PostgreSQL refuses NUL bytes in text parameters (schemathesis found the 500)."""
    from rest_framework.test import APIClient

    from tests.support.checkin import make_device, make_list

    response = api.get(f"{V1}/events/{event.pk}/attendees/", {"search": "a\x00b"})
    assert response.status_code == 400
    assert response.json()["fields"] == {"search": ["Must not contain NUL characters."]}
    _, token = make_device(event, lists=[make_list(event)])
    response = APIClient().get("/api/v1/checkin/search/", {"q": "a\x00b"},
                               HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 400
    assert response.json()["fields"] == {"q": ["Must not contain NUL characters."]}


@pytest.mark.parametrize("names", [{"e\x00n": "x"}, {"\x00": "x"}, {"fr": "Entrée"}])
def test_translated_ticket_type_names_are_keyed_by_language(api, event, ticket_type, names):
    """A NUL in a key made PostgreSQL's jsonb refuse the row: a 500 (schemathesis found it on
    PUT .../ticket-types/{id}/). Keys must be the languages Varco speaks."""
    url = f"{V1}/events/{event.pk}/ticket-types/{ticket_type.pk}/"
    response = api.patch(url, {"name_i18n": names}, format="json")
    assert response.status_code == 400
    assert "name_i18n" in response.json()["fields"]
    response = api.put(url, {"name": "Ingresso", "name_i18n": {"en": "Admission"}},
                       format="json")
    assert response.status_code == 200 and response.json()["name_i18n"] == {"en": "Admission"}


def test_admin_forms_check_translated_names_too(event, ticket_type):
    """The admin's forms run the model's validators: the same rule there."""
    from django.core.exceptions import ValidationError

    ticket_type.name_i18n = {"e\x00n": "x"}
    with pytest.raises(ValidationError) as caught:
        ticket_type.full_clean()
    assert "name_i18n" in caught.value.message_dict
    ticket_type.name_i18n = {"en": "Admission"}
    ticket_type.full_clean()
