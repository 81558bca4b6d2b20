"""``badges.documents.widths`` replaces reportlab's per-line measuring with sums of font units:
these tests prove it gives the library's own numbers (``pdfmetrics.stringWidth``) bit for bit,
wraps exactly as ``typesetting.wrap`` does, and leaves ``fit_box``'s answers unchanged."""

from __future__ import annotations

import random

import pytest
from reportlab.pdfbase import pdfmetrics

from badges.documents import badge as badges
from badges.documents import widths
from badges.documents.presets import PRESETS
from badges.models import BadgeLayout
from tickets.documents.typesetting import BOLD, REGULAR, fonts, wrap
from tickets.models import Event

NAMES = [
    "Giulia Rossi", "Maria Giovanna Bianchi-Esposito", "Francesco De Santis",
    "Anna Maria Wolfeschlegelsteinhausenbergerdorff", "Zoë Ñúñez-O'Connor", "Łukasz Żółć",
    "Ελένη Παπαδοπούλου", "Дмитрий Иванов", "Jose\u0301 Garci\u0301a",  # combining accents
    ("Wolfeschlegelsteinhausenbergerdorff" * 6)[:200], ("Maria Giovanna Bianchi " * 9)[:200],
    "a  b   c", " leading and trailing ", "", "W" * 60, "x",
]
ALPHABET = "aeiouWMlijnrstAEÉèàòù-'.  ,ÆßЖΩ\u0301"


def _random_names(count: int) -> list[str]:
    rng = random.Random(15)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 90)))
            for _ in range(count)]


@pytest.fixture(scope="module", autouse=True)
def _fonts():
    fonts()


@pytest.mark.parametrize("font", [BOLD, REGULAR])
def test_widths_are_the_librarys_bit_for_bit(font):
    rng = random.Random(1)
    sizes = [2.5, 7.0, 13.64, 34.142740157480326, 100, *(rng.uniform(2, 60) for _ in range(40))]
    checked = 0
    for text in NAMES + _random_names(300):
        ready = widths.prepared(text, font)
        assert ready is not None, text
        for word, units in zip(ready.words, ready.units, strict=True):
            for size in sizes:
                assert ready.width(units, size) == pdfmetrics.stringWidth(word, font, size)
                checked += 1
        whole = sum(ready.units) + ready.space * (len(ready.words) - 1)
        for size in sizes:
            assert ready.width(whole, size) == pdfmetrics.stringWidth(text, font, size), text
    assert checked > 10_000


@pytest.mark.parametrize("font", [BOLD, REGULAR])
def test_wrapping_is_typesettings_line_for_line(font):
    rng = random.Random(2)
    compared = 0
    for text in NAMES + _random_names(200):
        ready = widths.prepared(text, font)
        for _ in range(12):
            size, width = rng.uniform(2.5, 40), rng.uniform(5, 200)
            assert ready.wrap(size, width) == wrap(text, font, size, width), (text, size, width)
            compared += 1
        # A width exactly equal to a line's measured width: the tie breaks the same way.
        size = 11.5
        width = pdfmetrics.stringWidth(ready.words[0], font, size)
        assert ready.wrap(size, width) == wrap(text, font, size, width), text
    assert compared > 2_000


def test_texts_the_library_must_measure_are_not_prepared():
    assert widths.prepared("محمد علي", BOLD) is None  # a fallback font's run, shaped
    assert widths.prepared("Anna 王秀英", BOLD) is None
    assert widths.prepared("Anna", "Helvetica") is None  # not a TrueType font


@pytest.mark.parametrize("preset", list(PRESETS))
def test_fit_box_answers_as_with_the_library(preset, monkeypatch):
    layout = BadgeLayout(event=Event(pk=1, name="t"), name="t", preset=preset,
                         show_lead_qr=True)
    geometry = badges._geometry(badges.LayoutSpec.of(layout), False)
    boxes = [(geometry.name, geometry.name_max, BOLD)]
    if geometry.organisation is not None:
        boxes.append((geometry.organisation, geometry.organisation_max, REGULAR))
    texts = NAMES + [f"{name} {i}" for i, name in enumerate(NAMES[:4] * 5)] + _random_names(60)
    fast = [badges.fit_box(text, font, largest, box)
            for box, largest, font in boxes for text in texts]
    monkeypatch.setattr(widths, "prepared", lambda text, font: None)
    slow = [badges.fit_box(text, font, largest, box)
            for box, largest, font in boxes for text in texts]
    assert fast == slow
    assert any(len(lines) > 1 for _size, lines in fast)  # the wrapping path was exercised
