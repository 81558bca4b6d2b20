"""The registration's input check without a serializer per request
(``tickets.api.serializers.validate_registration``) gives exactly what
``RegistrationSerializer`` gives: the same validated data, or the same errors, for any body."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rest_framework import serializers

from tickets.api.serializers import RegistrationSerializer, validate_registration

KNOWN = ["name", "email", "organisation", "language", "ticket_type"]
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
    st.floats(allow_nan=False), st.text(max_size=260),
    st.sampled_from(["it", "en", "fr", "", "  ", "a@b.it", "x" * 201, "5", "-1", "9" * 30,
                     "Persona Uno", "p1@example.org", "not-an-email"]),
    st.lists(st.text(max_size=3), max_size=2), st.dictionaries(st.text(max_size=3),
                                                               st.text(max_size=3), max_size=2),
)
BODIES = st.dictionaries(st.sampled_from([*KNOWN, "capacty", "csrfmiddlewaretoken", "x"]),
                         VALUES, max_size=7)


def outcome(check, data):
    try:
        return "valid", dict(check(data))
    except serializers.ValidationError as exc:
        return "invalid", exc.detail


def by_serializer(data):
    serializer = RegistrationSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@given(BODIES)
def test_same_answer_as_the_serializer_for_any_json_object(data):
    assert outcome(validate_registration, data) == outcome(by_serializer, data)


@pytest.mark.parametrize("data", [
    {"name": "Giulia Rossi", "email": "giulia@example.org"},
    {"name": "  Giulia  ", "email": "GIULIA@example.org", "organisation": "Coop",
     "language": "en", "ticket_type": "7"},
    {"name": "", "email": "nope", "language": "fr", "ticket_type": 0, "capacty": 3},
    {"name": None, "email": None, "organisation": None},
    {},
])
def test_examples_including_every_kind_of_refusal(data):
    mine, theirs = outcome(validate_registration, data), outcome(by_serializer, data)
    assert mine == theirs
    assert mine[0] == ("valid" if "giulia" in str(data.get("email", "")).lower() else "invalid")


@pytest.mark.parametrize("data", [[{"name": "x"}], None, "text", 5])
def test_anything_but_an_object_is_the_serializers_answer(data):
    assert outcome(validate_registration, data) == outcome(by_serializer, data)
    assert outcome(validate_registration, data)[0] == "invalid"
