"""Forms of the attendee self-service pages (validation of shape; rules are in services:
the name's and e-mail's rules are ``services.validate_registration``'s, reported on the field)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tickets.models import Event, TicketType


class RegistrationForm(forms.Form):
    name = forms.CharField(
        label=_("Full name"), max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label=_("E-mail"), max_length=254,
        help_text=_("Your ticket will be sent to this address."),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}),
    )
    organisation = forms.CharField(
        label=_("Organisation"), max_length=200, required=False,
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    ticket_type = forms.TypedChoiceField(
        label=_("Ticket type"), coerce=int, required=False, widget=forms.RadioSelect,
    )

    def __init__(self, *args, event: Event, language: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        types = list(TicketType.objects.filter(event=event, public=True).order_by("position",
                                                                                 "id"))
        self.types = types
        if len(types) > 1:
            self.fields["ticket_type"].required = True
            self.fields["ticket_type"].choices = [
                (t.pk, t.localized_name(language)) for t in types
            ]
        else:
            del self.fields["ticket_type"]
