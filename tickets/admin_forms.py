"""The attendee forms of the admin (tickets/admin.py): adding one registers them, editing
follows the same rules as the API; each problem is named on its field."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from core.errors import ServiceError
from tickets import services
from tickets.models import Attendee, TicketType


class AttendeeAddForm(forms.ModelForm):
    """Adding an attendee registers them: the same rules and a ticket, as on every path."""

    ticket_type = forms.ModelChoiceField(
        queryset=TicketType.objects.none(), required=False,
        label=_("ticket type"), help_text=_("Default: the event's first ticket type."),
    )

    class Meta:
        model = Attendee
        fields = ["event", "name", "email", "organisation", "language", "ticket_type"]

    def clean(self) -> dict:
        data = super().clean()
        event, ticket_type = data.get("event"), data.get("ticket_type")
        if event is None:
            return data
        if ticket_type is not None and ticket_type.event_id != event.pk:
            self.add_error("ticket_type", _("This ticket type belongs to another event."))
        try:
            services.validate_registration(services.Registration(
                data.get("name") or "", data.get("email") or "", data.get("organisation") or ""
            ))
            if services.email_taken(event, data.get("email") or ""):
                raise services.duplicate_email()
        except ServiceError as exc:
            if exc.field not in self.errors:
                self.add_error(exc.field, exc.message)
        language = data.get("language")
        if language and event.languages and language not in event.languages:
            self.add_error("language", _("Language must be one of: %(codes)s.")
                           % {"codes": ", ".join(event.languages)})
        # The registration itself re-checks all of this under the database's guard.
        if event.capacity is not None and event.issued_count >= event.capacity:
            self.add_error("event", _("This event is full."))
        if ticket_type and ticket_type.capacity is not None and (
            ticket_type.issued_count >= ticket_type.capacity
        ):
            self.add_error("ticket_type", _("This ticket type is sold out."))
        return data


class AttendeeChangeForm(forms.ModelForm):
    """Editing an attendee: the same rules as registering (``services.update_attendee``,
    checked here first so that each problem is named on its field)."""

    class Meta:
        model = Attendee
        fields = ["name", "email", "organisation", "language"]

    def clean(self) -> dict:
        data = super().clean()
        changes = {f: data[f] for f in ("name", "email", "organisation") if f in data}
        try:
            data.update(services.clean_text_fields(services.ATTENDEE_TEXT, changes))
            if "email" in changes:
                data["email"], _key = services.clean_email(changes["email"])
                if services.email_taken(self.instance.event, data["email"], self.instance.pk):
                    raise services.duplicate_email()
        except ServiceError as exc:
            if exc.field not in self.errors:
                self.add_error(exc.field, exc.message)
        return data
