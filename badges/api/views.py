"""The organiser's badge API: the bulk PDF of an event's badges."""

from __future__ import annotations

import tempfile

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from badges import printing, selectors
from core.api.serializers import ErrorSerializer
from core.api.views import EVENT_PARAM, EventScopedMixin
from tickets.selectors import events_for_user


class JsonErrors(BaseContentNegotiation):
    """The answer is a file (a PDF, an event stream) whatever the client accepts; its errors
    are the one JSON body.
    (DRF's negotiation would answer a client sending ``Accept: application/pdf`` with 406,
    since no renderer of ours makes PDFs: the PDF is a plain file response.)"""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


_PARAMETERS = [
    EVENT_PARAM,
    OpenApiParameter("layout", int, description="a badge layout of the event (default: the "
                     "event's default layout, else the built-in A6 one)"),
    OpenApiParameter("sort", str, enum=list(selectors.SORTS),
                     description="`surname`: by the last word of the name; default `name`"),
    OpenApiParameter("ticket_type", int, many=True, description="only these ticket types"),
    OpenApiParameter("organisation", str, description="only this organisation (any case)"),
    OpenApiParameter("checked_in", bool, description="only attendees who entered (true) or "
                     "who did not yet (false)"),
]


class EventBadgesPdf(EventScopedMixin, APIView):
    """All badges of an event (or a filter) as one PDF, in the chosen order."""

    events_for = staticmethod(events_for_user)
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonErrors

    @extend_schema(
        operation_id="events_badges_pdf", parameters=_PARAMETERS,
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, 400: ErrorSerializer,
                   404: ErrorSerializer},
    )
    def get(self, request: Request, event_pk: int) -> FileResponse:
        event = self.event
        bulk = printing.bulk_request(event, dict(request.query_params.lists()))
        # Spooled to disk, not held in memory: an event of thousands is tens of megabytes.
        out = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it when sent)
        count = printing.write_pdf(event, bulk, out)
        out.seek(0)
        response = FileResponse(out, content_type="application/pdf",
                                filename=f"{event.slug}-badges.pdf")
        response["X-Badge-Count"] = str(count)
        return response
