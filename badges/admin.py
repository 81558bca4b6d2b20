"""Admin for badges: layouts (with a preview of a sample badge) and ticket type colours.

Scoped to the organiser's own events like every admin of Varco (``OrganiserScopedAdmin``);
writes go through ``badges.services``. Kept self-contained and plain (no templates of its own)
while the admin's look is being rebuilt elsewhere.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from badges import (
    admin_printing,  # noqa: F401 (registers print stations, lists, jobs)
    selectors,
    services,
)
from badges.documents.badge import BadgeData, render_badge
from badges.models import BadgeColour, BadgeLayout
from core.errors import ServiceError
from tickets.admin import OrganiserScopedAdmin
from tickets.models import Ticket

# Shown when the event has no ticket yet: long enough to show the shrinking.
SAMPLE_NAME = "Maria Giovanna Bianchi-Esposito"
SAMPLE_ORGANISATION = "Cooperativa Sociale Il Sole"


class BadgeLayoutForm(forms.ModelForm):
    class Meta:
        model = BadgeLayout
        fields = ["event", "ticket_type", "name", "preset", "language", "show_organisation",
                  "show_logo", "show_lead_qr"]

    def clean(self) -> dict:
        data = super().clean()
        event, ticket_type = data.get("event"), data.get("ticket_type")
        if event is not None and ticket_type is not None and ticket_type.event_id != event.pk:
            self.add_error("ticket_type", _("The ticket type belongs to another event."))
        return data


@admin.register(BadgeLayout)
class BadgeLayoutAdmin(OrganiserScopedAdmin):
    form = BadgeLayoutForm
    list_display = ["name", "event", "ticket_type", "preset", "language", "show_lead_qr",
                    "preview_link"]
    list_filter = ["event", "preset"]
    readonly_fields = ["version", "preview_link"]

    @admin.display(description=gettext_lazy("preview"))
    def preview_link(self, obj: BadgeLayout) -> str:
        if not obj.pk:
            return "—"
        url = reverse("admin:badges_badgelayout_preview", args=[obj.pk])
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url,
                           _("Sample badge (PDF)"))

    def get_urls(self):
        preview = self.admin_site.admin_view(self.preview)
        return [path("<int:pk>/preview.pdf", preview, name="badges_badgelayout_preview"),
                *super().get_urls()]

    def preview(self, request: HttpRequest, pk: int) -> HttpResponse:
        """A sample badge on this layout: the event's first ticket of the layout's type (or
        any), else a made-up attendee."""
        layout = self.get_queryset(request).filter(pk=pk).select_related("event").first()
        if layout is None or not self.has_view_permission(request, layout):
            raise Http404
        tickets = Ticket.objects.filter(event=layout.event, status=Ticket.Status.VALID)
        if layout.ticket_type_id:
            tickets = tickets.filter(ticket_type_id=layout.ticket_type_id)
        ticket = tickets.select_related("attendee", "ticket_type", "event").first()
        if ticket is not None:
            badge = selectors.badge_for(ticket, layout.language)
        else:
            badge = BadgeData(0, SAMPLE_NAME, SAMPLE_ORGANISATION,
                              layout.ticket_type.localized_name(layout.language)
                              if layout.ticket_type else _("Attendee"),
                              "#1d4e89", "VL1-0-0-SAMPLE0000000000")
        response = HttpResponse(render_badge(layout, layout.event, badge),
                                content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="badge-preview-{layout.pk}.pdf"'
        return response

    def save_model(self, request: HttpRequest, obj: BadgeLayout, form, change: bool) -> None:
        try:
            services.save_layout(obj)
        except ServiceError as exc:  # a race with another save: the form already checked
            self.message_user(request, exc.message, level="error")


@admin.register(BadgeColour)
class BadgeColourAdmin(OrganiserScopedAdmin):
    event_path = "ticket_type__event"
    list_display = ["ticket_type", "colour"]

    def save_model(self, request: HttpRequest, obj: BadgeColour, form, change: bool) -> None:
        services.set_colour(obj.ticket_type, obj.colour)
