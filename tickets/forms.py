"""Forms of the attendee self-service pages (validation of shape; rules are in services:
the name's and e-mail's rules are ``services.validate_registration``'s, reported on the field)."""

from __future__ import annotations

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from core import languages
from core.errors import ServiceError
from tickets import services
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


def _practical_fields() -> dict[str, forms.Field]:
    """One plain text box per language and practical section (``info_<language>_<section>``),
    declared on the class so that the admin lays them out like the model's fields."""
    titles = {"directions": _("How to get there"), "programme": _("Programme"),
              "contact": _("Contact")}
    return {
        f"info_{code}_{section}": forms.CharField(
            label=format_lazy("{} ({})", titles[section], name), required=False,
            max_length=limit, strip=False, widget=forms.Textarea(attrs={"rows": 3}),
        )
        for code, name in languages.LANGUAGES
        for section, limit in services.PRACTICAL_SECTIONS.items()
    }


class _EventDesignFields(forms.Form):
    """The ticket's look on the admin's event form (mixed into its model form): a logo file
    (or removing it), and one plain text box per language and practical section. Every value
    goes through ``services``' design rules; an error is shown on its field."""

    logo_file = forms.FileField(
        label=_("Logo"), required=False,
        help_text=_("PNG, JPEG, GIF or WebP, at most 160 KB. Printed on the ticket."),
    )
    remove_logo = forms.BooleanField(label=_("Remove the logo"), required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        instance = getattr(self, "instance", None)
        info = (getattr(instance, "practical_info", None) or {}) if instance else {}
        for code in languages.CODES:
            for section in services.PRACTICAL_SECTIONS:
                self.initial.setdefault(f"info_{code}_{section}",
                                        info.get(code, {}).get(section, ""))
        if "ticket_languages" in self.fields:
            # A form posted without it (a script, an older page) keeps the event's choice.
            self.fields["ticket_languages"].required = False

    def clean(self) -> dict:
        data = super().clean()
        upload = data.get("logo_file")
        try:
            if upload is not None:
                self.instance.logo = services.clean_logo(upload.read(
                    services.LOGO_MAX_BYTES + 1))
            elif data.get("remove_logo"):
                self.instance.logo = b""
        except ServiceError as exc:
            self.add_error("logo_file", exc.message)
        info = {code: {section: data.get(f"info_{code}_{section}", "")
                       for section in services.PRACTICAL_SECTIONS}
                for code in languages.CODES}
        try:
            self.instance.practical_info = services.clean_practical_info(info)
        except ServiceError as exc:
            self.add_error(None, exc.message)
        if "ticket_languages" in self.fields and not data.get("ticket_languages"):
            data["ticket_languages"] = (getattr(self.instance, "ticket_languages", "")
                                        or Event.TicketLanguages.ATTENDEE)
        if "brand_color" in data:
            try:
                data["brand_color"] = services.clean_brand_color(data["brand_color"])
            except ServiceError as exc:
                self.add_error("brand_color", exc.message)
        return data


EventDesignFields = type("EventDesignFields", (_EventDesignFields,), _practical_fields())


class ResendForm(forms.Form):
    """"Send my ticket again": the address the attendee registered with."""

    email = forms.EmailField(
        label=_("E-mail"), max_length=254,
        help_text=_("The address you registered with: the ticket is sent to it, and only "
                    "to it."),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}),
    )
