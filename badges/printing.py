"""Bulk printing: the badges of an event (or a filter) as one PDF, in the chosen order.

One owner for the API (``GET /api/v1/events/{id}/badges.pdf``) and the command
(``print_badges``): both turn their input into a ``BulkRequest`` here (bad values are a
``ServiceError`` naming the parameter: a 400 or a command error) and call ``write_pdf``.
Memory stays bounded for any event: tickets are read 200 at a time and the PDF is written to
the file given (the API spools it to a temporary file); reportlab keeps only the compressed
pages until the end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from badges import selectors
from badges.documents.badge import write_badges
from badges.models import BadgeLayout
from core.errors import ServiceError
from tickets.models import Event

PARAMETERS = ("layout", "sort", "ticket_type", "organisation", "checked_in")
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


@dataclass(frozen=True)
class BulkRequest:
    layout: BadgeLayout
    selection: selectors.Selection


def _int(name: str, value: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 18 or int(value) < 1:
        raise ServiceError(name, "Enter a positive whole number.")
    return int(value)


def bulk_request(event: Event, params: Mapping[str, list[str]]) -> BulkRequest:
    """Validate the parameters (each a list of values, as a query string gives them)."""
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise ServiceError(unknown[0], "Unknown parameter.")
    for name, values in params.items():
        if name != "ticket_type" and len(values) > 1:
            raise ServiceError(name, "Give this parameter once.")
    single = {name: values[0] for name, values in params.items() if values}

    layout = selectors.layout_for(event)
    if "layout" in single:
        pk = _int("layout", single["layout"])
        found = selectors.layouts_for_event(event).filter(pk=pk).first()
        if found is None:
            raise ServiceError("layout", "No such badge layout in this event.")
        layout = found

    sort = single.get("sort", "name")
    if sort not in selectors.SORTS:
        raise ServiceError("sort", f"Choose one of: {', '.join(selectors.SORTS)}.")

    types = tuple(_int("ticket_type", value) for value in params.get("ticket_type", []))
    known = set(event.ticket_types.values_list("pk", flat=True))
    if not set(types) <= known:
        raise ServiceError("ticket_type", "No such ticket type in this event.")

    organisation = single.get("organisation")
    if organisation is not None and len(organisation) > 200:
        raise ServiceError("organisation", "At most 200 characters.")

    checked_in = None
    if "checked_in" in single:
        if single["checked_in"].lower() not in _BOOLEANS:
            raise ServiceError("checked_in", "Enter true or false.")
        checked_in = _BOOLEANS[single["checked_in"].lower()]

    return BulkRequest(layout, selectors.Selection(sort, types, organisation, checked_in))


def ticket_ids(event: Event, request: BulkRequest) -> list[int]:
    return selectors.selected_ticket_ids(event, request.selection)


def write_pdf(event: Event, request: BulkRequest, out: BinaryIO, ids: list[int] | None = None,
              progress: Callable[[int], None] | None = None) -> int:
    """Draw the selected badges onto ``out``; the number of badges."""
    ids = ticket_ids(event, request) if ids is None else ids
    badges = selectors.badge_data(event, ids, request.layout.language)
    return write_badges(out, request.layout, event, badges, progress,
                        title=f"{event.name} — badges")
