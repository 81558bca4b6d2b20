"""The ticket's look on the admin's event form (issue 13, item 10): a logo file, the brand
colour, practical information as one plain box per language and section, the languages; the
services' design rules, each error shown on its field."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from tickets.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def form_data(event: Event, **changes) -> dict:
    data = {
        "organiser": event.organiser_id, "name": event.name, "slug": event.slug,
        "description": "", "venue": event.venue, "address": event.address,
        "timezone": "Europe/Rome", "start_0": "2017-09-22", "start_1": "09:30:00",
        "end_0": "2017-09-22", "end_1": "17:00:00", "languages": ["it", "en"],
        "default_language": "it",
        "capacity": "", "registration_open": "on", "brand_color": "",
        "ticket_languages": "attendee",
        "ticket_types-TOTAL_FORMS": 0, "ticket_types-INITIAL_FORMS": 0,
        "ticket_types-MIN_NUM_FORMS": 0, "ticket_types-MAX_NUM_FORMS": 1000,
    }
    data.update(changes)
    return data


def upload(data: bytes, name: str = "logo.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/png")


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (1200, 400), (10, 120, 60, 128)).save(out, format="PNG")
    return out.getvalue()


def test_the_form_shows_the_design_fields(browser, event):
    html = browser.get(f"/admin/tickets/event/{event.pk}/change/").content.decode()
    for name in ("logo_file", "remove_logo", "brand_color", "ticket_languages",
                 "info_it_directions", "info_en_contact"):
        assert f'name="{name}"' in html, name
    assert 'enctype="multipart/form-data"' in html
    assert 'name="practical_info"' not in html  # no raw JSON box


def test_saving_the_design(browser, event):
    url = f"/admin/tickets/event/{event.pk}/change/"
    response = browser.post(url, form_data(
        event, logo_file=upload(png()), brand_color="#0A783C", ticket_languages="all",
        info_it_directions="Metro M1 Lima\r\nTram 5", info_en_directions="Underground M1 Lima",
        info_it_contact="", info_en_programme="  ",
    ))
    assert response.status_code == 302, response.content.decode()[:2000]
    event.refresh_from_db()
    assert event.brand_color == "#0a783c" and event.ticket_languages == "all"
    assert event.practical_info == {"it": {"directions": "Metro M1 Lima\nTram 5"},
                                    "en": {"directions": "Underground M1 Lima"}}
    image = Image.open(io.BytesIO(bytes(event.logo)))
    assert (image.format, image.mode, image.size) == ("PNG", "RGB", (600, 200))
    # The boxes show what is stored; saving again without a file keeps the logo.
    html = browser.get(url).content.decode()
    assert "Metro M1 Lima" in html
    assert browser.post(url, form_data(event, info_it_directions="Altro")).status_code == 302
    event.refresh_from_db()
    assert event.logo and event.practical_info == {"it": {"directions": "Altro"}}
    assert browser.post(url, form_data(event, remove_logo="on")).status_code == 302
    event.refresh_from_db()
    assert not event.logo


# The console's default language (Italian): the services' refusals are shown translated.
@pytest.mark.parametrize(("changes", "message"), [
    ({"logo_file": upload(b"%PDF-1.4", "logo.pdf")}, "immagine PNG, JPEG, GIF o WebP"),
    ({"brand_color": "verde"}, "#rrggbb"),
    ({"info_it_contact": "x" * 201}, "200"),
    ({"info_en_programme": "a\u202eb"}, "carattere di formattazione invisibile (U+202E)"),
])
def test_bad_design_is_shown_on_the_form_and_nothing_saved(browser, event, changes, message):
    response = browser.post(f"/admin/tickets/event/{event.pk}/change/",
                            form_data(event, **changes))
    assert response.status_code == 200 and message in response.content.decode()
    event.refresh_from_db()
    assert not event.logo and not event.brand_color and not event.practical_info
