"""The event and ticket-type pages of the console: real widgets on the apps' ModelAdmins.

The rules (scoping, saving through ``tickets.services``) stay in ``tickets/admin.py``; these
subclasses change what the organiser fills in: languages as check boxes, translated names as
one field per language of the event, dates in the event's time zone, a link to the event home.
"""

from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from checkin.admin import CheckinListAdmin, DeviceAdmin
from console.widgets import (
    EventFormMixin,
    label_split_datetimes_of,
    translations_form,
    with_translations,
)
from core import languages
from tickets import selectors
from tickets.admin import EventAdmin, TicketTypeAdmin, TicketTypeInline
from tickets.models import Event


def _zone(name: str | None) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def event_zone(request: HttpRequest, event: Event | None) -> zoneinfo.ZoneInfo:
    """The zone the event's dates are shown and typed in: the one being chosen on the form
    (a new event, or a changed zone), else the event's, else the site's."""
    posted = _zone(request.POST.get("timezone")) if request.method == "POST" else None
    return posted or (event.tzinfo if event else None) or timezone.get_default_timezone()


class ConsoleTicketTypeInline(TicketTypeInline):
    # Stacked, not tabular: each field keeps its own label (a table's header is no label for
    # assistive technology, axe's "label" rule) and the form fits a phone.
    template = "admin/edit_inline/stacked.html"

    def get_fields(self, request: HttpRequest, obj: Event | None = None):
        return with_translations(super().get_fields(request, obj), _codes(obj))

    def get_formset(self, request: HttpRequest, obj: Event | None = None, **kwargs):
        kwargs["form"] = translations_form(self.form, _codes(obj))
        return super().get_formset(request, obj, **kwargs)


def _codes(event: Event | None) -> tuple[str, ...]:
    return tuple(event.languages or ()) if event else languages.CODES


class ConsoleEventAdmin(EventAdmin):
    form = type("EventForm", (EventFormMixin, EventAdmin.form), {})
    inlines = [ConsoleTicketTypeInline]
    list_display = ["home_link", *[("local_start" if name == "start" else name)
                                   for name in EventAdmin.list_display]]
    list_display_links = ["name"]

    @admin.display(description=_("event home"))
    def home_link(self, obj: Event) -> str:
        return format_html('<a class="button" href="{}">{}</a>',
                           reverse("admin:console-event-home", args=[obj.pk]), _("Open"))

    @admin.display(description=_("start"), ordering="start")
    def local_start(self, obj: Event) -> str:
        """In the event's own zone, as its page and the attendees see it."""
        return formats.date_format(obj.start.astimezone(obj.tzinfo), "DATETIME_FORMAT")

    def get_fields(self, request: HttpRequest, obj: Event | None = None):
        fields = list(super().get_fields(request, obj))
        if "default_language" not in fields and "languages" in fields:
            fields.insert(fields.index("languages") + 1, "default_language")
        return fields

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        event = self.get_object(request, object_id) if object_id else None
        with timezone.override(event_zone(request, event)):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            # Rendered here: a TemplateResponse renders after the view, out of the zone.
            return response.render() if hasattr(response, "render") else response

    def response_add(self, request, obj: Event, post_url_continue=None):
        # A new event opens on its home page: where the organiser goes next.
        if "_continue" in request.POST or "_addanother" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        super().response_add(request, obj, post_url_continue)  # its message
        return HttpResponseRedirect(reverse("admin:console-event-home", args=[obj.pk]))


class ConsoleTicketTypeAdmin(TicketTypeAdmin):
    def get_fields(self, request: HttpRequest, obj=None):
        codes = _codes(obj.event) if obj else languages.CODES
        return with_translations(super().get_fields(request, obj), codes)

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        codes = _codes(obj.event) if obj else languages.CODES
        kwargs["form"] = translations_form(self.form, codes)
        return super().get_form(request, obj, change=change, **kwargs)


class AccessibleWidgetsMixin:
    """Check boxes for many-to-many choices (the admin's two-box filter widget carries ARIA
    attributes axe refuses), and labelled date and time boxes."""

    filter_horizontal = ()

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs["widget"] = forms.CheckboxSelectMultiple
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None:
            label_split_datetimes_of(field)
        return field


class ConsoleDeviceAdmin(AccessibleWidgetsMixin, DeviceAdmin):
    pass


class ConsoleCheckinListAdmin(AccessibleWidgetsMixin, CheckinListAdmin):
    """A list's opening hours in its event's time zone."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        checkin_list = self.get_object(request, object_id) if object_id else None
        event = checkin_list.event if checkin_list else None
        posted = request.POST.get("event") if request.method == "POST" else None
        if event is None and posted and posted.isdigit():
            event = selectors.events_for_user(request.user).filter(pk=int(posted)).first()
        with timezone.override(event.tzinfo if event else timezone.get_default_timezone()):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            return response.render() if hasattr(response, "render") else response

