"""Badges on every medium: any name prints whole and inside the badge, the QR is the lead
code (never the entry code), and nothing is drawn outside the badge's slot on a sheet.

Checked on the PDF as a reader sees it: PDFium's character boxes (text positions) and
poppler's ``pdftoppm`` raster (pixels), as the ticket PDF's edge tests do.
"""

from __future__ import annotations

import subprocess

import pytest
from PIL import Image

from badges import lead, selectors, services
from badges.documents import badge as badges
from badges.documents.presets import PRESETS
from badges.models import BadgeLayout
from tests.support.ticket_files import pdf_chars, pdf_qr_codes
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db

LONG = ("Wolfeschlegelsteinhausenbergerdorff" * 6)[:200]  # 200 letters, no space
NAMES = {
    "long-unbroken": LONG,
    "long-words": ("Maria Giovanna Bianchi Esposito " * 7)[:200],
    "arabic": "محمد علي",
    "chinese": "王秀英",
    "greek": "Ελένη Παπαδοπούλου",
}


def _layout(event, preset: str, **fields) -> BadgeLayout:
    return BadgeLayout(event=event, name="t", preset=preset, **fields)


def _badge(name: str, organisation: str = "Coop Il Sole", code: str = "VL1-1-1-0123456789ABCDEF"
           ) -> badges.BadgeData:
    return badges.BadgeData(1, name, organisation, "Ingresso", "#ffd400", code)


def _inside(chars, width, height, margin) -> None:
    for char, (left, right, bottom, top), _font, embedded in chars:
        if char.isspace():
            continue
        assert margin - 0.5 <= left <= right <= width - margin + 0.5, (char, left, right)
        assert 0 <= bottom <= top <= height - margin + 0.5, (char, bottom, top)
        assert embedded, char


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("name", list(NAMES.values()), ids=list(NAMES))
def test_any_name_prints_whole_inside_the_badge(event, preset, name):
    layout = _layout(event, preset, show_lead_qr=True)
    document = badges.render_badge(layout, event, _badge(name))
    chars, _page_w, _page_h = pdf_chars(document)
    spec = PRESETS[preset]
    x0, y0 = spec.slot_origin(0)
    badge_w, badge_h = spec.badge
    # Characters relative to the badge (on a sheet, the first slot).
    moved = [(c, (left - x0, right - x0, bottom - y0, top - y0), f, e)
             for c, (left, right, bottom, top), f, e in chars]
    _inside(moved, badge_w, badge_h, spec.margin)
    text = "".join(c for c, *_ in chars)
    compact, expected = "".join(text.split()), "".join(name.split())
    if any("\u0590" <= c <= "\u08ff" for c in name):  # shaped: letters, in visual order
        assert len(set(expected) & set(compact)) >= len(set(expected)) * 2 // 3, compact
    else:
        assert expected in compact, compact[:300]
    assert "CoopIlSole" in compact and "Ingresso" in compact


def test_a_long_name_shrinks_then_wraps_within_its_box(event):
    a6 = badges._geometry(badges.LayoutSpec("a6", "it", True, True, False), False)
    size, lines = badges.fit_box("Giulia Rossi", badges.BOLD, a6.name_max, a6.name)
    assert (size, lines) == (a6.name_max, ["Giulia Rossi"])  # the common case: full size
    geometry = badges._geometry(badges.LayoutSpec("a4-8x90x54", "it", True, True, True), False)
    box = geometry.name
    size, lines = badges.fit_box("Maria Giovanna Bianchi-Esposito", badges.BOLD,
                                 geometry.name_max, box)
    assert len(lines) <= 2 and size < geometry.name_max
    size, lines = badges.fit_box(LONG, badges.BOLD, geometry.name_max, box)
    assert "".join(lines) == LONG  # not cut short
    assert all(badges.measure(line, badges.BOLD, size) <= box.w for line in lines)
    assert badges._block_height(size, len(lines)) <= box.h


def _raster(document: bytes, tmp_path) -> Image.Image:
    pdf = tmp_path / "badge.pdf"
    pdf.write_bytes(document)
    subprocess.run(["pdftoppm", "-r", "72", "-png", "-singlefile", str(pdf),
                    str(tmp_path / "badge")], check=True, timeout=60)
    return Image.open(tmp_path / "badge.png").convert("L")


@pytest.mark.parametrize("name", [LONG, "王秀英 Ελένη محمد"], ids=["long", "scripts"])
def test_on_a_sheet_nothing_is_drawn_outside_the_first_slot(event, name, tmp_path):
    spec = PRESETS["a4-8x90x54"]
    document = badges.render_badge(_layout(event, spec.key, show_lead_qr=True), event,
                                   _badge(name))
    image = _raster(document, tmp_path)
    page_w, page_h = image.size  # 72 dpi: a pixel is a point
    x0, y0 = spec.slot_origin(0)
    left, right = int(x0), int(x0 + spec.badge[0]) + 1
    top, bottom = int(page_h - y0 - spec.badge[1]), int(page_h - y0) + 1
    dark = [(x, y) for y in range(0, page_h, 2) for x in range(0, page_w, 2)
            if image.getpixel((x, y)) < 200]
    assert dark, "nothing drawn"
    outside = [(x, y) for x, y in dark if not (left <= x <= right and top <= y <= bottom)]
    assert outside == []
    # The name's area is inked (the name is drawn, not only the frame and the band).
    name_box = badges._geometry(badges.LayoutSpec.of(_layout(event, spec.key,
                                                             show_lead_qr=True)), False).name
    inked = [(x, y) for x, y in dark
             if x0 + name_box.x <= x <= x0 + name_box.x + name_box.w
             and page_h - y0 - name_box.top <= y <= page_h - y0 - name_box.y]
    assert len(inked) > 20


@pytest.mark.parametrize("preset", list(PRESETS))
def test_the_qr_is_the_lead_code_not_the_entry_code(register, event, preset):
    ticket = register()
    layout = _layout(event, preset, show_lead_qr=True)
    data = selectors.badge_for(ticket, layout.language)
    codes = pdf_qr_codes(badges.render_badge(layout, event, data), scale=3)
    assert codes == [lead.lead_code(event.pk, ticket.pk)]
    assert ticket_services.ticket_code(ticket) not in codes
    assert lead.parse_lead_code(codes[0]) == (event.pk, ticket.pk)


def test_without_the_option_there_is_no_qr(register, event):
    ticket = register()
    layout = _layout(event, "a6", show_lead_qr=False)
    document = badges.render_badge(layout, event, selectors.badge_for(ticket, "it"))
    assert pdf_qr_codes(document, scale=3) == []


@pytest.mark.parametrize(("language", "caption", "type_name"), [
    ("it", "Scansiona per il mio contatto", "Ingresso"),
    ("en", "Scan for my contact", "Admission"),
])
def test_labels_follow_the_layout_language(register, event, language, caption, type_name):
    ticket = register()
    layout = _layout(event, "a6", show_lead_qr=True, language=language)
    document = badges.render_badge(layout, event, selectors.badge_for(ticket, language))
    chars, *_ = pdf_chars(document)
    text = "".join(c for c, *_ in chars)
    assert caption.replace(" ", "") in "".join(text.split())
    assert type_name in text


def test_band_colour_and_its_readable_text(event, ticket_type):
    assert badges.text_colour("#ffd400") == "#000000"  # yellow: black text
    assert badges.text_colour("#1d4e89") == "#ffffff"  # dark blue: white text
    assert selectors.band_colours(event)[ticket_type.pk] == badges.PALETTE[0]
    services.set_colour(ticket_type, "#B3261E")
    assert selectors.band_colours(event)[ticket_type.pk] == "#b3261e"


def test_geometry_is_prepared_once_per_layout_content(event):
    badges._geometry.cache_clear()
    layout = _layout(event, "a6")
    for _ in range(3):
        badges.render_badge(layout, event, _badge("Giulia Rossi"))
    assert badges._geometry.cache_info().misses == 1
    layout.preset = "ql-62"  # an edited layout: new geometry
    badges.render_badge(layout, event, _badge("Giulia Rossi"))
    assert badges._geometry.cache_info().misses == 2


def test_the_events_logo_when_there_is_one(event, tmp_path):
    """The logo the ticket prints (``Event.logo``) is drawn in the header, the event's name
    beside it, everything inside the badge; without one, or with ``show_logo`` off, none."""
    import io as _io

    spec = PRESETS["a6"]
    without = badges.render_badge(_layout(event, "a6"), event, _badge("Giulia Rossi"))
    assert b"/Subtype /Image" not in without
    png = _io.BytesIO()
    Image.new("RGB", (600, 300), "#b3261e").save(png, "PNG")
    event.logo = png.getvalue()
    event.save(update_fields=["logo"])
    with_logo = badges.render_badge(_layout(event, "a6"), event, _badge("Giulia Rossi"))
    hidden = badges.render_badge(_layout(event, "a6", show_logo=False), event,
                                 _badge("Giulia Rossi"))
    assert b"/Subtype /Image" in with_logo and b"/Subtype /Image" not in hidden
    chars, _w, _h = pdf_chars(with_logo)
    _inside(chars, *spec.badge, spec.margin)
    header = badges._geometry(badges.LayoutSpec.of(_layout(event, "a6")), True)
    first = next(box for c, box, *_ in chars if c == "M")  # "Ma come gira..."
    assert first[0] >= header.title.x - 0.5  # the name starts right of the logo
    image = _raster(with_logo, tmp_path)
    red = image.getpixel((int(header.logo.x + 5), int(spec.page[1] - header.logo.top
                                                        + header.logo.h / 2)))
    assert red < 150  # the logo's colour, in grey levels
