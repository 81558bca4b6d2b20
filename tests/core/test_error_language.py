"""A refusal's message is for people, in their language; its code is for machines, never
translated (core/errors.py). Services write messages with gettext_lazy; ``error_body`` renders
them in the request's language: the API's ``Accept-Language`` (or the language the user chose
in the console, its cookie), else ``LANGUAGE_CODE``."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import translation
from rest_framework.test import APIClient

from core import text
from core.errors import ServiceError, error_body
from tests.support.api_errors import assert_error
from tickets import services

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


def test_a_service_error_is_rendered_where_it_is_shown_in_that_language():
    with translation.override("en"):
        error = services.duplicate_email()  # raised while English was active
    with translation.override("it"):
        assert error.body() == {
            "error": "duplicate",
            "detail": "Questo indirizzo e-mail è già iscritto a questo evento.",
            "fields": {"email": ["Questo indirizzo e-mail è già iscritto a questo evento."]}}
    with translation.override("en"):
        assert error.body()["detail"] == (
            "This e-mail address is already registered for this event.")
    assert error.code == "duplicate"


def test_values_in_a_message_are_kept_in_every_language():
    try:
        text.clean_text("x" * 30, 20)
    except text.TextRefused as exc:
        refused = ServiceError("name", exc.message)
    with translation.override("it"):
        assert error_body("invalid", refused.message)["detail"] == "Più lungo di 20 caratteri."
    with translation.override("en"):
        assert str(refused) == "Longer than 20 characters."


@pytest.mark.parametrize("language, detail, field", [
    ("it", "Questo indirizzo e-mail è già iscritto a questo evento.",
     "Questo indirizzo e-mail è già iscritto a questo evento."),
    ("en", "This e-mail address is already registered for this event.",
     "This e-mail address is already registered for this event."),
])
def test_the_api_answers_in_the_accept_language_with_the_same_code(
        api, event, ticket_type, register, language, detail, field):
    register(email="giulia@example.org")
    response = api.post(f"{V1}/events/{event.pk}/attendees/",
                        {"name": "G", "email": "giulia@example.org"}, format="json",
                        HTTP_ACCEPT_LANGUAGE=language)
    body = assert_error(response, 400, field="email", code="duplicate")
    assert (body["detail"], body["fields"]["email"]) == (detail, [field])


@pytest.mark.parametrize("language, detail", [
    ("it", "Dati non validi: email."), ("en", "Invalid input: email.")])
def test_a_validation_errors_detail_follows_the_language_too(api, event, language, detail):
    response = api.post(f"{V1}/events/{event.pk}/attendees/", {"name": "G"}, format="json",
                        HTTP_ACCEPT_LANGUAGE=language)
    assert assert_error(response, 400, field="email", code="invalid")["detail"] == detail


def test_the_language_chosen_in_the_console_is_the_apis_for_that_user(staff, event, ticket_type,
                                                                     register):
    register(email="giulia@example.org")
    browser = Client(HTTP_ACCEPT_LANGUAGE="it")
    browser.force_login(staff)
    browser.post("/admin/language/", {"language": "en", "next": "/admin/"})
    response = browser.post(f"{V1}/events/{event.pk}/attendees/",
                            {"name": "G", "email": "giulia@example.org"},
                            content_type="application/json")
    body = assert_error(response, 400, field="email", code="duplicate")
    assert body["detail"] == "This e-mail address is already registered for this event."


def test_an_unknown_endpoint_answers_in_the_language_asked():
    italian = APIClient().get(f"{V1}/nowhere/", HTTP_ACCEPT_LANGUAGE="it").json()
    english = APIClient().get(f"{V1}/nowhere/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert (italian["error"], english["error"]) == ("not_found", "not_found")
    assert (italian["detail"], english["detail"]) == ("Questo indirizzo dell'API non esiste.",
                                                      "No such API endpoint.")
