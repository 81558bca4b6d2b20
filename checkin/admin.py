"""Admin for check-in: lists, devices (token shown once with its pairing QR), the scan log."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.safestring import mark_safe

from checkin import devices, services
from checkin.models import CheckinList, Device, Presence, ScanLog
from core.errors import ServiceError
from tickets import selectors
from tickets.admin import OrganiserScopedAdmin

# Related filters list only the values in the user's own rows (no other team's names).
_ONLY_OWN = admin.RelatedOnlyFieldListFilter


@admin.register(CheckinList)
class CheckinListAdmin(OrganiserScopedAdmin):
    list_display = ["name", "event", "all_ticket_types", "allow_reentry", "allow_exit",
                    "opens_at", "closes_at"]
    list_filter = [("event", _ONLY_OWN), "allow_reentry", "allow_exit"]
    search_fields = ["name"]
    filter_horizontal = ["ticket_types"]

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
        event = data.get("event")
        for checkin_list in data.get("lists") or []:
            if event is not None and checkin_list.event_id != event.pk:
                self.add_error("lists", f"{checkin_list} belongs to another event.")
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
        if not change:
            token = devices.new_token()
            obj.token_hash = devices.hash_token(token)
            obj.token_hint = token[-4:]
            obj.created_by = request.user
            request._device_token = token
        super().save_model(request, obj, form, change)
        devices.device_cache.clear()

    def _token_page(self, request: HttpRequest, device: Device, token: str) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "device": device,
            "token": token,
            "pairing_url": services.pairing_url(token),
            "pairing_qr": mark_safe(services.pairing_qr_svg(token)),  # our own SVG
            "title": f"Pair {device}",
        }
        return TemplateResponse(request, "checkin/admin/device_token.html", context)

    def response_add(self, request: HttpRequest, obj: Device, post_url_continue=None):
        token = getattr(request, "_device_token", None)
        if token is None:
            return super().response_add(request, obj, post_url_continue)
        return self._token_page(request, obj, token)

    @admin.action(description="Revoke selected devices (their tokens stop working)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        for device in queryset:
            services.revoke_device(device)
        self.message_user(request, f"{queryset.count()} device(s) revoked.")

    @admin.action(description="New token and pairing QR for one device")
    def rotate_token(self, request: HttpRequest, queryset: QuerySet[Device]):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one device.", level="warning")
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

    list_display = ["received_at", "scanned_at", "direction", "result", "reason", "source",
                    "conflict", "attendee", "list", "device", "untrusted_scanned_at"]
    # "untrusted scanned at" not empty: a device's clock was not believed
    # (checkin/scanning/clock.py)
    list_filter = ["conflict", "result", "reason", "source", "direction", ("event", _ONLY_OWN),
                   ("list", _ONLY_OWN), ("device", _ONLY_OWN),
                   ("untrusted_scanned_at", admin.EmptyFieldListFilter)]
    search_fields = ["ticket__attendee__name", "ticket__attendee__organisation",
                     "ticket__reference", "nonce"]
    list_select_related = ["ticket__attendee", "list", "device"]
    date_hierarchy = "received_at"
    list_per_page = 100

    @admin.display(ordering="ticket__attendee__name")
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

    @admin.display(ordering="ticket__attendee__name")
    def attendee(self, obj: Presence) -> str:
        return obj.ticket.attendee.name

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
