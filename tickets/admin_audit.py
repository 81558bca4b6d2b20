"""The audit log in the organiser's console: read-only, scoped to the user's teams, filtered
per event and per attendee (the event's and the attendee's "History" open it)."""

from __future__ import annotations

import re

from django.apps import apps
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import FieldDoesNotExist
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from audit.actions import ACTIONS
from audit.models import AuditEntry
from tickets import selectors
from tickets.models import Attendee


def _id(value: str | None) -> int | None:
    """An id from the query string, or None: anything else (text, control characters, a
    number past bigint) filters nothing instead of failing the page."""
    if value and re.fullmatch(r"[0-9]{1,18}", value):
        return int(value)
    return None


class ActionFilter(admin.SimpleListFilter):
    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return [(code, label) for code, label in ACTIONS.items()]

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class ViaFilter(admin.SimpleListFilter):
    """Through what the action came, named for a person (a bare field filter would offer the
    stored codes, and an unnamed link for entries with none)."""

    title = _("via")
    parameter_name = "via"

    def lookups(self, request, model_admin):
        return [("admin", _("the console")), ("api", _("the API")),
                ("command", _("a command")), ("", _("the system"))]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset if value is None else queryset.filter(via=value)


class EventFilter(admin.SimpleListFilter):
    """Only the user's own events (ids are plain numbers: no relation to filter through)."""

    title = _("event")
    parameter_name = "event_id"

    def lookups(self, request, model_admin):
        return [(str(e.pk), e.name) for e in selectors.events_for_user(request.user)]

    def queryset(self, request, queryset):
        value = _id(self.value())
        return queryset.filter(event_id=value) if value is not None else queryset


class AttendeeFilter(admin.SimpleListFilter):
    """Set by the attendee's "History" link; offered only while it is set."""

    title = _("attendee")
    parameter_name = "attendee_id"

    def lookups(self, request, model_admin):
        value = _id(self.value())
        if value is None:
            return []
        found = Attendee.objects.filter(
            pk=value, event__in=selectors.events_for_user(request.user)).first()
        return [(str(value), found.name if found else _("deleted attendee #%s") % value)]

    def queryset(self, request, queryset):
        value = _id(self.value())
        return queryset.filter(attendee_id=value) if value is not None else queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_label", "via", "action_label", "object_label", "details"]
    # The change page (read-only) shows the entry as a person reads it, not its raw columns.
    fields = ["at", "actor_label", "via", "action_label", "object_kind", "object_label",
              "details"]
    readonly_fields = fields
    list_filter = [EventFilter, AttendeeFilter, ActionFilter, ViaFilter]
    search_fields = ["actor_label", "object_label"]
    date_hierarchy = "at"
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEntry]:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(organiser_id__in=selectors.organisers_for_user(request.user)
                         .values_list("pk", flat=True))

    # Read-only for everyone (on PostgreSQL the table refuses changes anyway); any staff member
    # may read their own teams' entries, so no extra permission is needed to see the log.
    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=_("action"))
    def action_label(self, obj: AuditEntry) -> str:
        return obj.action_label

    @admin.display(description=_("object type"))
    def object_kind(self, obj: AuditEntry) -> str:
        model = _model(obj.object_type)
        return str(model._meta.verbose_name) if model else obj.object_type

    @admin.display(description=_("details"))
    def details(self, obj: AuditEntry) -> str:
        """What changed, each name in the reader's language: a field by its model's name for
        it, the other details by ``DETAILS`` (the stored keys stay the same in every
        language, like the action codes)."""
        model = _model(obj.object_type)
        changes = obj.data.get("changes") if isinstance(obj.data, dict) else None
        if changes:
            return format_html_join("; ", "{}: {} → {}", (
                (_field_label(model, k), v[0], v[1]) for k, v in changes.items()))
        others = {k: v for k, v in (obj.data or {}).items() if k != "changes"}
        return format_html_join("; ", "{}: {}", (
            (DETAILS.get(k, k), v) for k, v in others.items()))


# The names of the details the services record next to an action (tickets/services/trail.py,
# checkin/services.py, tickets/attendee_csv.py).
DETAILS = {
    "ticket": _("ticket"), "version": _("version"), "reason": _("reason"), "key_id": _("key"),
    "queued": _("queued"), "created": _("created"), "skipped": _("skipped"), "gate": _("gate"),
}


def _model(object_type: str):
    return next((m for m in apps.get_models() if m._meta.model_name == object_type), None)


def _field_label(model, name: str) -> str:
    try:
        return str(model._meta.get_field(name).verbose_name)
    except (AttributeError, FieldDoesNotExist):  # no such model (any more) or field
        return name


def audit_url(**filters: int) -> str:
    return reverse("admin:audit_auditentry_changelist") + "?" + urlencode(filters)


class AuditHistoryMixin:
    """The admin's "History" button of an event or attendee opens its audit log."""

    audit_filter = "event_id"

    def history_view(self, request: HttpRequest, object_id: str, extra_context=None):
        found = self.get_object(request, unquote(object_id))  # within the user's teams
        if found is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        return HttpResponseRedirect(audit_url(**{self.audit_filter: found.pk}))
