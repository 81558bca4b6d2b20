"""The ticket's look through the organiser API (issue 13, item 10): logo, brand colour,
practical information and the ticket's languages on the event serializer; every bad input a
4xx with the one JSON error body; the rules are tickets.services.event_design's."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from tests.support.api_errors import assert_error
from tickets import services
from tickets.models import Event

pytestmark = pytest.mark.django_db
V1 = "/api/v1"


def png(size=(900, 300), color=(200, 30, 60, 255), mode="RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, format="PNG")
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_setting_and_reading_the_design(api, event):
    info = {"it": {"directions": "Metro M1 Lima\r\nTram 5", "contact": " info@example.org "},
            "en": {"programme": "09:30 welcome", "contact": ""}}
    response = api.patch(f"{V1}/events/{event.pk}/", {
        "logo": "data:image/png;base64," + b64(png()), "brand_color": "#E8B400",
        "practical_info": info, "ticket_languages": "all",
    }, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert "logo" not in body  # write-only: read it at logo_url
    assert body["brand_color"] == "#e8b400" and body["ticket_languages"] == "all"
    assert body["practical_info"] == {
        "it": {"directions": "Metro M1 Lima\nTram 5", "contact": "info@example.org"},
        "en": {"programme": "09:30 welcome"},
    }
    event.refresh_from_db()
    stored = bytes(event.logo)
    image = Image.open(io.BytesIO(stored))
    # Normalised: a flat RGB PNG within the stored bounds, whatever was uploaded.
    assert (image.format, image.mode) == ("PNG", "RGB")
    assert image.size == (600, 200)
    logo = api.get(body["logo_url"])
    assert logo.status_code == 200 and logo["Content-Type"] == "image/png"
    assert logo.content == stored and "immutable" in logo["Cache-Control"]
    # Removing the logo.
    response = api.patch(f"{V1}/events/{event.pk}/", {"logo": None}, format="json")
    assert response.json()["logo_url"] is None
    assert api.get(body["logo_url"]).status_code == 404


def test_created_with_a_design(api, organiser):
    response = api.post(f"{V1}/events/", {
        "organiser": organiser.pk, "name": "Con logo", "slug": "con-logo",
        "start": "2027-03-01T09:00", "end": "2027-03-01T18:00",
        "logo": b64(png((40, 40))), "brand_color": "#abc",
    }, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["brand_color"] == "#aabbcc"
    assert response.json()["ticket_languages"] == "attendee"
    assert Event.objects.get(slug="con-logo").logo


@pytest.mark.parametrize(("change", "field"), [
    ({"logo": b64(b"%PDF-1.4 not an image")}, "logo"),
    ({"logo": "not base64 at all!"}, "logo"),
    ({"logo": b64(b"GIF89a" + b"\x00" * 20)}, "logo"),  # a truncated image
    ({"brand_color": "blue"}, "brand_color"),
    ({"brand_color": "#12345g"}, "brand_color"),
    ({"brand_color": "#1234567"}, "brand_color"),
    ({"practical_info": {"de": {"contact": "x"}}}, "practical_info"),
    ({"practical_info": {"it": {"parking": "x"}}}, "practical_info"),
    ({"practical_info": {"it": {"contact": "x" * 201}}}, "practical_info"),
    ({"practical_info": {"it": {"programme": "\n".join("a" * 13)}}}, "practical_info"),
    ({"practical_info": {"it": {"contact": "bidi \u202e override"}}}, "practical_info"),
    ({"practical_info": {"it": "just text"}}, "practical_info.it"),  # nested: named so
    ({"ticket_languages": "both"}, "ticket_languages"),
    ({"logo_bytes": "x"}, "logo_bytes"),  # strict fields: an unknown one is refused
])
def test_bad_design_input_is_a_400_naming_the_field(api, event, change, field):
    response = api.patch(f"{V1}/events/{event.pk}/", change, format="json")
    assert_error(response, 400, field=field)
    event.refresh_from_db()
    assert not event.logo and not event.brand_color and not event.practical_info


def _noise_png(side: int) -> bytes:
    pixels = (bytes(range(256)) * side * side)[: side * side * 3]
    noisy = Image.frombytes("RGB", (side, side), pixels)
    out = io.BytesIO()
    noisy.save(out, format="PNG", compress_level=0)
    return out.getvalue()


def test_a_huge_logo_is_refused_with_the_json_body(api, event):
    # Over the logo's limit, within the body limit: the service's 400 names the field.
    big = _noise_png(240)
    assert len(big) > services.LOGO_MAX_BYTES and len(b64(big)) < 256 * 1024
    body = assert_error(api.patch(f"{V1}/events/{event.pk}/", {"logo": b64(big)},
                                  format="json"), 400, field="logo", code="too_big")
    assert "160 KB" in body["fields"]["logo"][0]
    # Past the body limit: the request layer's 413, the same JSON shape, nothing read.
    assert_error(api.patch(f"{V1}/events/{event.pk}/", {"logo": b64(_noise_png(400))},
                           format="json"), 413)
    event.refresh_from_db()
    assert not event.logo


def test_a_decompression_bomb_is_refused_unread(api, event):
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, format="PNG", optimize=True)  # ~50 KB, 400 Mpx
    assert len(out.getvalue()) < services.LOGO_MAX_BYTES
    assert_error(api.patch(f"{V1}/events/{event.pk}/", {"logo": b64(out.getvalue())},
                           format="json"), 400, field="logo")


def test_the_services_apply_the_same_rules_to_every_way_in(organiser):
    from core.errors import ServiceError
    from tests.support.factories import make_event

    event = make_event(organiser, brand_color="#FFF")
    assert event.brand_color == "#ffffff"
    with pytest.raises(ServiceError) as refused:
        services.update_event(event, {"logo": b"<svg/>"})
    assert refused.value.field == "logo"
    # And the database holds the colour's format whatever writes it.
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.filter(pk=event.pk).update(brand_color="red")
