"""The event's logo on a badge: the one place that knows where an event keeps its logo.

Events have no logo field yet (another branch adds ``Event.logo``); until it is merged this
answers None and badges are drawn without a logo (the event's name takes the header). After
the merge, point ``event_logo`` at the field: open the stored image and return it as a
reportlab ``ImageReader`` (PNG or JPEG; badges draw it fitted into a square, keeping its
aspect ratio). Nothing else in ``badges`` needs to change.
"""

from __future__ import annotations

from reportlab.lib.utils import ImageReader

from tickets.models import Event


def event_logo(event: Event) -> ImageReader | None:
    """The logo to print on ``event``'s badges, or None (no logo field yet: see above)."""
    return None
