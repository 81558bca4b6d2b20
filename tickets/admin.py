"""The organiser's back office. Staff users see only their own teams' events and data."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import get_fields_from_path
from django.db import models
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core import rate_limits
from core.errors import ServiceError
from tickets import selectors, services
from tickets.admin_audit import AuditHistoryMixin
from tickets.admin_forms import AttendeeAddForm, AttendeeChangeForm
from tickets.admin_import import ImportAttendeesMixin
from tickets.delivery.queue import resend
from tickets.forms import EventDesignFields
from tickets.models import Attendee, Delivery, Event, EventKey, Organiser, Ticket, TicketType


class DeliveryStateFilter(admin.SimpleListFilter):
    """Filter tickets by the state of their latest e-mail delivery."""

    title = _("e-mail delivery")
    parameter_name = "delivery"

    def lookups(self, request, model_admin):
        return [("none", _("never queued")), *Delivery.State.choices,
                ("duplicate", _("possible duplicate (in doubt)"))]

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


def _state_badge(state: str | None, error: str = "") -> str:
    if not state:
        return "—"
    label = Delivery.State(state).label
    # Colours come from tickets/admin.css (no inline styles under the CSP).
    return format_html('<span class="varco-state varco-state-{}" title="{}">{}</span>',
                       state, error, label)


def _queued(done: int) -> str:
    return ngettext("%(count)d ticket e-mail queued.", "%(count)d ticket e-mails queued.",
                    done) % {"count": done}


def _for_each_ticket(modeladmin: admin.ModelAdmin, request: HttpRequest, tickets, action,
                     done_message) -> None:
    """Run a ticket service on each ticket; a refusal is reported, the others go on."""
    done = 0
    for ticket in tickets:
        try:
            action(ticket)
            done += 1
        except ServiceError as exc:
            modeladmin.message_user(request, f"{ticket}: {exc.message}", messages.WARNING)
    modeladmin.message_user(request, done_message(done))


class OrganiserBudgetAdmin(admin.ModelAdmin):
    """A change made in the admin (a form saved, an action run, a deletion) is an organiser
    call like the API's, drawing on the same per-user budget (``VARCO_API_RATE``,
    core.rate_limits): registering attendees or resending tickets here is no way around
    the API's limit. Over it: a 429 page in the admin's look, nothing done."""

    def _over_budget(self, request: HttpRequest) -> HttpResponse | None:
        if request.method != "POST" or getattr(request, "_varco_charged", False):
            return None
        request._varco_charged = True  # one charge per request (views may call each other)
        wait = rate_limits.refused(request, rate_limits.OrganiserThrottle)
        if wait is None:
            return None
        context = {**self.admin_site.each_context(request), "seconds": wait,
                   "minutes": max(1, -(-wait // 60)), "title": _("Too many requests")}
        response = TemplateResponse(request, "tickets/admin_rate_limited.html", context,
                                    status=429)
        response["Retry-After"] = str(wait)
        return response

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return self._over_budget(request) or super().changeform_view(
            request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        return self._over_budget(request) or super().changelist_view(request, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        return self._over_budget(request) or super().delete_view(request, object_id,
                                                                 extra_context)


class OrganiserScopedAdmin(OrganiserBudgetAdmin):
    """Filter every list and every foreign-key choice to the user's teams."""

    event_path = "event"
    # Models whose rows go with the deleted object although nobody may delete them alone
    # (tickets, signing keys): their lack of a delete permission must not block the cascade.
    cascade_ok: tuple[type, ...] = ()

    def get_deleted_objects(self, objs, request: HttpRequest):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed = perms_needed - {str(m._meta.verbose_name) for m in self.cascade_ok}
        return deleted, counts, perms_needed, protected

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.event_path}__in": selectors.events_for_user(request.user)})

    def get_list_filter(self, request: HttpRequest):
        """Every filter on a relation offers only the values of the user's own rows.

        Django's plain related filter lists every row of the related table (other teams'
        events, lists, devices); a bare field name in ``list_filter`` is turned into the
        "related only" filter here, so a new filter cannot reintroduce that leak.
        """
        filters = super().get_list_filter(request)
        if request.user.is_superuser:
            return filters
        return [_only_own(self.model, item) for item in filters]

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


class ServiceCheckedForm(forms.ModelForm):
    """An admin form whose texts go through the services' one rule (``clean_text_fields``),
    each bad field named on the form; the cleaned (NFC, trimmed) values are what is saved."""

    text_rules: dict = {}

    def clean(self) -> dict:
        data = super().clean()
        for field in self.text_rules:
            if field not in data:
                continue
            try:
                data.update(services.clean_text_fields(self.text_rules, {field: data[field]}))
            except ServiceError as exc:
                self.add_error(field if field in self.fields else None, exc.message)
        if "name_i18n" in data and "name" in self.text_rules:
            try:
                data.update(services.clean_text_fields(
                    self.text_rules, {"name_i18n": data["name_i18n"]}))
            except ServiceError as exc:
                self.add_error("name_i18n", exc.message)
        return data


def _checked_form(rules: dict) -> type[ServiceCheckedForm]:
    return type("CheckedForm", (ServiceCheckedForm,), {"text_rules": rules})


# Filters offering only the values present in the user's (scoped) rows: the plain related
# filter would list every event and organiser in the database, other teams' included.
_ONLY_OWN = admin.RelatedOnlyFieldListFilter


class OwnValuesFieldListFilter(admin.AllValuesFieldListFilter):
    """The distinct values of a field reached through a relation (``event__venue``), taken from
    the user's own rows: Django's takes them from every row of the related table."""

    def __init__(self, field, request, params, model, model_admin, field_path) -> None:
        super().__init__(field, request, params, model, model_admin, field_path)
        self.lookup_choices = (
            model_admin.get_queryset(request).distinct().order_by(field_path)
            .values_list(field_path, flat=True)
        )


def _only_own(model: type, item):
    """``item`` of a ``list_filter``, made to offer only values of the user's own rows: a bare
    relation becomes a "related only" filter, a plain field across a relation (whose values
    Django would read from the whole related table) an ``OwnValuesFieldListFilter``."""
    if not isinstance(item, str):
        return item
    field = get_fields_from_path(model, item)[-1]
    if field.is_relation:
        return (item, _ONLY_OWN)
    static = field.flatchoices or isinstance(field, (models.BooleanField, models.DateField))
    if "__" in item and not static:
        return (item, OwnValuesFieldListFilter)
    return item


@admin.register(Organiser)
class OrganiserAdmin(OrganiserBudgetAdmin):
    form = _checked_form(services.ORGANISER_TEXT)
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    filter_horizontal = ["members"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.organisers_for_user(request.user)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        # The members widget lists every user account; teams are formed by the operator
        # (create_organiser) or a superuser, not by a team's own staff.
        return [] if request.user.is_superuser else ["members"]

    def get_prepopulated_fields(self, request: HttpRequest, obj=None):
        return self.prepopulated_fields if request.user.is_superuser else {}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser


class TicketTypeInline(admin.TabularInline):
    model = TicketType
    form = _checked_form(services.TICKET_TYPE_TEXT)
    extra = 0
    fields = ["name", "name_i18n", "price", "capacity", "issued_count", "public", "position"]
    readonly_fields = ["issued_count"]


@admin.register(Event)
class EventAdmin(ImportAttendeesMixin, AuditHistoryMixin, OrganiserScopedAdmin):
    change_form_template = "tickets/admin/event_change_form.html"
    event_path = "pk"
    cascade_ok = (EventKey,)
    # The ticket's look (logo, colour, practical information) as plain fields: forms.py.
    form = type("EventForm", (EventDesignFields, _checked_form(services.EVENT_TEXT)), {})
    exclude = ["practical_info"]  # edited as one text box per language and section
    list_display = ["name", "slug", "start", "venue", "capacity", "issued_count",
                    "registration_open"]
    list_filter = ["registration_open", ("organiser", _ONLY_OWN)]
    search_fields = ["name", "slug", "venue"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["issued_count", "last_serial"]
    inlines = [TicketTypeInline]
    actions = ["rotate_key", "close_registration", "open_registration"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.events_for_user(request.user)

    def get_actions(self, request: HttpRequest):
        # Bulk delete would take events with their tickets; one at a time, see below.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request: HttpRequest, obj: Event | None = None) -> bool:
        # An event with tickets is closed, never deleted: its attendees would be lost.
        if obj is not None and obj.tickets.exists():
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        services.save_event(obj)

    def save_formset(self, request, form, formset, change) -> None:
        if formset.model is not TicketType:
            super().save_formset(request, form, formset, change)
            return
        # The ticket types edited inline are saved by the API's service, like the others.
        formset.save(commit=False)
        for ticket_type in formset.deleted_objects:
            services.delete_ticket_type(ticket_type)
        for ticket_type, changed in formset.changed_objects:
            services.save_ticket_type(
                form.instance, {field: getattr(ticket_type, field) for field in changed},
                ticket_type)
        for ticket_type in formset.new_objects:
            services.save_ticket_type(form.instance, _text_values(ticket_type), ticket_type)

    def delete_model(self, request: HttpRequest, obj: Event) -> None:
        services.delete_event(obj)

    @admin.action(description=_("Rotate the signing key (issued tickets stay valid)"))
    def rotate_key(self, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        for event in queryset:
            services.rotate_event_key(event)
        count = queryset.count()
        self.message_user(request, ngettext("New signing key for %(count)d event.",
                                            "New signing key for %(count)d events.", count)
                          % {"count": count})

    @admin.action(description=_("Close registration"))
    def close_registration(self, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        count = services.set_registration_open(queryset, False)
        self.message_user(request, ngettext("Registration closed for %(count)d event.",
                                            "Registration closed for %(count)d events.", count)
                          % {"count": count})

    @admin.action(description=_("Open registration"))
    def open_registration(self, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        count = services.set_registration_open(queryset, True)
        self.message_user(request, ngettext("Registration opened for %(count)d event.",
                                            "Registration opened for %(count)d events.", count)
                          % {"count": count})


@admin.register(TicketType)
class TicketTypeAdmin(OrganiserScopedAdmin):
    form = _checked_form(services.TICKET_TYPE_TEXT)
    list_display = ["name", "event", "price", "capacity", "issued_count", "public"]
    list_filter = [("event", _ONLY_OWN), "public"]
    search_fields = ["name"]
    readonly_fields = ["issued_count"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        # Moving a type to another event would leave its tickets behind in the old one.
        return [*self.readonly_fields, "event"] if obj else self.readonly_fields

    def save_model(self, request, obj: TicketType, form, change) -> None:
        changes = {field: getattr(obj, field) for field in form.changed_data}
        if not change:
            changes.update(_text_values(obj))
        services.save_ticket_type(obj.event, changes, obj)


def _text_values(ticket_type: TicketType) -> dict:
    """A new ticket type's texts, for the service to check (the name rule, a taken name)."""
    return {"name": ticket_type.name, "name_i18n": ticket_type.name_i18n}


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
class AttendeeAdmin(AuditHistoryMixin, OrganiserScopedAdmin):
    audit_filter = "attendee_id"
    form = AttendeeChangeForm
    list_display = ["name", "email", "organisation", "language", "event", "created_at"]
    list_filter = [("event", _ONLY_OWN), "language"]
    search_fields = ["name", "email", "organisation", "tickets__reference"]
    inlines = [TicketInline]
    list_per_page = 100
    cascade_ok = (Ticket,)

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = AttendeeAddForm
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            types = TicketType.objects.select_related("event")
            if not request.user.is_superuser:
                types = types.filter(event__in=selectors.events_for_user(request.user))
            form.base_fields["ticket_type"].queryset = types
        return form

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return ["event"] if obj else []

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Attendee],
                           search_term: str) -> tuple[QuerySet[Attendee], bool]:
        """The door's and the API's search (accent-, case- and script-blind, indexed), not
        Django's ``icontains`` over ``search_fields`` (which only keep the search box shown)."""
        if not search_term.strip():
            return queryset, False
        return selectors.matching_attendees(queryset, search_term), False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """The form checks places and duplicates, but a registration elsewhere can take the
        last place (or the e-mail) between that check and ``save_model``; ``register`` then
        refuses under the database's guard and nothing is saved. The form is shown again, and
        its checks now name the problem, instead of an error page."""
        for _attempt in range(2):
            try:
                return super().changeform_view(request, object_id, form_url, extra_context)
            except ServiceError as exc:
                if object_id is not None or request.method != "POST":
                    raise
                self.message_user(request, _("%(reason)s Nothing was saved.")
                                  % {"reason": exc.message}, messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request: HttpRequest, obj: Attendee, form, change: bool) -> None:
        if change:
            services.update_attendee(
                obj, {f: getattr(obj, f) for f in ("name", "email", "organisation", "language")}
            )
            return
        ticket_type = form.cleaned_data.get("ticket_type")
        ticket = services.register(
            obj.event,
            services.Registration(
                obj.name, obj.email, obj.organisation, obj.language,
                ticket_type_id=ticket_type.pk if ticket_type else None,
            ),
        )
        obj.pk = ticket.attendee_id
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: Attendee) -> None:
        services.delete_attendee(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Attendee]) -> None:
        for attendee in queryset:
            services.delete_attendee(attendee)


@admin.register(Ticket)
class TicketAdmin(OrganiserScopedAdmin):
    class Media:
        css = {"all": ["tickets/admin.css"]}

    list_display = ["serial", "reference", "attendee", "organisation", "ticket_type", "status",
                    "version", "delivery_state", "delivery_error", "event"]
    list_filter = [("event", _ONLY_OWN), "status", DeliveryStateFilter, ("ticket_type", _ONLY_OWN)]
    search_fields = ["reference", "attendee__name", "attendee__email", "attendee__organisation"]
    list_select_related = ["attendee", "ticket_type", "event"]
    readonly_fields = ["event", "attendee", "ticket_type", "serial", "reference", "status",
                       "version", "created_at", "updated_at"]
    actions = ["resend", "revoke", "reissue"]
    list_per_page = 100

    def has_add_permission(self, request) -> bool:
        return False  # tickets are issued by registering an attendee

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # Tickets change only through revoke/reissue (which keep counters and codes right);
        # a form save would write back status and version read a moment earlier.
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # revoke instead: the place is freed and the code refused

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("tickets.change_ticket")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(
            latest_delivery_state=_latest("state"), latest_delivery_error=_latest("last_error")
        )

    @admin.display(description=_("e-mail"), ordering="latest_delivery_state")
    def delivery_state(self, obj: Ticket) -> str:
        return _state_badge(obj.latest_delivery_state, obj.latest_delivery_error or "")

    @admin.display(description=_("SMTP answer / error"))
    def delivery_error(self, obj: Ticket) -> str:
        if obj.latest_delivery_state in ("sent", None):
            return ""
        return (obj.latest_delivery_error or "")[:120]

    @admin.action(description=_("Send the ticket e-mail again"))
    def resend(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        _for_each_ticket(self, request, queryset.select_related("attendee"), resend, _queued)

    @admin.display(description=_("organisation"), ordering="attendee__organisation")
    def organisation(self, obj: Ticket) -> str:
        return obj.attendee.organisation

    @admin.action(description=_("Revoke selected tickets (their QR codes stop working)"),
                  permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        count = 0
        for ticket in queryset.filter(status=Ticket.Status.VALID):
            services.revoke_ticket(ticket)
            count += 1
        self.message_user(request, ngettext("%(count)d ticket revoked.",
                                            "%(count)d tickets revoked.", count)
                          % {"count": count})

    @admin.action(description=_("Reissue selected tickets (new QR code, sent by e-mail)"),
                  permissions=["revoke"])
    def reissue(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        _for_each_ticket(self, request, queryset, services.reissue_ticket, lambda done: ngettext(
            "%(count)d ticket reissued.", "%(count)d tickets reissued.", done) % {"count": done})


@admin.register(EventKey)
class EventKeyAdmin(OrganiserScopedAdmin):
    list_display = ["pk", "event", "active", "created_at"]
    list_filter = ["active"]
    readonly_fields = ["event", "public_key", "active", "created_at"]
    exclude = ["private_key"]

    def has_add_permission(self, request) -> bool:
        return False  # keys are made with the event and by the "rotate key" action

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # every code it signed would stop verifying


@admin.register(Delivery)
class DeliveryAdmin(OrganiserScopedAdmin):
    """Every e-mail sent (or not) for a ticket, with the SMTP server's answers."""

    class Media:
        css = {"all": ["tickets/admin.css"]}


    event_path = "ticket__event"
    list_display = ["ticket", "recipient", "state_badge", "reason", "attempts",
                    "in_doubt_count", "last_error_short", "updated_at"]
    list_filter = ["state", "reason", ("ticket__event", _ONLY_OWN)]
    search_fields = ["recipient", "ticket__reference", "message_id", "ticket__attendee__name"]
    list_select_related = ["ticket"]
    readonly_fields = [f.name for f in Delivery._meta.fields]
    actions = ["send_again"]
    list_per_page = 100

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the history of what was sent stays

    @admin.display(description=_("state"), ordering="state")
    def state_badge(self, obj: Delivery) -> str:
        return _state_badge(obj.state, obj.last_error)

    @admin.display(description=_("last SMTP answer / error"))
    def last_error_short(self, obj: Delivery) -> str:
        return (obj.last_error or obj.smtp_response)[:120]  # a failure, else the "250 …"

    @admin.action(description=_("Send these tickets again"))
    def send_again(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        tickets = Ticket.objects.filter(pk__in=queryset.values("ticket")).select_related(
            "attendee")
        _for_each_ticket(self, request, tickets, resend, _queued)
