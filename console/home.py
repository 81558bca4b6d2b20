"""The event home: the first page an organiser sees for an event, and its actions.

Every action goes through the apps' services (``tickets.delivery.queue``,
``tickets.services``, ``checkin.services``); the views only read, call and answer. Each view
takes the event from the user's own events (``events_for_user``): another organiser's event
is a 404, as everywhere in the console.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from checkin import services as checkin_services
from checkin.models import CheckinList
from checkin.selectors import devices_for_event
from console.figures import failed_deliveries, figures
from core import rate_limits
from core.errors import ServiceError
from tickets import selectors
from tickets import services as ticket_services
from tickets.delivery import queue
from tickets.models import Event


def _event(request: HttpRequest, event_id: int) -> Event:
    return get_object_or_404(selectors.events_for_user(request.user), pk=event_id)


def _context(request: HttpRequest, event: Event, title) -> dict:
    return {**admin.site.each_context(request), "event": event, "title": title,
            "opts": Event._meta, "home_url": reverse("admin:console-event-home",
                                                     args=[event.pk])}


def _over_budget(request: HttpRequest) -> HttpResponse | None:
    """A console action draws on the organiser's budget like an admin form or the API."""
    wait = rate_limits.refused(request, rate_limits.OrganiserThrottle)
    if wait is None:
        return None
    context = {**admin.site.each_context(request), "seconds": wait,
               "minutes": max(1, -(-wait // 60)), "title": _("Too many requests")}
    response = TemplateResponse(request, "tickets/admin_rate_limited.html", context, status=429)
    response["Retry-After"] = str(wait)
    return response


def links(request: HttpRequest, event: Event) -> list[tuple]:
    """(label, URL, opens elsewhere) of every page an organiser reaches from the event."""
    api = f"/api/v1/events/{event.pk}"
    return [
        (_("Live dashboard"), reverse("attendance-dashboard", args=[event.pk]), True),
        (_("Door page"), reverse("door"), True),
        (_("Public registration page"), reverse("event-register", args=[event.slug]), True),
        (_("Attendees (CSV)"), f"{api}/attendees/export/", False),
        (_("Check-ins (CSV)"), reverse("attendance-checkins-csv", args=[event.pk]), False),
        (_("No-shows (CSV)"), reverse("attendance-no-shows-csv", args=[event.pk]), False),
    ]


def _changelist(name: str, path: str, event: Event) -> str:
    return f"{reverse(f'admin:{name}_changelist')}?{path}__id__exact={event.pk}"


@require_GET
def event_home(request: HttpRequest, event_id: int) -> TemplateResponse:
    event = _event(request, event_id)
    context = {
        **_context(request, event, event.name),
        "figures": figures(event),
        "failed": failed_deliveries(event),
        "links": links(request, event),
        "devices": devices_for_event(event).filter(revoked_at__isnull=True),
        "lists_url": _changelist("checkin_checkinlist", "event", event),
        "devices_url": _changelist("checkin_device", "event", event),
        "attendees_url": _changelist("tickets_attendee", "event", event),
        "deliveries_url": _changelist("tickets_delivery", "ticket__event", event),
        "scans_url": _changelist("checkin_scanlog", "event", event),
        "change_url": reverse("admin:tickets_event_change", args=[event.pk]),
        "import_url": reverse("admin:tickets_event_import", args=[event.pk]),
        "audit_url": reverse("admin:audit_auditentry_changelist") + f"?event_id={event.pk}",
        "figures_url": reverse("admin:console-event-figures", args=[event.pk]),
    }
    return TemplateResponse(request, "console/event_home.html", context)


@require_GET
def figures_json(request: HttpRequest, event_id: int) -> JsonResponse:
    """The home's numbers; the page polls this while tickets are being sent."""
    return JsonResponse(figures(_event(request, event_id)))


@require_POST
def send_unsent(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event(request, event_id)
    if refused := _over_budget(request):
        return refused
    ids = queue.queue_unsent(event)
    messages.success(request, ngettext(
        "%(count)d ticket e-mail is on its way.", "%(count)d ticket e-mails are on their way.",
        len(ids)) % {"count": len(ids)})
    return HttpResponseRedirect(reverse("admin:console-event-home", args=[event.pk]))


@require_POST
def registration(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event(request, event_id)
    if refused := _over_budget(request):
        return refused
    is_open = request.POST.get("open") == "1"
    ticket_services.set_registration_open(Event.objects.filter(pk=event.pk), is_open)
    messages.success(request, _("Registration is open.") if is_open
                     else _("Registration is closed."))
    return HttpResponseRedirect(reverse("admin:console-event-home", args=[event.pk]))


class DeviceForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    gate = forms.CharField(label=_("Gate"), max_length=100, required=False,
                           help_text=_("e.g. 'Entrance A'"))
    lists = forms.ModelMultipleChoiceField(
        label=_("Check-in lists"), queryset=CheckinList.objects.none(),
        widget=forms.CheckboxSelectMultiple, required=False,
        help_text=_("None ticked: every list of the event."))

    def __init__(self, event: Event, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lists"].queryset = CheckinList.objects.filter(event=event)


def add_device(request: HttpRequest, event_id: int) -> HttpResponse:
    """Add a door device and show its pairing QR and link, built on the address the organiser
    is using (the request's host), so the phone that scans it reaches this same site."""
    event = _event(request, event_id)
    form = DeviceForm(event, request.POST or None)
    if request.method == "POST":
        if refused := _over_budget(request):
            return refused
        if form.is_valid():
            try:
                device, token = checkin_services.create_device(
                    event, form.cleaned_data["name"], form.cleaned_data["gate"],
                    lists=form.cleaned_data["lists"] or None, created_by=request.user)
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                base = f"{request.scheme}://{request.get_host()}"
                return TemplateResponse(request, "checkin/admin/device_token.html", {
                    **_context(request, event, _("Pair %(device)s") % {"device": device}),
                    "device": device, "token": token,
                    "pairing_url": checkin_services.pairing_url(token, base),
                    "pairing_qr": mark_safe(checkin_services.pairing_qr_svg(token, base)),
                    "back_url": reverse("admin:console-event-home", args=[event.pk]),
                })
    return TemplateResponse(request, "console/add_device.html", {
        **_context(request, event, _("Add a door device")), "form": form})
