"""The attendee list that answers the day's questions: which ticket, was the e-mail delivered,
has the person arrived; filters for each; resend and revoke in bulk (through the services).

The search (``get_search_results``) is ``tickets.admin.AttendeeAdmin``'s, inherited.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from badges.admin_printing import reprint_action
from checkin.models import Presence
from console.figures import WAITING
from core.errors import ServiceError
from tickets import selectors, services
from tickets.admin import AttendeeAdmin, TicketInline
from tickets.delivery.queue import resend
from tickets.models import Attendee, Delivery, Ticket, TicketType


def _ticket(field: str) -> Subquery:
    """The attendee's current ticket's ``field``: the valid one, else the newest."""
    return Subquery(Ticket.objects.filter(attendee=OuterRef("pk"))
                    .order_by("-status", "-pk").values(field)[:1])


def _delivery_state() -> Subquery:
    return Subquery(Delivery.objects.filter(ticket__attendee=OuterRef("pk"))
                    .order_by("-pk").values("state")[:1])


class CheckinStateFilter(admin.SimpleListFilter):
    title = _("check-in")
    parameter_name = "checkin"

    def lookups(self, request, model_admin):
        return [("inside", _("inside now")), ("came", _("checked in")),
                ("none", _("not arrived"))]

    def queryset(self, request, queryset):
        return {"inside": queryset.filter(is_inside=True),
                "came": queryset.filter(has_come=True),
                "none": queryset.filter(has_come=False)}.get(self.value(), queryset)


class DeliveryFilter(admin.SimpleListFilter):
    title = _("ticket e-mail")
    parameter_name = "email"

    def lookups(self, request, model_admin):
        return [("sent", _("sent")), ("waiting", _("waiting")), ("failed", _("failed")),
                ("none", _("not sent"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "sent":
            return queryset.filter(delivery_state=Delivery.State.SENT)
        if value == "waiting":
            return queryset.filter(delivery_state__in=WAITING)
        if value == "failed":
            return queryset.filter(delivery_state=Delivery.State.FAILED)
        if value == "none":
            return queryset.filter(delivery_state__isnull=True)
        return queryset


class TicketStatusFilter(admin.SimpleListFilter):
    title = _("ticket")
    parameter_name = "ticket"

    def lookups(self, request, model_admin):
        return list(Ticket.Status.choices)

    def queryset(self, request, queryset):
        if self.value() in Ticket.Status.values:
            return queryset.filter(ticket_status=self.value())
        return queryset


class TicketTypeFilter(admin.SimpleListFilter):
    """Only the user's own events' ticket types are offered."""

    title = _("ticket type")
    parameter_name = "type"

    def lookups(self, request, model_admin):
        types = TicketType.objects.select_related("event")
        if not request.user.is_superuser:
            types = types.filter(event__in=selectors.events_for_user(request.user))
        return [(str(t.pk), str(t)) for t in types]

    def queryset(self, request, queryset):
        value = self.value() or ""
        # ASCII digits of an id's size: "²" or a 30-digit number is no ticket type (and the
        # database would refuse to compare it).
        if value.isascii() and value.isdigit() and len(value) <= 18:
            return queryset.filter(ticket_type_id=int(value))
        return queryset


class ConsoleTicketInline(TicketInline):
    # Stacked: a read-only table's empty header cells are a WCAG failure (axe), and each
    # value keeps its label on a phone.
    template = "admin/edit_inline/stacked.html"


class ConsoleAttendeeAdmin(AttendeeAdmin):
    inlines = [ConsoleTicketInline]

    class Media:
        css = {"all": ["tickets/admin.css"]}

    list_display = ["name", "email", "reference", "ticket_type_name", "email_state",
                    "checkin_state", "event"]
    list_filter = [*AttendeeAdmin.list_filter, TicketTypeFilter, TicketStatusFilter,
                   DeliveryFilter, CheckinStateFilter]
    actions = ["resend_tickets", "revoke_tickets", "reprint_badges"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        presences = Presence.objects.filter(ticket__attendee=OuterRef("pk"))
        return super().get_queryset(request).select_related("event").annotate(
            reference=_ticket("reference"), ticket_status=_ticket("status"),
            ticket_type_id=_ticket("ticket_type_id"),
            ticket_type_label=_ticket("ticket_type__name"),
            delivery_state=_delivery_state(),
            has_come=Exists(presences.filter(entries__gt=0)),
            is_inside=Exists(presences.filter(inside=True)),
        )

    @admin.display(description=_("reference"), ordering="reference")
    def reference(self, obj: Attendee) -> str:
        if obj.ticket_status == Ticket.Status.REVOKED:
            return format_html("<s>{}</s> ({})", obj.reference, Ticket.Status.REVOKED.label)
        return obj.reference or "—"

    @admin.display(description=_("ticket type"), ordering="ticket_type_label")
    def ticket_type_name(self, obj: Attendee) -> str:
        return obj.ticket_type_label or "—"

    @admin.display(description=_("ticket e-mail"), ordering="delivery_state")
    def email_state(self, obj: Attendee) -> str:
        if not obj.delivery_state:
            return _("not sent")
        return format_html('<span class="varco-state varco-state-{}">{}</span>',
                           obj.delivery_state, Delivery.State(obj.delivery_state).label)

    @admin.display(description=_("check-in"))
    def checkin_state(self, obj: Attendee) -> str:
        if obj.is_inside:
            return format_html('<span class="varco-check-inside">{}</span>', _("inside now"))
        if obj.has_come:
            return format_html('<span class="varco-check-left">{}</span>', _("came, left"))
        return format_html('<span class="varco-check-none">{}</span>', _("not arrived"))

    def _tickets(self, queryset: QuerySet[Attendee]) -> QuerySet[Ticket]:
        return Ticket.objects.filter(attendee__in=queryset.values("pk"),
                                     status=Ticket.Status.VALID).select_related("attendee")

    @admin.action(description=_("Send the ticket e-mail again"))
    def resend_tickets(self, request: HttpRequest, queryset: QuerySet[Attendee]) -> None:
        done = self._each(request, self._tickets(queryset), resend)
        self.message_user(request, ngettext("%(count)d ticket e-mail queued.",
                                            "%(count)d ticket e-mails queued.", done)
                          % {"count": done})

    @admin.action(description=_("Revoke their tickets (the QR codes stop working)"),
                  permissions=["revoke"])
    def revoke_tickets(self, request: HttpRequest, queryset: QuerySet[Attendee]) -> None:
        done = self._each(request, self._tickets(queryset), services.revoke_ticket)
        self.message_user(request, ngettext("%(count)d ticket revoked.",
                                            "%(count)d tickets revoked.", done)
                          % {"count": done})

    @admin.action(description=_("Print their badges again (with a reason)"),
                  permissions=["reprint"])
    def reprint_badges(self, request: HttpRequest, queryset: QuerySet[Attendee]):
        """A lost badge: the reason and the station are asked on the next page; audited by
        ``badges.jobs.queue.reprint``."""
        return reprint_action(self, request, queryset, self._tickets(queryset))

    def has_reprint_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("badges.add_printjob")

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("tickets.change_ticket")

    def _each(self, request: HttpRequest, tickets, action) -> int:
        done = 0
        for ticket in tickets:
            try:
                action(ticket)
                done += 1
            except ServiceError as exc:
                self.message_user(request, f"{ticket.attendee.name}: {exc.message}",
                                  messages.WARNING)
        return done
