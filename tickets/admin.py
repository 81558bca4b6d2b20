"""The organiser's back office. Staff users see only their own teams' events and data."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils.html import format_html

from tickets import delivery, selectors, services
from tickets.models import Attendee, Delivery, Event, EventKey, Organiser, Ticket, TicketType


class DeliveryStateFilter(admin.SimpleListFilter):
    """Filter tickets by the state of their latest e-mail delivery."""

    title = "e-mail delivery"
    parameter_name = "delivery"

    def lookups(self, request, model_admin):
        return [("none", "never queued"), *Delivery.State.choices,
                ("duplicate", "possible duplicate (in doubt)")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(latest_delivery_state__isnull=True)
        if value == "duplicate":
            return queryset.filter(deliveries__in_doubt_count__gt=0).distinct()
        if value in Delivery.State.values:
            return queryset.filter(latest_delivery_state=value)
        return queryset


def _latest(field: str) -> Subquery:
    return Subquery(
        Delivery.objects.filter(ticket=OuterRef("pk")).order_by("-pk").values(field)[:1]
    )


_STATE_COLOURS = {"sent": "#1a7f37", "failed": "#b00020", "in_doubt": "#b35900",
                  "queued": "#5f6b7a", "sending": "#1d4e89", "cancelled": "#5f6b7a"}


def _state_badge(state: str | None, error: str = "") -> str:
    if not state:
        return "—"
    label = Delivery.State(state).label
    return format_html('<span style="color:{};font-weight:bold" title="{}">{}</span>',
                       _STATE_COLOURS.get(state, "inherit"), error, label)


class OrganiserScopedAdmin(admin.ModelAdmin):
    """Filter every list and every foreign-key choice to the user's teams."""

    event_path = "event"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(
            **{f"{self.event_path}__in": selectors.events_for_user(request.user)}
        ).distinct()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            if db_field.related_model is Event:
                kwargs["queryset"] = selectors.events_for_user(request.user)
            elif db_field.related_model is Organiser:
                kwargs["queryset"] = selectors.organisers_for_user(request.user)
            elif db_field.related_model in (Attendee, TicketType):
                kwargs["queryset"] = db_field.related_model.objects.filter(
                    event__in=selectors.events_for_user(request.user)
                )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Organiser)
class OrganiserAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    filter_horizontal = ["members"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.organisers_for_user(request.user)


class TicketTypeInline(admin.TabularInline):
    model = TicketType
    extra = 0
    fields = ["name", "name_i18n", "price", "capacity", "issued_count", "public", "position"]
    readonly_fields = ["issued_count"]


@admin.register(Event)
class EventAdmin(OrganiserScopedAdmin):
    event_path = "pk"
    list_display = ["name", "slug", "start", "venue", "capacity", "issued_count",
                    "registration_open"]
    list_filter = ["registration_open", "organiser"]
    search_fields = ["name", "slug", "venue"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["issued_count", "last_serial"]
    inlines = [TicketTypeInline]
    actions = ["rotate_key", "close_registration", "open_registration"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.events_for_user(request.user)

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        services.ensure_event_key(obj)

    @admin.action(description="Rotate the signing key (issued tickets stay valid)")
    def rotate_key(self, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        for event in queryset:
            services.rotate_event_key(event)
        self.message_user(request, f"New signing key for {queryset.count()} event(s).")

    @admin.action(description="Close registration")
    def close_registration(self, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        queryset.update(registration_open=False)

    @admin.action(description="Open registration")
    def open_registration(self, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        queryset.update(registration_open=True)


@admin.register(TicketType)
class TicketTypeAdmin(OrganiserScopedAdmin):
    list_display = ["name", "event", "price", "capacity", "issued_count", "public"]
    list_filter = ["event", "public"]
    search_fields = ["name"]
    readonly_fields = ["issued_count"]


class TicketInline(admin.TabularInline):
    model = Ticket
    extra = 0
    fields = ["serial", "reference", "ticket_type", "status", "version"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Attendee)
class AttendeeAdmin(OrganiserScopedAdmin):
    list_display = ["name", "email", "organisation", "language", "event", "created_at"]
    list_filter = ["event", "language"]
    search_fields = ["name", "email", "organisation", "tickets__reference"]
    inlines = [TicketInline]
    list_per_page = 100


@admin.register(Ticket)
class TicketAdmin(OrganiserScopedAdmin):
    list_display = ["serial", "reference", "attendee", "organisation", "ticket_type", "status",
                    "version", "delivery_state", "delivery_error", "event"]
    list_filter = ["event", "status", DeliveryStateFilter, "ticket_type"]
    search_fields = ["reference", "attendee__name", "attendee__email", "attendee__organisation"]
    list_select_related = ["attendee", "ticket_type", "event"]
    readonly_fields = ["event", "serial", "reference", "status", "version", "created_at",
                       "updated_at"]
    actions = ["resend", "revoke", "reissue"]
    list_per_page = 100

    def has_add_permission(self, request) -> bool:
        return False  # tickets are issued by registering an attendee

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(
            latest_delivery_state=_latest("state"), latest_delivery_error=_latest("last_error")
        )

    @admin.display(description="e-mail", ordering="latest_delivery_state")
    def delivery_state(self, obj: Ticket) -> str:
        return _state_badge(obj.latest_delivery_state, obj.latest_delivery_error or "")

    @admin.display(description="SMTP answer / error")
    def delivery_error(self, obj: Ticket) -> str:
        if obj.latest_delivery_state in ("sent", None):
            return ""
        return (obj.latest_delivery_error or "")[:120]

    @admin.action(description="Send the ticket e-mail again")
    def resend(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        done = 0
        for ticket in queryset.select_related("attendee"):
            try:
                delivery.resend(ticket)
                done += 1
            except services.ServiceError as exc:
                self.message_user(request, f"{ticket}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{done} ticket e-mail(s) queued.")

    @admin.display(ordering="attendee__organisation")
    def organisation(self, obj: Ticket) -> str:
        return obj.attendee.organisation

    @admin.action(description="Revoke selected tickets (their QR codes stop working)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        count = 0
        for ticket in queryset.filter(status=Ticket.Status.VALID):
            services.revoke_ticket(ticket)
            count += 1
        self.message_user(request, f"{count} ticket(s) revoked.")

    @admin.action(description="Reissue selected tickets (new QR code, sent by e-mail)")
    def reissue(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        done = 0
        for ticket in queryset:
            try:
                services.reissue_ticket(ticket)
                done += 1
            except services.ServiceError as exc:
                self.message_user(request, f"{ticket}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{done} ticket(s) reissued.")


@admin.register(EventKey)
class EventKeyAdmin(OrganiserScopedAdmin):
    list_display = ["pk", "event", "active", "created_at"]
    list_filter = ["active"]
    readonly_fields = ["event", "public_key", "active", "created_at"]
    exclude = ["private_key"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(OrganiserScopedAdmin):
    """Every e-mail sent (or not) for a ticket, with the SMTP server's answers."""

    event_path = "ticket__event"
    list_display = ["pk", "ticket", "recipient", "state_badge", "reason", "attempts",
                    "in_doubt_count", "last_error_short", "sent_at", "updated_at"]
    list_filter = ["state", "reason", "ticket__event"]
    search_fields = ["recipient", "ticket__reference", "message_id", "ticket__attendee__name"]
    list_select_related = ["ticket"]
    readonly_fields = [f.name for f in Delivery._meta.fields]
    actions = ["send_again"]
    list_per_page = 100

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the history of what was sent stays

    @admin.display(description="state", ordering="state")
    def state_badge(self, obj: Delivery) -> str:
        return _state_badge(obj.state, obj.last_error)

    @admin.display(description="last SMTP answer / error")
    def last_error_short(self, obj: Delivery) -> str:
        return obj.last_error[:120]

    @admin.action(description="Send these tickets again")
    def send_again(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        tickets = Ticket.objects.filter(pk__in=queryset.values("ticket")).select_related(
            "attendee")
        done = 0
        for ticket in tickets:
            try:
                delivery.resend(ticket)
                done += 1
            except services.ServiceError as exc:
                self.message_user(request, f"{ticket}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{done} ticket e-mail(s) queued.")
