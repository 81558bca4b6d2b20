"""The console's bulk printing: an event's badges (or a filter of them) as one PDF, with a
progress bar (issue 15, item 4).

One owner for the rules, ``badges.printing`` (the API ``GET /api/v1/events/{id}/badges.pdf``
and ``manage.py print_badges`` use it too): the form's values become the API's parameters and
``printing.bulk_request`` validates them. The page's script (``console/static/console/
badges.js``) posts the form asking for ``application/x-ndjson`` and gets the progress as it is
drawn, one JSON object a line::

    {"total": 263}
    {"done": 40, "total": 263}            (at most every PROGRESS_SECONDS)
    {"done": 263, "total": 263, "count": 263, "filename": "…-badges.pdf", "pdf": "<base64>"}

so the PDF arrives in the same response and nothing is stored on the server (a second request
could land on another process or host). Without the script (or any other ``Accept``) the same
POST answers the PDF itself.
"""

from __future__ import annotations

import base64
import json
import logging
import tempfile
import time
from collections.abc import Iterator

from django import forms
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from badges import printing, selectors
from badges.models import BadgeLayout
from console.home import _context, _event, _over_budget
from core.errors import ServiceError, error_body
from tickets.models import Event, TicketType

log = logging.getLogger(__name__)

NDJSON = "application/x-ndjson"
PROGRESS_SECONDS = 0.25  # how often the page hears of progress (and at every badge at most)
CHUNK = 3 * 64 * 1024  # PDF bytes base64-encoded per write (a multiple of 3: no padding)

SORT_CHOICES = [
    ("name", _("Name")),
    ("surname", _("Surname (last word of the name)")),
    ("organisation", _("Organisation")),
    ("registration", _("Registration order")),
]
CHECKED_IN_CHOICES = [
    ("", _("Everybody")),
    ("true", _("Only who has checked in")),
    ("false", _("Only who has not checked in yet")),
]


class BulkBadgesForm(forms.Form):
    layout = forms.ModelChoiceField(
        label=_("Badge layout"), queryset=BadgeLayout.objects.none(), required=False,
        empty_label=_("The event's default layout"))
    sort = forms.ChoiceField(label=_("Order"), choices=SORT_CHOICES, initial="name")
    ticket_type = forms.ModelMultipleChoiceField(
        label=_("Ticket types"), queryset=TicketType.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple, help_text=_("None ticked: every ticket type."))
    organisation = forms.CharField(label=_("Organisation"), max_length=200, required=False,
                                   help_text=_("Only this organisation (any case)."))
    checked_in = forms.ChoiceField(label=_("Check-in"), choices=CHECKED_IN_CHOICES,
                                   required=False)

    def __init__(self, event: Event, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.event = event
        self.fields["layout"].queryset = selectors.layouts_for_event(event)
        self.fields["ticket_type"].queryset = TicketType.objects.filter(event=event)
        # The type's name alone: its __str__ adds the event, which is the page's own.
        self.fields["ticket_type"].label_from_instance = lambda ticket_type: ticket_type.name

    def bulk_request(self) -> printing.BulkRequest | None:
        """The validated request, through ``printing.bulk_request`` (the API's rules), or
        None with the refusal added to the form."""
        if not self.is_valid():
            return None
        data = self.cleaned_data
        params = {"sort": [data["sort"]],
                  "ticket_type": [str(t.pk) for t in data["ticket_type"]]}
        if data["layout"] is not None:
            params["layout"] = [str(data["layout"].pk)]
        if data["organisation"]:
            params["organisation"] = [data["organisation"]]
        if data["checked_in"]:
            params["checked_in"] = [data["checked_in"]]
        try:
            return printing.bulk_request(self.event, params)
        except ServiceError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
            return None


def _page(request: HttpRequest, event: Event, form: BulkBadgesForm) -> TemplateResponse:
    return TemplateResponse(request, "console/badges.html", {
        **_context(request, event, _("Print badges")), "form": form,
        "print_url": reverse("admin:console-event-badges-print", args=[event.pk]),
        "layouts_url": reverse("admin:badges_badgelayout_changelist")
        + f"?event__id__exact={event.pk}",
    })


@require_GET
def badges_page(request: HttpRequest, event_id: int) -> TemplateResponse:
    event = _event(request, event_id)
    return _page(request, event, BulkBadgesForm(event))


@require_POST
def print_badges(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event(request, event_id)
    if refused := _over_budget(request):
        return refused
    form = BulkBadgesForm(event, request.POST)
    bulk = form.bulk_request()
    progress = NDJSON in request.headers.get("Accept", "")
    if bulk is None:
        if progress:
            fields = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
            return JsonResponse(error_body("invalid", str(_("Check the form.")), fields),
                                status=400)
        return _page(request, event, form)  # 200 with the errors, like the admin's forms
    ids = printing.ticket_ids(event, bulk)
    filename = f"{event.slug}-badges.pdf"
    if progress:
        response = StreamingHttpResponse(_progress(event, bulk, ids, filename),
                                         content_type=NDJSON)
        response["Cache-Control"] = "no-store"
        response["X-Accel-Buffering"] = "no"  # a proxy passes each line on at once
        return response
    # Without the page's script: the PDF itself, spooled to disk like the API's.
    out = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it when sent)
    count = printing.write_pdf(event, bulk, out, ids)
    out.seek(0)
    response = FileResponse(out, content_type="application/pdf", as_attachment=True,
                            filename=filename)
    response["X-Badge-Count"] = str(count)
    return response


def _line(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"


def _progress(event: Event, bulk: printing.BulkRequest, ids: list[int], filename: str
              ) -> Iterator[bytes]:
    """The streamed answer: the total, progress lines while drawing, then the PDF."""
    total = len(ids)
    yield _line({"total": total})
    with tempfile.TemporaryFile() as out:
        count = 0
        reported = time.monotonic()
        try:
            for count in printing.drawing(event, bulk, out, ids):
                if time.monotonic() - reported >= PROGRESS_SECONDS:
                    reported = time.monotonic()
                    yield _line({"done": count, "total": total})
        except Exception:  # the status line is sent: the page can only be told in the body
            log.exception("bulk badges of event %s failed", event.pk)
            yield _line({"error": str(_("The badges could not be drawn; please try again."))})
            return
        out.seek(0)
        head = _line({"done": count, "total": total, "count": count, "filename": filename,
                      "pdf": ""})
        # The PDF goes inside the last line's "pdf" string, written a chunk at a time.
        yield head[: -len(b'""}\n') + 1]
        while chunk := out.read(CHUNK):
            yield base64.b64encode(chunk)
        yield b'"}\n'
