"""Bulk printing: which badges, in which order, how many per page."""

from __future__ import annotations

import io

import pytest

from badges import printing, services
from core.errors import ServiceError
from tests.badges.conftest import PEOPLE
from tests.support.ticket_files import pdf_page_count, pdf_page_texts
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db

KNOWN = [name for name, *_ in PEOPLE] + [f"Extra {index}" for index in range(6)]


def _names(event, **params) -> list[str]:
    bulk = printing.bulk_request(event, {k: v if isinstance(v, list) else [v]
                                         for k, v in params.items()})
    out = io.BytesIO()
    count = printing.write_pdf(event, bulk, out)
    pages = pdf_page_texts(out.getvalue())
    assert count == len(pages)  # the default layout (A6): one badge per page
    return [_who(page) for page in pages]


def _who(page: str) -> str:
    """The one attendee whose name is on ``page`` (a long name may wrap onto two lines)."""
    compact = "".join(page.split())
    found = [name for name in KNOWN if "".join(name.split()) in compact]
    assert len(found) == 1, (found, page)
    return found[0]


ALL_BY_NAME = ["Ángela Zamora", "Bruno Conti", "carla bianchi", "zoe Adams",
               "Ελένη Παπαδοπούλου"]


@pytest.mark.parametrize(("sort", "expected"), [
    ("name", ALL_BY_NAME),  # case folded: "carla" between "Bruno" and "zoe"
    ("surname", ["zoe Adams", "carla bianchi", "Bruno Conti", "Ángela Zamora",
                 "Ελένη Παπαδοπούλου"]),
    ("organisation", ["Bruno Conti", "Ελένη Παπαδοπούλου", "carla bianchi", "zoe Adams",
                      "Ángela Zamora"]),  # no organisation: last
    ("registration", ["zoe Adams", "Ángela Zamora", "Bruno Conti", "carla bianchi",
                      "Ελένη Παπαδοπούλου"]),
])
def test_every_valid_badge_once_in_the_chosen_order(event, crowd, sort, expected):
    assert _names(event, sort=sort) == expected


def test_filters(event, crowd):
    speaker = crowd["speaker_type"]
    assert _names(event, ticket_type=str(speaker.pk)) == ["Ángela Zamora", "Ελένη Παπαδοπούλου"]
    assert _names(event, organisation="COOP IL SOLE") == ["carla bianchi", "zoe Adams"]
    assert _names(event, checked_in="true") == ["Bruno Conti"]
    assert _names(event, checked_in="no") == [n for n in ALL_BY_NAME if n != "Bruno Conti"]
    ticket_services.revoke_ticket(crowd["zoe Adams"])
    assert "zoe Adams" not in _names(event)


def test_a_sheet_layout_puts_eight_badges_on_a_page(event, crowd, register):
    for index in range(6):
        register(name=f"Extra {index}", email=f"extra{index}@example.org")
    layout = services.create_layout(event, name="Fogli", preset="a4-8x90x54")
    bulk = printing.bulk_request(event, {"layout": [str(layout.pk)], "sort": ["registration"]})
    out = io.BytesIO()
    assert printing.write_pdf(event, bulk, out) == 11
    assert pdf_page_count(out.getvalue()) == 2
    first, second = pdf_page_texts(out.getvalue())
    assert first.index("zoe Adams") < first.index("Extra 2")
    assert "Extra 3" in second and "Extra 5" in second and "Extra 2" not in second


@pytest.mark.parametrize(("params", "field"), [
    ({"sort": ["age"]}, "sort"),
    ({"sort": ["name", "surname"]}, "sort"),
    ({"layout": ["abc"]}, "layout"),
    ({"layout": ["99999"]}, "layout"),
    ({"ticket_type": ["99999"]}, "ticket_type"),
    ({"ticket_type": ["-1"]}, "ticket_type"),
    ({"checked_in": ["maybe"]}, "checked_in"),
    ({"organisation": ["x" * 201]}, "organisation"),
    ({"colour": ["red"]}, "colour"),
])
def test_bad_parameters_name_the_one_at_fault(event, params, field):
    with pytest.raises(ServiceError) as caught:
        printing.bulk_request(event, params)
    assert caught.value.field == field


def test_a_layout_of_another_event_is_refused(event, organiser):
    from tests.support.factories import make_event

    other = make_event(organiser, slug="other")
    layout = services.create_layout(other, name="Altro")
    with pytest.raises(ServiceError):
        printing.bulk_request(event, {"layout": [str(layout.pk)]})
