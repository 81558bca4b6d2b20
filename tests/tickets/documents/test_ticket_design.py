"""The ticket PDF as an organiser designs it (issue 13, item 10): logo, brand colour, practical
information, one language or all of them; whatever the texts' lengths, nothing is drawn
outside the page's margins (checked on the page rendered by poppler's ``pdftoppm``, and glyph
by glyph with PDFium) and the QR code still decodes."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from PIL import Image, ImageDraw

from tests.support.factories import make_event
from tests.support.ticket_files import pdf_chars, pdf_qr_codes, pdf_text
from tickets import services
from tickets.documents import logo as logos
from tickets.documents import pdf
from tickets.models import TicketType

pytestmark = pytest.mark.django_db

LONG_NAME = ("Wolfeschlegelsteinhausenbergerdorff " * 6)[:200]
FULL_INFO = {
    language: {section: "\n".join([("Lungo testo " * 80)[: limit // 12]] * 11)[:limit]
               for section, limit in services.PRACTICAL_SECTIONS.items()}
    for language in ("it", "en")
}
DPI = 72  # one pixel per point: page coordinates are pixel coordinates


def logo_png() -> bytes:
    image = Image.new("RGBA", (900, 300), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((10, 10, 290, 290), fill=(200, 30, 60, 255))
    draw.rectangle((320, 100, 880, 200), fill=(20, 20, 20, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def designed(organiser, slug="designed", **fields):
    event = make_event(organiser, slug=slug, **fields)
    TicketType.objects.create(event=event, name="Ingresso", name_i18n={"en": "Admission"})
    return event


def ticket_of(event, name="Giulia Rossi", language="en", email="giulia@example.org"):
    return services.register(event, services.Registration(name, email, "Coop", language))


def raster(document: bytes, tmp_path) -> Image.Image:
    """The page as poppler draws it (another renderer than the tests' PDFium)."""
    source = tmp_path / "ticket.pdf"
    source.write_bytes(document)
    subprocess.run([shutil.which("pdftoppm") or "pdftoppm", "-r", str(DPI), "-png",
                    "-singlefile", str(source), str(tmp_path / "page")], check=True,
                   timeout=60)
    return Image.open(tmp_path / "page.png").convert("RGB")


def ink_box(image: Image.Image) -> tuple[int, int, int, int]:
    """The bounding box (left, top, right, bottom, in pixels from the top-left) of
    everything not white."""
    inverted = Image.eval(image.convert("L"), lambda v: 255 if v < 250 else 0)
    return inverted.getbbox()


@pytest.mark.parametrize("mode", ["attendee", "all"])
def test_long_texts_stay_inside_the_margins_on_the_rendered_page(organiser, tmp_path, mode):
    event = designed(organiser, name=("Conferenza nazionale " * 10)[:200],
                     venue="Teatro" * 33, address="Via " * 75, practical_info=FULL_INFO,
                     logo=logo_png(), brand_color="#1d4e89", ticket_languages=mode)
    ticket = ticket_of(event, name=LONG_NAME, email="long@example.org")
    document = pdf.render_ticket_pdf(ticket, services.ticket_code(ticket))
    image = raster(document, tmp_path)
    width, height = image.size
    assert abs(width - pdf.PAGE_W) <= 1 and abs(height - pdf.PAGE_H) <= 1, (width, height)
    left, top, right, bottom = ink_box(image)
    margin = pdf.MARGIN
    assert left >= margin - 1 and right <= width - margin + 1, (left, right)
    assert top >= margin - 1 and bottom <= height - margin + 1, (top, bottom)
    # The practical information reached the lower half: the page is used, not half of it.
    assert bottom > height * 0.75
    # The name is whole in the text layer, and its glyphs are inside the details column.
    chars, page_w, page_h = pdf_chars(document)
    compact = "".join(c for c, *_ in chars if not c.isspace())
    assert "".join(LONG_NAME.split()) in compact
    name_chars = [box for c, box, *_ in chars if c in "Wolfeschlgtinaubrd"]
    for x0, x1, y0, y1 in name_chars:
        assert margin - 1 <= x0 <= x1 <= page_w - margin + 1
        assert margin - 1 <= y0 <= y1 <= page_h - margin + 1
    assert pdf_qr_codes(document) == [services.ticket_code(ticket)]


@pytest.mark.parametrize("color", ["#1d4e89", "#e8b400", "#000000", "#ffffff"])
def test_the_qr_code_decodes_in_every_design(organiser, color):
    event = designed(organiser, logo=logo_png(), brand_color=color, ticket_languages="all",
                     practical_info=FULL_INFO)
    ticket = ticket_of(event)
    assert pdf_qr_codes(pdf.render_ticket_pdf(ticket, services.ticket_code(ticket))) == [
        services.ticket_code(ticket)]


def test_logo_and_brand_colour_are_printed(organiser, tmp_path):
    event = designed(organiser, logo=logo_png(), brand_color="#2a7f3b")
    ticket = ticket_of(event)
    image = raster(pdf.render_ticket_pdf(ticket, services.ticket_code(ticket)), tmp_path)
    band = image.getpixel((int(pdf.MARGIN + 2), int(pdf.MARGIN + 2)))
    assert band == (0x2A, 0x7F, 0x3B)
    x, y, w, h = pdf._plan_for(event, ("en",)).logo_box
    box = image.crop((int(x), int(pdf.PAGE_H - y - h), int(x + w), int(pdf.PAGE_H - y)))
    pixels = box.tobytes()
    reds = sum(1 for i in range(0, len(pixels), 3)
               if pixels[i] > 150 and pixels[i + 1] < 80 and pixels[i + 2] < 100)
    assert reds > 200  # the logo's red disc, where the logo goes


def test_the_attendees_language_or_all_of_them(organiser):
    info = {"it": {"directions": "Metropolitana M1 Lima"},
            "en": {"directions": "Underground M1 Lima"}}
    one = designed(organiser, slug="one", practical_info=info)
    both = designed(organiser, slug="both", practical_info=info, ticket_languages="all")
    for event in (one, both):
        for language in ("it", "en"):
            ticket = ticket_of(event, language=language, email=f"{language}@example.org")
            text = pdf_text(pdf.render_ticket_pdf(ticket, services.ticket_code(ticket)))
            italian = "Biglietto d'ingresso" in text and "Metropolitana M1 Lima" in text \
                and "venerdì 22 settembre 2017" in text and "Come arrivare" in text
            english = "Admission ticket" in text and "Underground M1 Lima" in text \
                and "Friday 22 September 2017" in text and "How to get there" in text
            if event is both:
                assert italian and english, text
                assert text.index("Biglietto d'ingresso") < text.index("Admission ticket")
                assert "Partecipante / Attendee" in text and "Ingresso / Admission" in text
            else:
                assert (italian, english) == (language == "it", language == "en"), text


def test_practical_info_in_another_language_rather_than_none(organiser):
    event = designed(organiser, practical_info={"it": {"contact": "segreteria@example.org"}})
    ticket = ticket_of(event, language="en")
    text = pdf_text(pdf.render_ticket_pdf(ticket, services.ticket_code(ticket)))
    assert "segreteria@example.org" in text and "Admission ticket" in text


def test_prepared_once_per_event_version(organiser):
    event = designed(organiser, logo=logo_png(), practical_info={"it": {"contact": "x"}})
    first = logos.prepared_logo(event)
    assert logos.prepared_logo(event) is first  # decoded and deflated once
    before = pdf._plan.cache_info()
    for index in range(3):
        ticket = ticket_of(event, email=f"p{index}@example.org")
        pdf.render_ticket_pdf(ticket, services.ticket_code(ticket))
    after = pdf._plan.cache_info()
    assert after.misses - before.misses == 1 and after.hits - before.hits == 2
    # A new logo is a new version: never the old picture.
    image = Image.new("RGB", (50, 50), (0, 0, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    services.update_event(event, {"logo": out.getvalue(), "brand_color": "#000000"})
    event.refresh_from_db()
    assert logos.prepared_logo(event) is not first
    assert logos.prepared_logo(event).width == 50


def test_a_photograph_logo_stays_small_in_every_pdf(organiser, client):
    import random

    rng = random.Random(7)
    photo = Image.frombytes("RGB", (500, 250), bytes(rng.getrandbits(8) for _ in range(375000)))
    out = io.BytesIO()
    photo.save(out, format="JPEG", quality=60)
    assert len(out.getvalue()) < services.LOGO_MAX_BYTES
    stored = services.clean_logo(out.getvalue())
    assert stored.startswith(b"\xff\xd8") and len(stored) < 160 * 1024  # JPEG, not a PNG
    event = designed(organiser, logo=out.getvalue())
    ticket = ticket_of(event)
    document = pdf.render_ticket_pdf(ticket, services.ticket_code(ticket))
    assert len(document) < len(stored) + 60 * 1024  # the JPEG embedded once, as it is
    assert pdf_qr_codes(document) == [services.ticket_code(ticket)]
    response = client.get(f"/e/{event.slug}/logo")
    assert response["Content-Type"] == "image/jpeg" and response.content == stored
