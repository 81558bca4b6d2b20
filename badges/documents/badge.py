"""Name badges as PDF: one badge per ticket, on the layout's medium (``presets``).

Prepared once, like the ticket PDF (``tickets/documents/pdf.py``), whose typesetting it shares
(``tickets.documents.typesetting``: fonts registered once per process, every script, names fitted
by measured width):

- the geometry of a layout (the boxes of header, name, organisation, QR and band, the sizes
  the name may take, the QR caption in the layout's language) is computed once per distinct
  layout content (``_geometry`` is cached on the values it depends on, so a layout edited in
  the admin — a new ``version`` — gets new geometry and an unchanged one reuses it);
- texts that repeat (the event's name, organisations, ticket types) are fitted once
  (``_placed``); per badge only the name is measured — once: its words' widths in font
  units (``widths``), from which every candidate size's wrapping is sums — and the texts,
  band and QR drawn.

A badge, top to bottom: the header (the event's logo when it has one and the layout shows it,
then the event's name), the attendee's name (large; shrinking to fit, then on two lines, then
smaller still: never outside its box, never cut short), the organisation, and the ticket type
on a colour band along the bottom edge (black or white text, whichever contrasts more). With
``show_lead_qr`` a QR of the lead code (``badges.lead``; never the entry code) sits at the
right of the name, with a caption.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib.colors import Color, HexColor
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from badges.documents import logo as logos
from badges.documents import widths
from badges.documents.presets import PRESETS, Preset
from tickets.documents import qr
from tickets.documents.typesetting import BOLD, LEADING, REGULAR, draw_text, fonts
from tickets.documents.typesetting import text_width as measure
from tickets.documents.typesetting import wrap as wrap_text

INK = HexColor("#111111")
GREY = HexColor("#5f6b7a")
CUT = HexColor("#c8d0da")
# Band colours of ticket types that have none of their own, by the type's position.
PALETTE = ("#1d4e89", "#b3261e", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037",
           "#37474f")
ASCENT, DESCENT = 0.78, 0.24  # of the font size, DejaVu Sans (Noto and Droid stay within)
SMALLEST = 2.5  # points: below this a 200-character name could not fit a 90 x 54 badge


@dataclass(frozen=True, slots=True)
class BadgeData:
    """What one badge shows (built by ``badges.selectors``; the renderer reads no models)."""

    ticket_id: int
    name: str
    organisation: str
    ticket_type: str  # in the layout's language
    colour: str  # #RRGGBB
    lead_code: str


@dataclass(frozen=True, slots=True)
class Box:
    x: float
    y: float  # bottom
    w: float
    h: float

    @property
    def top(self) -> float:
        return self.y + self.h


@dataclass(frozen=True)
class Geometry:
    """A layout's boxes, relative to the badge's bottom-left corner (points)."""

    preset: Preset
    header: Box
    logo: Box | None
    title: Box  # the event's name
    name: Box
    name_max: float
    organisation: Box | None
    organisation_max: float
    qr: Box | None
    caption: str
    caption_size: float
    band: Box
    band_max: float


@dataclass(frozen=True)
class LayoutSpec:
    """The values of a ``BadgeLayout`` the drawing depends on (hashable: the cache key)."""

    preset: str
    language: str
    show_organisation: bool
    show_logo: bool
    show_lead_qr: bool

    @classmethod
    def of(cls, layout) -> LayoutSpec:
        return cls(layout.preset, layout.language, layout.show_organisation, layout.show_logo,
                   layout.show_lead_qr)


@functools.lru_cache(maxsize=128)
def _geometry(spec: LayoutSpec, has_logo: bool) -> Geometry:
    fonts()
    preset = PRESETS[spec.preset]
    width, height = preset.badge
    m = preset.margin
    inner_w = width - 2 * m
    band = Box(0, 0, width, max(8 * mm, height * 0.13))
    header_h = height * 0.15
    header = Box(m, height - m - header_h, inner_w, header_h)
    # Stored logos are at most 2:1 (600 x 300 px): a box twice as wide as high holds any.
    logo_w = min(2 * header_h, inner_w * 0.4)
    logo = Box(m, header.y, logo_w, header_h) if has_logo and spec.show_logo else None
    title_x = m + (logo_w + 2 * mm if logo else 0)
    title = Box(title_x, header.y, width - m - title_x, header_h)
    gap = 2 * mm
    body = Box(m, band.top + gap, inner_w, header.y - gap - band.top - gap)
    with translation.override(spec.language):
        caption = _("Scan for my contact")
    qr_box = None
    caption_size = max(4.0, min(6.5, body.h * 0.06))
    text = body
    if spec.show_lead_qr and height > width:
        # Portrait: the QR takes a row at the bottom right; the name keeps the full width.
        side = min(body.h * 0.3, inner_w * 0.34)
        qr_box = Box(m + inner_w - side, body.y + caption_size * 1.6, side, side)
        text = Box(m, qr_box.top + gap, inner_w, body.top - qr_box.top - gap)
    elif spec.show_lead_qr:
        # Landscape (labels, 90 x 54): the QR at the right, the texts beside it.
        side = min(body.h - caption_size * 1.6, inner_w * 0.34)
        qr_box = Box(m + inner_w - side, body.y + caption_size * 1.6, side, side)
        text = Box(m, body.y, inner_w - side - gap, body.h)
    if qr_box is not None:  # the caption never wider than the QR ("Scansiona per il...")
        caption_size = min(caption_size,
                           caption_size * qr_box.w / measure(caption, REGULAR, caption_size))
    if spec.show_organisation:
        name_h = text.h * 0.64
        organisation = Box(m, text.y, text.w, text.h - name_h - gap)
    else:
        name_h, organisation = text.h, None
    name = Box(m, text.top - name_h, text.w, name_h)
    return Geometry(
        preset=preset, header=header, logo=logo, title=title,
        name=name, name_max=min(40.0, name_h * 0.5),
        organisation=organisation,
        organisation_max=min(16.0, organisation.h * 0.45) if organisation else 0,
        qr=qr_box, caption=caption, caption_size=caption_size,
        band=band, band_max=min(18.0, band.h * 0.5),
    )


@functools.lru_cache(maxsize=64)
def _sizes(largest: float) -> tuple[float, ...]:
    """The candidate sizes from ``largest`` down (cached: a layout has a handful of boxes)."""
    sizes, size = [], largest
    while size > SMALLEST:
        sizes.append(round(size, 2))
        size *= 0.92
    return (*sizes, SMALLEST)


@functools.lru_cache(maxsize=16)
def _space_100(font: str) -> float:
    return measure(" ", font, 100)


def _block_height(size: float, lines: int) -> float:
    return (ASCENT + DESCENT) * size + (lines - 1) * size * LEADING


def fit_box(text: str, font: str, largest: float, box: Box,
            max_lines: int = 2) -> tuple[float, list[str]]:
    """The size and lines of ``text`` in ``box``: one line as large as it fits down to 60% of
    ``largest``, then up to ``max_lines`` lines, then as many lines as the box holds at the
    size that fits. Never wider or taller than the box (down to ``SMALLEST``); never cut."""
    sizes = _sizes(largest)
    # Widths grow linearly with the size: measured once, then scaled (most of a bulk print's
    # time was spent measuring the same long name at every candidate size).
    per_point = measure(text, font, 100) / 100
    for size in sizes:
        if size < largest * 0.6:
            break
        if _block_height(size, 1) <= box.h and per_point * size <= box.w - 0.01:
            return size, [text]
    # Wrapping at each candidate size below: by the words' widths measured once
    # (``widths``: the same numbers as the library's), else by measuring each line.
    ready = widths.prepared(text, font)
    wrap = ready.wrap if ready is not None else functools.partial(wrap_text, text, font)
    # ``max_lines`` lines hold at most their widths plus the spaces dropped at the breaks.
    slack = (max_lines - 1) * _space_100(font) / 100
    for size in sizes:
        if _block_height(size, max_lines) > box.h:
            continue
        if (per_point - slack) * size > max_lines * box.w:
            continue  # cannot fit in max_lines at this size: not worth wrapping
        lines = wrap(size, box.w)
        if len(lines) <= max_lines:
            return size, lines
    for size in sizes:
        if _block_height(size, 1) > box.h:
            continue
        lines = wrap(size, box.w)
        if _block_height(size, len(lines)) <= box.h:
            return size, lines
    return SMALLEST, wrap(SMALLEST, box.w)


def _draw_block(canvas: Canvas, text: str, font: str, largest: float, box: Box, x0: float,
                y0: float, max_lines: int = 2, centre: bool = True, repeats: bool = True) -> None:
    """``text`` fitted into ``box`` (offset by the badge's origin ``x0, y0``), centred
    vertically (and horizontally if ``centre``). ``repeats=False`` for the names: fitted
    afresh (caching a thousand unique names would only push out the texts that repeat)."""
    if not text:
        return
    place = _placed if repeats else _placed.__wrapped__
    for x, y, size, line in place(text, font, largest, box, max_lines, centre):
        draw_text(canvas, line, font, size, x0 + x, y0 + y)


@functools.lru_cache(maxsize=4096)
def _placed(text: str, font: str, largest: float, box: Box, max_lines: int = 2,
            centre: bool = True) -> tuple[tuple[float, float, float, str], ...]:
    """Each line of ``text`` fitted into ``box``: (x, baseline, size, line) in the badge.
    Cached: ticket types, organisations and the event's name repeat across a bulk print (263
    organisations for 1,000 people); only the names are measured every time."""
    size, lines = fit_box(text, font, largest, box, max_lines)
    pad = max(0.0, (box.h - _block_height(size, len(lines))) / 2)
    y = box.top - pad - ASCENT * size
    placed = []
    for line in lines:
        x = box.x
        if centre:
            x += max(0.0, (box.w - measure(line, font, size)) / 2)
        placed.append((x, y, size, line))
        y -= size * LEADING
    return tuple(placed)


@functools.lru_cache(maxsize=64)
def _colour(colour: str) -> Color:
    """A band's colour, parsed once per colour (a bulk print has a few ticket types)."""
    return HexColor(colour)


@functools.lru_cache(maxsize=64)
def _text_colour(colour: str) -> Color:
    """Black or white, whichever has the higher contrast ratio on ``colour`` (WCAG 2)."""
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    luminance = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    on_white = 1.05 / (luminance + 0.05)
    on_black = (luminance + 0.05) / 0.05
    return HexColor("#ffffff") if on_white >= on_black else HexColor("#000000")


def text_colour(colour: str) -> str:
    """The band text's colour for a band of ``colour``, as #rrggbb."""
    return _text_colour(colour.lower()).hexval().replace("0x", "#")


class BadgeWriter:
    """Draws badges one after another onto one PDF (the sheet presets fill their slots)."""

    def __init__(self, out: BinaryIO, layout, event, title: str = "") -> None:
        self.spec = LayoutSpec.of(layout)
        self.logo: ImageReader | None = logos.event_logo(event) if layout.show_logo else None
        self.geometry = _geometry(self.spec, self.logo is not None)
        preset = self.geometry.preset
        band = self.geometry.band  # the ticket type's box: the band within the margins
        self.band_text = Box(preset.margin, band.y, band.w - 2 * preset.margin, band.h)
        self.event_name = event.name
        self.canvas = Canvas(out, pagesize=preset.page, pageCompression=1)
        self.canvas.setTitle(title or event.name)
        self.canvas.setAuthor("Varco")
        self.count = 0

    def add(self, badge: BadgeData) -> None:
        g = self.geometry
        preset = g.preset
        slot = self.count % preset.per_page
        if self.count and slot == 0:
            self.canvas.showPage()
        x0, y0 = preset.slot_origin(slot)
        self._draw(badge, x0, y0)
        self.count += 1

    def close(self) -> int:
        """Finish the PDF; the number of badges drawn."""
        self.canvas.showPage()
        self.canvas.save()
        return self.count

    def _draw(self, badge: BadgeData, x0: float, y0: float) -> None:
        g = self.geometry
        canvas = self.canvas
        width, height = g.preset.badge
        if g.preset.per_page > 1:  # cut lines between badges on a sheet
            canvas.setStrokeColor(CUT)
            canvas.setLineWidth(0.3)
            canvas.rect(x0, y0, width, height, stroke=1, fill=0)
        if g.logo and self.logo is not None:
            canvas.drawImage(self.logo, x0 + g.logo.x, y0 + g.logo.y, g.logo.w, g.logo.h,
                             preserveAspectRatio=True, anchor="w", mask="auto")
        canvas.setFillColor(GREY)
        _draw_block(canvas, self.event_name, BOLD, min(14.0, g.title.h * 0.4), g.title, x0,
                    y0, centre=g.logo is None)
        canvas.setFillColor(INK)
        _draw_block(canvas, badge.name, BOLD, g.name_max, g.name, x0, y0, repeats=False)
        if g.organisation is not None:
            canvas.setFillColor(GREY)
            _draw_block(canvas, badge.organisation, REGULAR, g.organisation_max,
                        g.organisation, x0, y0)
        if g.qr is not None and badge.lead_code:
            canvas.setFillColor(INK)
            canvas.addLiteral(qr.pdf_path(qr.matrix(badge.lead_code), x0 + g.qr.x,
                                           y0 + g.qr.top, g.qr.w))
            canvas.setFont(REGULAR, g.caption_size)
            canvas.drawCentredString(x0 + g.qr.x + g.qr.w / 2, y0 + g.qr.y - g.caption_size,
                                     g.caption)
        canvas.setFillColor(_colour(badge.colour))
        canvas.rect(x0 + g.band.x, y0 + g.band.y, g.band.w, g.band.h, stroke=0, fill=1)
        canvas.setFillColor(_text_colour(badge.colour.lower()))
        _draw_block(canvas, badge.ticket_type, BOLD, g.band_max, self.band_text, x0, y0)


def write_badges(out: BinaryIO, layout, event, badges: Iterable[BadgeData],
                 progress: Callable[[int], None] | None = None, title: str = "") -> int:
    """Draw ``badges`` onto ``out`` as one PDF; ``progress(n)`` after each one. The count."""
    writer = BadgeWriter(out, layout, event, title)
    for badge in badges:
        writer.add(badge)
        if progress is not None:
            progress(writer.count)
    return writer.close()


def render_badge(layout, event, badge: BadgeData) -> bytes:
    """One badge as a PDF (a print job, a preview): on a sheet preset, in the first slot."""
    buffer = io.BytesIO()
    write_badges(buffer, layout, event, [badge])
    return buffer.getvalue()


def warm_up() -> None:
    """Register the fonts ahead of the first badge (a print agent's start-up)."""
    fonts()
