"""The media a badge layout prints on: page size, badge size and how badges tile the page.

Chosen for what Italian organisers actually buy (all sizes in millimetres, portrait unless
said):

- ``a6``: one 105 x 148 badge per A6 page (a card for an A6 badge holder, or an A6 printer
  tray); also what a browser print station prints on plain paper.
- ``a4-4xa6``: four A6 badges per A4 sheet (2 x 2, no margins: cut in half twice).
- ``a4-8x90x54``: eight 90 x 54 badges per A4 sheet (2 x 4, centred: 15 mm side and 40.5 mm
  top margins), the size of the common pin/clip badge holders and of pre-perforated
  "name badge" card sheets.
- ``ql-62``: a 62 mm continuous roll (Brother QL DK-22205), cut every 90 mm: a 90 x 62 badge,
  landscape (the long side runs along the tape).
- ``ql-62x100``: the 62 x 100 die-cut label (Brother DK-11202), landscape: 100 x 62.

A label preset's page is the badge itself (one badge per page, the printer's driver feeds and
cuts); a sheet preset places badges in slots left to right, top to bottom, and starts a new
sheet when one is full. A single badge (a print job, a preview) on a sheet preset uses the
first slot.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from reportlab.lib.units import mm


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    page: tuple[float, float]  # points, width x height
    badge: tuple[float, float]  # points
    columns: int = 1
    rows: int = 1
    margin: float = 4 * mm  # inside the badge: nothing is drawn closer to its edge
    label_roll: bool = False  # a label printer's medium (one badge per page)

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    def slot_origin(self, index: int) -> tuple[float, float]:
        """Bottom-left corner of slot ``index`` (0 = top left) on the page, in points."""
        column, row = index % self.columns, index // self.columns
        page_w, page_h = self.page
        badge_w, badge_h = self.badge
        left = (page_w - self.columns * badge_w) / 2
        top = page_h - (page_h - self.rows * badge_h) / 2
        return left + column * badge_w, top - (row + 1) * badge_h


A6 = (105 * mm, 148 * mm)
A4 = (210 * mm, 297 * mm)

PRESETS: dict[str, Preset] = {
    preset.key: preset
    for preset in (
        Preset("a6", _("A6 badge (105 x 148 mm)"), A6, A6),
        Preset("a4-4xa6", _("A4 sheet, 4 A6 badges (2 x 2)"), A4, A6, 2, 2),
        Preset("a4-8x90x54", _("A4 sheet, 8 badges of 90 x 54 mm (2 x 4)"), A4,
               (90 * mm, 54 * mm), 2, 4, margin=3 * mm),
        Preset("ql-62", _("62 mm continuous label roll, 90 mm long (Brother QL)"),
               (90 * mm, 62 * mm), (90 * mm, 62 * mm), margin=3 * mm, label_roll=True),
        Preset("ql-62x100", _("62 x 100 mm die-cut label (Brother QL)"),
               (100 * mm, 62 * mm), (100 * mm, 62 * mm), margin=3 * mm, label_roll=True),
    )
}
DEFAULT = "a6"
CHOICES = [(preset.key, preset.label) for preset in PRESETS.values()]
