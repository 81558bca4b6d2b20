"""Bulk printing: the badges of an event (or a filter) as one PDF, in the chosen order.

One owner for the API (``GET /api/v1/events/{id}/badges.pdf``) and the command
(``print_badges``): both turn their input into a ``BulkRequest`` here (bad values are a
``ServiceError`` naming the parameter: a 400 or a command error) and call ``write_pdf``.
Memory stays bounded for any event: tickets are read 200 at a time and the PDF is written to
the file given (the API spools it to a temporary file); reportlab keeps only the compressed
pages until the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from badges import selectors
from badges.documents.badge import BadgeWriter
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
        raise ServiceError(name, _("Enter a positive whole number."))
    return int(value)


def bulk_request(event: Event, params: Mapping[str, list[str]]) -> BulkRequest:
    """Validate the parameters (each a list of values, as a query string gives them)."""
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise ServiceError(unknown[0], _("Unknown parameter."))
    for name, values in params.items():
        if name != "ticket_type" and len(values) > 1:
            raise ServiceError(name, _("Give this parameter once."))
    single = {name: values[0] for name, values in params.items() if values}

    layout = selectors.layout_for(event)
    if "layout" in single:
        pk = _int("layout", single["layout"])
        found = selectors.layouts_for_event(event).filter(pk=pk).first()
        if found is None:
            raise ServiceError("layout", _("No such badge layout in this event."))
        layout = found

    sort = single.get("sort", "name")
    if sort not in selectors.SORTS:
        raise ServiceError("sort", format_lazy(_("Choose one of: {choices}."),
                                               choices=", ".join(selectors.SORTS)))

    types = tuple(_int("ticket_type", value) for value in params.get("ticket_type", []))
    known = set(event.ticket_types.values_list("pk", flat=True))
    if not set(types) <= known:
        raise ServiceError("ticket_type", _("No such ticket type in this event."))

    organisation = single.get("organisation")
    if organisation is not None and len(organisation) > 200:
        raise ServiceError("organisation", _("At most 200 characters."))

    checked_in = None
    if "checked_in" in single:
        if single["checked_in"].lower() not in _BOOLEANS:
            raise ServiceError("checked_in", _("Enter true or false."))
        checked_in = _BOOLEANS[single["checked_in"].lower()]

    return BulkRequest(layout, selectors.Selection(sort, types, organisation, checked_in))


def ticket_ids(event: Event, request: BulkRequest) -> list[int]:
    return selectors.selected_ticket_ids(event, request.selection)


def write_pdf(event: Event, request: BulkRequest, out: BinaryIO, ids: list[int] | None = None,
              progress: Callable[[int], None] | None = None) -> int:
    """Draw the selected badges onto ``out``; the number of badges."""
    count = 0
    for drawn in drawing(event, request, out, ids):
        if progress is not None and drawn != count:  # the closing total repeats the last
            progress(drawn)
        count = drawn
    return count


def drawing(event: Event, request: BulkRequest, out: BinaryIO, ids: list[int] | None = None
            ) -> Iterator[int]:
    """Draw the selected badges onto ``out``, yielding the number drawn after each badge (and
    once more, the total, when the PDF is finished). A generator rather than a callback so a
    streaming response (the console's page with its progress bar) can report between badges
    without a thread: its database reads stay on the request's connection."""
    ids = ticket_ids(event, request) if ids is None else ids
    writer = BadgeWriter(out, request.layout, event, title=f"{event.name} — badges")
    for badge in selectors.badge_data(event, ids, request.layout.language):
        writer.add(badge)
        yield writer.count
    yield writer.close()
