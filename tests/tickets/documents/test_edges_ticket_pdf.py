"""The edges hold (issue 10): any name prints on the ticket PDF, inside the page, with glyphs.

Each ticket is rendered, opened with PDFium (pypdfium2) and checked character by character:
the name's text comes back whole (never cut), every character's box is inside the page and
inside the attendee column, and every character is drawn with an *embedded* font (a subset)
whose installed file has a glyph for it (no tofu box, no font the reader must supply).
The fonts come from Debian packages the project installs (``make fonts``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from reportlab.pdfbase.ttfonts import TTFontFile

from tests.support.ticket_files import pdf_chars
from tickets import services
from tickets.documents import pdf

pytestmark = pytest.mark.django_db

LONG = "Wolfeschlegelsteinhausenbergerdorff" * 6  # 210 letters, no space...
LONG = LONG[:200]  # ...cut to the 200 a name may have
NAMES = {
    "long-unbroken": LONG,
    "long-wide-unbroken": "W" * 200,
    "chinese": "王秀英",
    "japanese": "山田 たろう",
    "korean": "김민준",
    "arabic": "محمد علي",
    "hebrew": "דוד כהן",
    "devanagari": "अनुष्का शर्मा",
    "thai": "สมชาย ใจดี",
    "emoji-and-latin": "Anna 😀🎉 Rossi",
    "mixed": "Ελένη Żółć 王 Иван",
}


def _font_file_for(base_name: str) -> Path | None:
    """The installed font file behind a PDF font name such as ``ABCDEF+NotoSansThai-Regular``."""
    name = base_name.split("+", 1)[-1]
    candidates = [pdf.FONT_DIR / f"{name}.ttf"]
    candidates += [pdf.SYSTEM_FONTS / path for _, path in pdf.FALLBACK_FONTS
                   if Path(path).stem.replace("_hint", "") in name or name in Path(path).stem]
    return next((c for c in candidates if c.exists()), None)


@pytest.fixture(scope="module")
def coverage():
    cache: dict[Path, set[int]] = {}

    def covers(path: Path, char: str) -> bool:
        if path not in cache:
            cache[path] = set(TTFontFile(str(path)).charToGlyph)
        return ord(char) in cache[path]

    return covers


@pytest.mark.parametrize("name", list(NAMES.values()), ids=list(NAMES))
def test_any_name_prints_whole_inside_the_page_with_embedded_glyphs(register, name, coverage):
    ticket = register(name=name, email="someone@example.org")
    document = pdf.render_ticket_pdf(ticket, services.ticket_code(ticket))
    chars, width, height = pdf_chars(document)
    text = "".join(c for c, *_ in chars)
    # The name comes back whole (wrapped lines are joined by the extraction's line breaks).
    compact = "".join(text.split())
    expected = "".join(name.split())
    if any("\u0590" <= c <= "\u0e7f" for c in name):
        # Shaped scripts: glyphs in visual order, and a conjunct or ligature glyph carries
        # one of its letters in the text layer, so compare letters, most of which are there.
        assert len(set(expected) & set(compact)) >= len(set(expected)) * 2 // 3, compact
    else:
        assert expected in compact, compact[:400]
    if any("\u0590" <= c <= "\u08ff" for c in name):  # joined, right to left: shaped fonts
        assert {f.split("+")[-1] for c, _, f, _ in chars if "\u0590" <= c <= "\u08ff"} < {
            "NotoSansArabic-Regular", "NotoSansHebrew-Regular"}
    for char, (left, right, bottom, top), font, embedded in chars:
        if char.isspace():
            continue
        assert 0 <= left <= right <= width and 0 <= bottom <= top <= height, (char, left, right)
        assert right <= width - pdf.MARGIN + 1, (char, right)  # inside the content column
        assert embedded, (char, font)
        if char in name:
            path = _font_file_for(font)
            assert path is not None, (char, font)
            assert coverage(path, char), (char, font)  # the glyph exists: no tofu box


def test_a_latin_name_is_one_string_in_dejavu(register):
    """The common case draws as before: one DejaVu run, one line at the largest size."""
    assert pdf._runs("Giulia Rossi", pdf.BOLD) == [(pdf.BOLD, "Giulia Rossi")]
    assert pdf._fit("Giulia Rossi", pdf.BOLD, (17, 15, 13, 11), 300, 12) == (17, ["Giulia Rossi"])
    size, lines = pdf._fit(LONG, pdf.BOLD, (17, 15, 13, 11), pdf.DETAILS_W, 11 * pdf.LEADING)
    assert "".join(lines) == LONG and len(lines) > 1
    assert (len(lines) - 1) * size * pdf.LEADING <= 11 * pdf.LEADING


def test_long_event_texts_stay_inside_the_page(organiser):
    from tests.support.factories import make_event
    from tickets.models import TicketType

    event = make_event(organiser, slug="long", name="Conferenza" * 20, venue="Teatro" * 33,
                       address="Via" * 100)
    TicketType.objects.create(event=event, name="Ingresso" * 25)
    ticket = services.register(event, services.Registration("Anna", "anna@example.org"))
    chars, width, height = pdf_chars(pdf.render_ticket_pdf(ticket, services.ticket_code(ticket)))
    compact = "".join(c for c, *_ in chars if not c.isspace())
    for text in (event.name, event.venue, event.address, "Ingresso" * 25):
        assert text in compact  # never cut
    for char, (left, right, bottom, top), _font, _embedded in chars:
        assert 0 <= left <= right <= width - pdf.MARGIN + 1, (char, right)
        assert 0 <= bottom <= top <= height, (char, bottom, top)
