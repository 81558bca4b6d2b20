"""Form fields for what the models store as JSON: an event's languages (a choice list from
``core.languages``, the one list) and translated names (one text field per language)."""

from __future__ import annotations

from django import forms
from django.utils.functional import cached_property
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from core import languages as language_list
from core.errors import ServiceError
from tickets import services


class LanguagesField(forms.TypedMultipleChoiceField):
    """Ticked languages, kept in ``core.languages``' order (the event's default is chosen
    beside it, see ``EventFormMixin``)."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs) -> None:
        super().__init__(choices=list(language_list.LANGUAGES), required=False, **kwargs)

    def clean(self, value) -> list[str]:
        chosen = set(super().clean(value))
        return [code for code in language_list.CODES if code in chosen]


class EventFormMixin(forms.ModelForm):
    """The event's languages as check boxes and its default language as a choice."""

    languages = LanguagesField(
        label=_("Languages"),
        help_text=_("The languages of the registration page, the e-mails and the tickets."))
    default_language = forms.ChoiceField(
        label=_("Default language"), choices=list(language_list.LANGUAGES), required=False,
        help_text=_("For attendees who choose none; it must be one of the ticked languages."))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        current = self.instance.languages or []
        self.fields["default_language"].initial = current[0] if current else language_list.DEFAULT
        for name in ("start", "end"):
            if name in self.fields:
                self.fields[name].help_text = _("In the event's time zone.")
        label_split_datetimes(self)

    def clean(self) -> dict:
        data = super().clean()
        chosen, default = data.get("languages") or [], data.get("default_language")
        if default and chosen and default not in chosen:
            self.add_error("default_language", _("Tick this language too."))
        elif default and chosen:
            data["languages"] = [default, *[c for c in chosen if c != default]]
        return data


def label_split_datetimes(form: forms.BaseForm) -> None:
    """Name the date and the time box of each date-time field: the admin's split widget
    shows them side by side under one label, which names neither input (axe: "label")."""
    for field in form.fields.values():
        label_split_datetimes_of(field)


def label_split_datetimes_of(field: forms.Field) -> None:
    widgets = getattr(field.widget, "widgets", None)
    if isinstance(field, forms.SplitDateTimeField) and widgets and len(widgets) == 2:
        widgets[0].attrs["aria-label"] = format_lazy("{} ({})", field.label, _("date"))
        widgets[1].attrs["aria-label"] = format_lazy("{} ({})", field.label, _("time"))


def translation_field(code: str) -> str:
    return f"name_{code}"


class TranslationsMixin(forms.ModelForm):
    """``name_i18n`` as one text field per language (``name_it``, ``name_en``…): the form
    class is made per event by ``translations_form`` with that event's languages."""

    i18n_languages: tuple[str, ...] = ()
    # (no ``text_rules`` here: the admin's form class below in the MRO brings its own)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        current = self.instance.name_i18n or {}
        for code in self.i18n_languages:
            self.fields[translation_field(code)].initial = current.get(code, "")

    def clean(self) -> dict:
        values = dict(self.instance.name_i18n or {})
        for code in self.i18n_languages:
            text = (self.cleaned_data.get(translation_field(code)) or "").strip()
            if text:
                values[code] = text
            else:
                values.pop(code, None)
        try:
            values = services.clean_text_fields(
                getattr(self, "text_rules", None) or services.TICKET_TYPE_TEXT,
                {"name_i18n": values})["name_i18n"]
        except ServiceError as exc:
            self.add_error(translation_field(self.i18n_languages[0]), exc.message)
        else:
            self.instance.name_i18n = values
        return super().clean()

    @cached_property
    def changed_data(self) -> list[str]:
        # The admin saves the fields named here through the service: the per-language fields
        # are one model field, name_i18n.
        own = {translation_field(code) for code in self.i18n_languages}
        changed = [name for name in super().changed_data if name not in own]
        if own & set(super().changed_data):
            changed.append("name_i18n")
        return changed


def translations_form(base: type[forms.ModelForm], codes) -> type[forms.ModelForm]:
    codes = tuple(code for code in codes if code in language_list.NAMES) or language_list.CODES
    fields = {
        translation_field(code): forms.CharField(
            label=format_lazy("{} ({})", _("Name"), language_list.NAMES[code]), required=False,
            max_length=200)
        for code in codes
    }
    return type("TranslatedForm", (TranslationsMixin, base),
                {**fields, "i18n_languages": codes})


def with_translations(fields, codes) -> list[str]:
    """``fields`` with ``name_i18n`` replaced by its per-language fields."""
    codes = tuple(code for code in codes if code in language_list.NAMES) or language_list.CODES
    out: list[str] = []
    for name in fields:
        for field in [translation_field(c) for c in codes] if name == "name_i18n" else [name]:
            if field not in out:
                out.append(field)
    return out
