"""The console's print on arrival: print stations (token shown once with the pairing QR of
the print station page), which lists print badges, the print jobs per station and gate with
their failures and doubts, and reprinting with a reason.

Every write goes through ``badges.jobs`` (``stations``, ``queue``, ``claims``), which record
the audit log; every list and choice is the user's own organisers' (``OrganiserScopedAdmin``
and the querysets below). Registered by ``badges/admin.py``.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from badges.jobs import claims, queue, stations
from badges.models import (
    BadgeLayout,
    JobState,
    ListPrinting,
    OutputKind,
    PrintJob,
    PrintStation,
    PrintStationGate,
)
from checkin import services as checkin_services
from checkin.models import CheckinList
from core.errors import ServiceError, VarcoError
from tickets import selectors
from tickets.admin import OrganiserScopedAdmin, OwnValuesFieldListFilter
from tickets.models import Ticket


def _base(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def _refuse(form: forms.Form, exc: ServiceError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def station_token_page(request: HttpRequest, station: PrintStation, token: str,
                       back_url: str = "../") -> TemplateResponse:
    """The token, shown once, with the print station page's pairing link and QR built on the
    address the organiser reached the console by (the station's browser reaches it too)."""
    page = reverse("print-station")
    return TemplateResponse(request, "badges/admin/station_token.html", {
        **admin.site.each_context(request), "opts": PrintStation._meta, "station": station,
        "token": token, "back_url": back_url,
        "pairing_url": checkin_services.pairing_url(token, _base(request), page),
        "pairing_qr": mark_safe(checkin_services.pairing_qr_svg(token, _base(request), page)),
        "title": _("Pair %(station)s") % {"station": station},
    })


# --- print stations -----------------------------------------------------------------------


class PrintStationForm(forms.ModelForm):
    gates_text = forms.CharField(
        label=_("Gates"), widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line: the gate of the door devices whose entries print here."))

    class Meta:
        model = PrintStation
        fields = ["event", "name", "output_kind", "cups_queue", "printer_host", "printer_port",
                  "printer_model", "printer_label"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["gates_text"].initial = "\n".join(stations.gate_names(self.instance))

    def clean(self) -> dict:
        data = super().clean()
        try:
            self.gates = stations.clean_gates(
                [line for line in data.get("gates_text", "").splitlines() if line.strip()])
        except ServiceError as exc:
            self.add_error("gates_text", exc.message)
        event = data.get("event") or (self.instance.event if self.instance.pk else None)
        if event is not None:
            self._check_free(event, data.get("name"), getattr(self, "gates", []))
        kind = data.get("output_kind") or OutputKind.BROWSER
        output: dict = {"kind": kind}
        if kind == OutputKind.CUPS:
            output["queue"] = data.get("cups_queue") or ""
        elif kind == OutputKind.BROTHER_QL:
            output.update({"host": data.get("printer_host") or "",
                           "port": data.get("printer_port") or 9100})
            for key, field in (("model", "printer_model"), ("label", "printer_label")):
                if data.get(field):
                    output[key] = data[field]
        try:
            self.output = stations.read_output(output)
        except ServiceError as exc:
            field = {OutputKind.CUPS: "cups_queue",
                     OutputKind.BROTHER_QL: "printer_host"}.get(kind, "output_kind")
            self.add_error(field, exc.message)
        return data

    def _check_free(self, event, name: str | None, gates: list[str]) -> None:
        """The service's two refusals a form can foresee (a name or a gate already taken in
        the event), named on their fields; a race past them is still refused by the service
        and the database's unique constraints."""
        others = PrintStation.objects.filter(event=event).exclude(pk=self.instance.pk)
        if name and others.filter(name=name.strip()).exists():
            self.add_error("name", _("This event already has a print station of this name."))
        taken = (PrintStationGate.objects.filter(event=event, gate__in=gates)
                 .exclude(station_id=self.instance.pk).select_related("station").first())
        if taken is not None:
            self.add_error("gates_text", _("Gate '%(gate)s' is already served by the print "
                                           "station '%(station)s'.")
                           % {"gate": taken.gate, "station": taken.station.name})

    def validate_constraints(self, exclude=None) -> None:
        # The service writes the output's fields (defaults included) and checks them above;
        # the database's constraints stay the last word.
        return None


@admin.register(PrintStation)
class PrintStationAdmin(OrganiserScopedAdmin):
    form = PrintStationForm
    list_display = ["name", "event", "gates", "output", "token_hint", "last_seen_at",
                    "revoked_at"]
    list_filter = ["event", "output_kind"]
    search_fields = ["name", "gates__gate"]
    readonly_fields = ["token_hint", "created_at", "last_seen_at", "revoked_at"]
    actions = ["revoke", "rotate_token"]

    @admin.display(description=_("gates"))
    def gates(self, obj: PrintStation) -> str:
        return ", ".join(gate.gate for gate in obj.gates.all()) or "—"

    @admin.display(description=_("output"), ordering="output_kind")
    def output(self, obj: PrintStation) -> str:
        detail = {OutputKind.CUPS: obj.cups_queue,
                  OutputKind.BROTHER_QL: f"{obj.printer_host}:{obj.printer_port}"}
        extra = detail.get(obj.output_kind)
        label = obj.get_output_kind_display()
        return f"{label} — {extra}" if extra else label

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("event").prefetch_related("gates")

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "event"] if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: PrintStation, form, change: bool) -> None:
        if change:
            stations.update_station(obj, name=form.cleaned_data["name"], gates=form.gates,
                                    output=form.output)
            return
        created, token = stations.create_station(obj.event, form.cleaned_data["name"],
                                                 form.gates, form.output,
                                                 created_by=request.user)
        obj.pk, obj._state.adding = created.pk, False
        request._station_token = token  # shown once, on the page response_add returns

    def response_add(self, request: HttpRequest, obj: PrintStation, post_url_continue=None):
        token = getattr(request, "_station_token", None)
        if token is None:
            return super().response_add(request, obj, post_url_continue)
        obj.refresh_from_db()
        return station_token_page(request, obj, token, back_url=reverse(
            "admin:badges_printstation_changelist"))

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoked, not deleted: its jobs stay visible (and audited)

    @admin.action(description=_("Revoke selected print stations (their tokens stop working)"),
                  permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[PrintStation]) -> None:
        for station in queryset:
            stations.revoke_station(station)
        count = queryset.count()
        self.message_user(request, ngettext("%(count)d print station revoked.",
                                            "%(count)d print stations revoked.", count)
                          % {"count": count})

    @admin.action(description=_("New token and pairing QR for one print station"),
                  permissions=["change"])
    def rotate_token(self, request: HttpRequest, queryset: QuerySet[PrintStation]):
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one print station."),
                              messages.WARNING)
            return None
        station = queryset.get()
        if station.is_revoked:
            self.message_user(request, _("A revoked print station cannot be paired again."),
                              messages.WARNING)
            return None
        token = stations.rotate_token(station)
        return station_token_page(request, station, token)


# --- which lists print badges ---------------------------------------------------------------


class ListPrintingForm(forms.ModelForm):
    class Meta:
        model = ListPrinting
        fields = ["checkin_list", "layout", "default_station"]

    def clean(self) -> dict:
        data = super().clean()
        checkin_list = data.get("checkin_list")
        if checkin_list is None:
            return data
        for field in ("layout", "default_station"):
            value = data.get(field)
            if value is not None and value.event_id != checkin_list.event_id:
                self.add_error(field, _("It belongs to another event than the list."))
        return data


@admin.register(ListPrinting)
class ListPrintingAdmin(OrganiserScopedAdmin):
    form = ListPrintingForm
    event_path = "checkin_list__event"
    list_display = ["checkin_list", "event", "layout", "default_station"]
    list_filter = ["checkin_list__event"]

    @admin.display(description=_("event"), ordering="checkin_list__event")
    def event(self, obj: ListPrinting) -> str:
        return str(obj.checkin_list.event)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related(
            "checkin_list__event", "layout", "default_station")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        events = selectors.events_for_user(request.user)
        scoped = {"checkin_list": CheckinList.objects.filter(event__in=events),
                  "layout": BadgeLayout.objects.filter(event__in=events),
                  "default_station": PrintStation.objects.filter(event__in=events,
                                                                 revoked_at__isnull=True)}
        if db_field.name in scoped and not request.user.is_superuser:
            kwargs["queryset"] = scoped[db_field.name]
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: ListPrinting, form, change: bool) -> None:
        if change and "checkin_list" in form.changed_data:
            # Moved to another list: the old list stops printing.
            old = ListPrinting.objects.get(pk=obj.pk).checkin_list
            stations.set_list_printing(old, None)
        row = stations.set_list_printing(obj.checkin_list, obj.layout, obj.default_station)
        obj.pk, obj._state.adding = row.pk, False

    def delete_model(self, request: HttpRequest, obj: ListPrinting) -> None:
        stations.set_list_printing(obj.checkin_list, None)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ListPrinting]) -> None:
        for row in queryset.select_related("checkin_list"):
            stations.set_list_printing(row.checkin_list, None)


# --- print jobs, reprints ---------------------------------------------------------------------


class ReprintForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500,
                             help_text=_("Recorded in the audit log, e.g. 'badge lost'."))
    station = forms.ModelChoiceField(
        label=_("Print station"), queryset=PrintStation.objects.none(), required=False,
        empty_label=_("The station that printed the last badge"))

    def __init__(self, events, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["station"].queryset = PrintStation.objects.filter(
            event__in=events, revoked_at__isnull=True).select_related("event")


def reprint_action(model_admin: admin.ModelAdmin, request: HttpRequest,
                   selected: QuerySet, tickets: QuerySet[Ticket]) -> HttpResponse | None:
    """An admin action: ask for the reason (and the station), then print each ticket's badge
    again through ``badges.jobs.queue.reprint`` (audited). ``selected``: the rows ticked."""
    tickets = tickets.filter(status=Ticket.Status.VALID).select_related("attendee", "event")
    events = selectors.events_for_user(request.user).filter(
        pk__in=tickets.values("event_id"))
    form = ReprintForm(events, request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        done = 0
        for ticket in tickets:
            try:
                queue.reprint(ticket, form.cleaned_data["reason"], form.cleaned_data["station"],
                              user=request.user)
                done += 1
            except ServiceError as exc:
                model_admin.message_user(request, f"{ticket.attendee.name}: {exc.message}",
                                         messages.WARNING)
        model_admin.message_user(request, ngettext(
            "%(count)d badge queued to print again.", "%(count)d badges queued to print again.",
            done) % {"count": done})
        return None
    return TemplateResponse(request, "badges/admin/reprint.html", {
        **model_admin.admin_site.each_context(request), "opts": model_admin.model._meta,
        "title": _("Print badges again"), "form": form, "tickets": tickets,
        "selected": [str(pk) for pk in selected.values_list("pk", flat=True)],
        "action": request.POST.get("action", ""),
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
    })


class AttentionFilter(admin.SimpleListFilter):
    """Failed and in-doubt badges together: what staff must look at."""

    title = _("needs attention")
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("yes", _("failed or in doubt"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(state__in=[JobState.FAILED, JobState.IN_DOUBT])
        return queryset


@admin.register(PrintJob)
class PrintJobAdmin(OrganiserScopedAdmin):
    # Five columns, so the last error stays readable on a 1,366 px screen.
    list_display = ["when", "attendee", "where", "state_label", "last_error"]
    list_display_links = None
    list_filter = [AttentionFilter, "state", "station", ("gate", OwnValuesFieldListFilter),
                   "reprint", "event"]
    search_fields = ["ticket__attendee__name", "ticket__reference", "gate"]
    actions = ["confirm_printed", "print_again", "reprint_badges"]
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("station", "ticket__attendee",
                                                            "event")

    @admin.display(description=_("created at"), ordering="created_at")
    def when(self, obj: PrintJob) -> str:
        return date_format(timezone.localtime(obj.created_at), "SHORT_DATETIME_FORMAT")

    @admin.display(description=_("attendee"), ordering="ticket__attendee__name")
    def attendee(self, obj: PrintJob) -> str:
        return format_html("{}<br><small>{}</small>", obj.ticket.attendee.name,
                           obj.ticket.reference)

    @admin.display(description=_("print station"), ordering="station__name")
    def where(self, obj: PrintJob) -> str:
        return f"{obj.station.name} · {obj.gate}" if obj.gate else obj.station.name

    @admin.display(description=_("state"), ordering="state")
    def state_label(self, obj: PrintJob) -> str:
        attempt = ngettext("%(count)d attempt", "%(count)d attempts", obj.attempt) % {
            "count": obj.attempt}
        reprint = (format_html("<br><small>{}: {}</small>", _("reprint"), obj.reason)
                   if obj.reprint else "")
        return format_html('<span class="varco-print-{}">{}</span><br><small>{}</small>{}',
                           obj.state, obj.get_state_display(), attempt, reprint)

    def has_add_permission(self, request) -> bool:
        return False  # jobs come from scans and reprints

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("badges.change_printjob")

    def _resolve(self, request: HttpRequest, queryset: QuerySet[PrintJob], printed: bool) -> int:
        done = 0
        for job in queryset.filter(state=JobState.IN_DOUBT):
            try:
                claims.resolve_in_doubt(job, printed, user=request.user)
                done += 1
            except VarcoError as exc:
                self.message_user(request, f"{job.ticket.attendee.name}: {exc}",
                                  messages.WARNING)
        return done

    @admin.action(description=_("In doubt: yes, the badge came out"),
                  permissions=["resolve"])
    def confirm_printed(self, request: HttpRequest, queryset: QuerySet[PrintJob]) -> None:
        done = self._resolve(request, queryset, True)
        self.message_user(request, ngettext("%(count)d badge confirmed as printed.",
                                            "%(count)d badges confirmed as printed.", done)
                          % {"count": done})

    @admin.action(description=_("In doubt: no, print it again"), permissions=["resolve"])
    def print_again(self, request: HttpRequest, queryset: QuerySet[PrintJob]) -> None:
        done = self._resolve(request, queryset, False)
        self.message_user(request, ngettext("%(count)d badge queued to print again.",
                                            "%(count)d badges queued to print again.", done)
                          % {"count": done})

    @admin.action(description=_("Print these badges again (with a reason)"),
                  permissions=["resolve"])
    def reprint_badges(self, request: HttpRequest, queryset: QuerySet[PrintJob]):
        tickets = Ticket.objects.filter(pk__in=queryset.values("ticket_id"))
        return reprint_action(self, request, queryset, tickets)
