"""Importing attendees in the console: upload a CSV, see what it would do, then commit.

Step 1 (upload) checks every row with ``attendee_csv.plan_import`` — the rules every path
uses — and shows the rows that would be created and each bad cell (line, column, reason);
nothing is written. Step 2 (confirm) imports exactly the previewed file, all-or-nothing: the
file waits in the organiser's session between the steps, and the confirmation names its
SHA-256, so a second upload in another tab cannot swap what gets imported.
"""

from __future__ import annotations

import hashlib

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import rate_limits
from tickets import attendee_csv
from tickets.models import Attendee, Event, TicketType

# Rows shown in the preview table; the counts cover all of them.
PREVIEW_ROWS = 500


class UploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV file"), help_text=gettext_lazy(
        "Columns: name, email (required), organisation, language, ticket_type. Comma, "
        "semicolon or tab separated; UTF-8 or Windows-1252."))
    skip_existing = forms.BooleanField(
        label=gettext_lazy("Skip addresses already registered (instead of refusing them)"),
        required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.VARCO_MAX_IMPORT_BYTES:
            raise forms.ValidationError(_("The file is larger than %(limit)d bytes.")
                                        % {"limit": settings.VARCO_MAX_IMPORT_BYTES})
        return upload.read()


def _session_key(event: Event) -> str:
    return f"varco-import-{event.pk}"


class ImportAttendeesMixin:
    """Adds ``<event>/import/`` to the event's admin (the event page links to it)."""

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        return [path("<path:object_id>/import/", view, name="tickets_event_import"),
                *super().get_urls()]

    def import_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        event = self.get_object(request, unquote(object_id))  # within the user's teams
        if event is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, event):
            raise PermissionDenied
        refused = self._over_budget(request)
        if refused is not None:
            return refused
        if request.method == "POST" and "confirm" in request.POST:
            return self._confirm(request, event)
        form = UploadForm(request.POST or None, request.FILES or None)
        context = {"form": form, "event": event}
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data["file"]
            skip = form.cleaned_data["skip_existing"]
            try:
                plan = attendee_csv.plan_import(event, data, skip_existing=skip)
            except attendee_csv.CSVFormatError as exc:
                form.add_error("file", str(exc))
            else:
                digest = hashlib.sha256(data).hexdigest()
                request.session[_session_key(event)] = {
                    "data": data.decode("latin-1"), "skip": skip, "digest": digest}
                context.update(plan=plan, digest=digest, rows=_preview(event, plan),
                               errors=[(e.line, column_label(e.field), e.message)
                                       for e in plan.errors])
        return self._render(request, event, context)

    def _confirm(self, request: HttpRequest, event: Event) -> HttpResponse:
        stored = request.session.get(_session_key(event))
        if not stored or stored["digest"] != request.POST.get("digest"):
            messages.error(request, _("That preview has expired: upload the file again."))
            return HttpResponseRedirect(request.path)
        if rate_limits.refused(request, rate_limits.ImportThrottle):
            messages.error(request, _("Too many imports in a short time: try again later."))
            return HttpResponseRedirect(request.path)
        data = stored["data"].encode("latin-1")  # the uploaded bytes, as they came
        result = attendee_csv.import_attendees(event, data, skip_existing=stored["skip"])
        del request.session[_session_key(event)]
        if not result.committed:  # a row refused since the preview (e.g. a place taken)
            for error in result.errors[:20]:
                messages.error(request, _("Line %(line)d, %(column)s: %(reason)s") % {
                    "line": error.line, "column": column_label(error.field),
                    "reason": error.message})
            messages.error(request, _("Nothing was imported."))
            return HttpResponseRedirect(request.path)
        messages.success(request, _("%(created)d attendees imported, %(skipped)d skipped; "
                                    "their tickets are being e-mailed.")
                         % {"created": result.created, "skipped": result.skipped})
        return HttpResponseRedirect(
            reverse("admin:tickets_attendee_changelist") + f"?event__id__exact={event.pk}")

    def _render(self, request: HttpRequest, event: Event, context: dict) -> HttpResponse:
        return TemplateResponse(request, "tickets/admin/import_attendees.html", {
            **self.admin_site.each_context(request), **context, "opts": self.opts,
            "original": event, "title": _("Import attendees: %(event)s") % {"event": event.name},
        })


def column_label(column: str) -> str:
    """A CSV column as the organiser reads it, in their language: the attendee's field name
    (the file's header may have used an alias, "nome" or "tipo"); an error of no single cell
    is on the whole row."""
    if column == "row":
        return _("(the whole row)")
    if column == "ticket_type":
        return str(TicketType._meta.verbose_name)
    try:
        return str(Attendee._meta.get_field(column).verbose_name)
    except FieldDoesNotExist:
        return column


def _preview(event: Event, plan: attendee_csv.ImportPlan) -> list[dict]:
    types = {t.pk: t.name for t in TicketType.objects.filter(event=event)}
    default = TicketType.objects.filter(event=event).order_by("pk").first()
    return [{"line": line, "name": r.name, "email": r.email, "organisation": r.organisation,
             "language": r.language or event.default_language,
             "ticket_type": types.get(r.ticket_type_id) or (default.name if default else "")}
            for line, r in plan.rows[:PREVIEW_ROWS]]
