"""The event's logo on a badge: the one place in ``badges`` that reads it.

The logo is the one the ticket PDF prints (``Event.logo``, stored normalised by
``tickets.services.event_design``: a flattened PNG, or a JPEG for a photograph, at most
600 x 300 px), read through ``tickets.documents.logo``. It is decoded once per logo version
(``logo_version``: a digest of its bytes, so a replaced logo is decoded again) and drawn fitted
into a square at the left of the badge's header, keeping its aspect ratio.
"""

from __future__ import annotations

import functools
import io

from reportlab.lib.utils import ImageReader

from tickets.documents import logo as ticket_logo
from tickets.models import Event


def event_logo(event: Event) -> ImageReader | None:
    """The logo to print on ``event``'s badges, or None when the event has none."""
    version = ticket_logo.logo_version(event)
    if version is None:
        return None
    return _decoded(event.pk, version, ticket_logo.logo_bytes(event))


@functools.lru_cache(maxsize=32)
def _decoded(event_pk: int, version: str, data: bytes) -> ImageReader:
    # (event, version) is the key; the bytes ride along so that a miss needs no query.
    return ImageReader(io.BytesIO(data))
