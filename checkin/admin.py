"""Admin for check-in: lists, devices (token shown once with its pairing QR), the scan log.

Lists and devices are written by ``checkin.services``, whose checks the forms call to name the
field at fault: the admin follows the same rules as the organiser API.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from checkin import services
from checkin.models import CheckinList, Device, Presence, ScanLog
from core.errors import ServiceError
from tickets import selectors
from tickets.admin import OrganiserScopedAdmin

# Related filters list only the values in the user's own rows (no other team's names).
_ONLY_OWN = admin.RelatedOnlyFieldListFilter


def _base(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def _refuse(form: forms.ModelForm, exc: ServiceError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


class CheckinListForm(forms.ModelForm):
    class Meta:
        model = CheckinList
        fields = ["event", "name", "ticket_types", "allow_reentry", "allow_exit", "opens_at",
                  "closes_at", "position"]

    def clean(self) -> dict:
        data = super().clean()
        event = data.get("event") or (self.instance.event if self.instance.pk else None)
        try:
            services.check_hours(data.get("opens_at"), data.get("closes_at"))
            if event is not None:
                services.check_types(event, data.get("ticket_types") or [])
                if data.get("name"):
                    services.check_name(event, data["name"],
                                        self.instance if self.instance.pk else None)
        except ServiceError as exc:
            _refuse(self, exc)
        return data


_LIST_FIELDS = ("allow_reentry", "allow_exit", "opens_at", "closes_at", "position")


@admin.register(CheckinList)
class CheckinListAdmin(OrganiserScopedAdmin):
    form = CheckinListForm
    list_display = ["name", "event", "all_ticket_types", "allow_reentry", "allow_exit",
                    "opens_at", "closes_at"]
    list_filter = [("event", _ONLY_OWN), "allow_reentry", "allow_exit"]
    search_fields = ["name"]
    filter_horizontal = ["ticket_types"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "event"] if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: CheckinList, form, change: bool) -> None:
        data = form.cleaned_data
        fields = {name: data[name] for name in _LIST_FIELDS if name in data}
        types = data.get("ticket_types")
        if change:
            services.update_list(obj, ticket_types=types, name=obj.name, **fields)
            return
        created = services.create_list(obj.event, obj.name, ticket_types=types, **fields)
        obj.pk, obj.all_ticket_types = created.pk, created.all_ticket_types
        obj._state.adding = False

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        # The ticket types were set by the service: only the inlines (none today) are left.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if not request.user.is_superuser and db_field.name == "ticket_types":
            kwargs["queryset"] = db_field.related_model.objects.filter(
                event__in=selectors.events_for_user(request.user)
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class DeviceForm(forms.ModelForm):
    class Meta:
        model = Device
        fields = ["event", "name", "gate", "lists"]

    def clean(self) -> dict:
        data = super().clean()
        event = data.get("event") or (self.instance.event if self.instance.pk else None)
        if event is not None and "lists" in data:
            try:
                services.check_lists(event, data["lists"])
            except ServiceError as exc:
                _refuse(self, exc)
        return data


@admin.register(Device)
class DeviceAdmin(OrganiserScopedAdmin):
    form = DeviceForm
    list_display = ["name", "gate", "event", "token_hint", "created_at", "last_seen_at",
                    "revoked_at"]
    list_filter = [("event", _ONLY_OWN), "revoked_at"]
    search_fields = ["name", "gate"]
    filter_horizontal = ["lists"]
    readonly_fields = ["token_hint", "created_at", "last_seen_at", "revoked_at"]
    actions = ["revoke", "rotate_token"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "event"] if obj is not None else fields

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if not request.user.is_superuser and db_field.name == "lists":
            kwargs["queryset"] = CheckinList.objects.filter(
                event__in=selectors.events_for_user(request.user)
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Device, form, change: bool) -> None:
        lists = form.cleaned_data.get("lists")
        if change:
            services.update_device(obj, lists=lists, name=obj.name, gate=obj.gate)
            return
        created, token = services.create_device(obj.event, obj.name, obj.gate, lists=lists,
                                                created_by=request.user)
        obj.pk, obj.token_hash, obj.token_hint = created.pk, created.token_hash, created.token_hint
        obj.created_by, obj.created_at = created.created_by, created.created_at
        obj._state.adding = False
        request._device_token = token  # shown once, on the page response_add returns

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        # The lists were set by the service: only the inlines (none today) are left.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def _token_page(self, request: HttpRequest, device: Device, token: str) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "device": device,
            "token": token,
            # Built on the address the organiser reached the admin by: the phone reaches it too.
            "pairing_url": services.pairing_url(token, _base(request)),
            "pairing_qr": mark_safe(services.pairing_qr_svg(token, _base(request))),  # our SVG
            "title": _("Pair %(device)s") % {"device": device},
        }
        return TemplateResponse(request, "checkin/admin/device_token.html", context)

    def response_add(self, request: HttpRequest, obj: Device, post_url_continue=None):
        token = getattr(request, "_device_token", None)
        if token is None:
            return super().response_add(request, obj, post_url_continue)
        return self._token_page(request, obj, token)

    @admin.action(description=_("Revoke selected devices (their tokens stop working)"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        for device in queryset:
            services.revoke_device(device)
        count = queryset.count()
        self.message_user(request, ngettext("%(count)d device revoked.",
                                            "%(count)d devices revoked.", count)
                          % {"count": count})

    @admin.action(description=_("New token and pairing QR for one device"))
    def rotate_token(self, request: HttpRequest, queryset: QuerySet[Device]):
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one device."), level="warning")
            return None
        try:
            device, token = services.rotate_device_token(queryset.get())
        except ServiceError as exc:
            self.message_user(request, exc.message, level="error")
            return None
        return self._token_page(request, device, token)


@admin.register(ScanLog)
class ScanLogAdmin(OrganiserScopedAdmin):
    """The append-only log: read only, filterable; offline conflicts have their own filter."""

    # Readable on a 1,366 px screen: who, where, what answer and why; the device's own time
    # and the offline conflicts are filters (and on each row's page).
    list_display = ["received_at", "attendee", "result", "reason", "direction", "device",
                    "list", "source"]
    # "untrusted scanned at" not empty: a device's clock was not believed
    # (checkin/scanning/clock.py)
    list_filter = ["conflict", "result", "reason", "source", "direction", ("event", _ONLY_OWN),
                   ("list", _ONLY_OWN), ("device", _ONLY_OWN),
                   ("untrusted_scanned_at", admin.EmptyFieldListFilter)]
    search_fields = ["ticket__attendee__name", "ticket__attendee__organisation",
                     "ticket__reference", "nonce"]
    list_select_related = ["ticket__attendee", "list", "device"]
    # Newest first, and a total order so that paging through a busy log skips no row.
    ordering = ["-received_at", "-id"]
    date_hierarchy = "received_at"
    list_per_page = 100

    @admin.display(description=_("attendee"), ordering="ticket__attendee__name")
    def attendee(self, obj: ScanLog) -> str:
        return obj.ticket.attendee.name if obj.ticket else "—"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Presence)
class PresenceAdmin(OrganiserScopedAdmin):
    list_display = ["ticket", "attendee", "list", "inside", "entries", "exits",
                    "first_entry_at", "last_entry_at"]
    list_filter = ["inside", ("list", _ONLY_OWN), ("event", _ONLY_OWN)]
    search_fields = ["ticket__attendee__name", "ticket__reference"]
    list_select_related = ["ticket__attendee", "list"]

    @admin.display(description=_("attendee"), ordering="ticket__attendee__name")
    def attendee(self, obj: Presence) -> str:
        return obj.ticket.attendee.name

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
