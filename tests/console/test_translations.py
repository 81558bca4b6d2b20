"""Every console page in Italian shows no English of the project's catalogues, and in English
no Italian: rendered for real (the test client, every list, form and the event home), with
every gettext call of the render watched.

Two checks, because a string can escape translation in two ways:
- it goes through gettext but the catalogue has no translation: each lookup the render makes
  while Italian is active is recorded, and one missing from the Italian catalogue fails;
- it never goes through gettext (a hard-coded string): each visible text of the page (text
  nodes, titles, labels, button values) equal to an English msgid of the project's catalogues
  fails in Italian, and one equal to an Italian translation fails in English.
Plus a static check: every model, field and choice of the console is named with gettext_lazy.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.contrib import admin
from django.test import Client
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import trans_real

from core import languages
from tests.support.console import console_pages, make_console_world

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = [ROOT / app / "locale/it/LC_MESSAGES/django.po"
              for app in ("tickets", "checkin", "console")]


def _catalogue_pairs() -> list[tuple[str, str]]:
    pairs = []
    for path in CATALOGUES:
        for entry in polib.pofile(str(path)):
            if entry.obsolete or entry.msgctxt == "door":  # the door page's JS: its own test
                continue
            if entry.msgid_plural:
                pairs += [(entry.msgid, entry.msgstr_plural.get(0, "")),
                          (entry.msgid_plural, entry.msgstr_plural.get(1, ""))]
            else:
                pairs.append((entry.msgid, entry.msgstr))
    # A translation equal to its msgid ("Varco", "e-mail", "Token") is right in both.
    return [(m, s) for m, s in pairs if s and m.strip().lower() != s.strip().lower()]


def _ours(missing: set[str]) -> set[str]:
    """The missing lookups the project owns: not the languages' own names (core/languages.py:
    each language is named in itself, in every interface), and not Django's own strings that
    its Italian catalogue lacks (the admin's "Add link"), found in Django's sources."""
    import django

    missing = missing - set(languages.NAMES.values())
    sources = [p.read_text(errors="replace") for p in Path(django.__file__).parent.rglob("*")
               if p.suffix in (".html", ".py", ".txt") and missing]
    return {m for m in missing if not any(m in source for source in sources)}


class _Visible(HTMLParser):
    """The texts a person sees or hears on a page (scripts and styles aside)."""

    ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        values = dict(attrs)
        self.texts += [values[a] for a in self.ATTRIBUTES if values.get(a)]
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.texts.append(values["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(" ".join(data.split()).rstrip(":").strip())


def visible_texts(html: str) -> set[str]:
    parser = _Visible()
    parser.feed(html)
    return {text for text in parser.texts if text}


class MissingLookups:
    """Records every gettext lookup made while Italian is active that its catalogue lacks."""

    def __init__(self, monkeypatch) -> None:
        self.missing: set[str] = set()
        trans = translation._trans
        for name in ("gettext", "ngettext", "pgettext", "npgettext"):
            monkeypatch.setattr(trans, name, self._wrap(name, getattr(trans_real, name)))

    def _wrap(self, name, real):
        def lookup(*args):
            if translation.get_language() == "it":
                catalog = trans_real.translation("it")._catalog
                if name == "gettext":
                    key = args[0]
                elif name == "ngettext":
                    key = (args[0], 0)
                elif name == "pgettext":
                    key = f"{args[0]}\x04{args[1]}"
                else:
                    key = (f"{args[0]}\x04{args[1]}", 0)
                text = args[1] if name.startswith("p") else args[0]
                if text and key not in catalog:
                    self.missing.add(text)
            return real(*args)

        return lookup


@pytest.fixture
def world(settings, organiser, staff, event):
    settings.VARCO_SEND_ON_ISSUE = False
    return make_console_world(organiser, event)


def _walk(client: Client, staff, event, language: str) -> dict[str, str]:
    """url -> page text; each page also after an action's message where there is one."""
    pages = {}
    for url in console_pages(staff, event):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, (url, response.status_code)
        pages[url] = response.content.decode()
    # Pages reached by a form: a message after an action, the pairing page, a refused form.
    posts = [
        (f"/admin/events/{event.pk}/send/", {}),
        (f"/admin/events/{event.pk}/registration/", {"open": "0"}),
        (f"/admin/events/{event.pk}/devices/add/", {"name": "Telefono 2", "gate": "B"}),
        (f"/admin/events/{event.pk}/devices/add/", {"name": ""}),
        ("/admin/tickets/attendee/", {"action": "resend_tickets", "_selected_action": [
            a.pk for a in event.attendees.all()]}),
        ("/admin/tickets/attendee/", {"action": "revoke_tickets", "_selected_action": [
            a.pk for a in event.attendees.all()]}),
    ]
    for url, data in posts:
        response = client.post(url, data, follow=True, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, (url, response.status_code)
        pages[f"POST {url} {sorted(data)}"] = response.content.decode()
    return pages


def test_every_console_page_in_italian_is_translated(world, staff, monkeypatch):
    client = Client()
    client.force_login(staff)
    lookups = MissingLookups(monkeypatch)
    english = {msgid for msgid, _ in _catalogue_pairs()}
    shown: list[str] = []
    pages = _walk(client, staff, world.event, "it")
    for url, html in pages.items():
        assert 'lang="it"' in html, url
        shown += [f"{url}: {text!r}" for text in visible_texts(html) if text in english]
    assert sorted(_ours(lookups.missing)) == []
    assert sorted(set(s.split(": ", 1)[1] for s in shown)) == [], shown
    assert len(pages) > 30  # the walk did reach the pages


def test_every_console_page_in_english_has_no_italian(world, staff):
    client = Client()
    client.force_login(staff)
    pairs = _catalogue_pairs()
    # A text that is itself an English msgid is English ("Varco", the brand, is also the
    # Italian for "Gate").
    italian = {msgstr for _, msgstr in pairs} - {
        entry.msgid for path in CATALOGUES for entry in polib.pofile(str(path))}
    shown = []
    for url, html in _walk(client, staff, world.event, "en").items():
        assert 'lang="en"' in html, url
        shown += [f"{url}: {text!r}" for text in visible_texts(html) if text in italian]
    assert sorted(set(s.split(": ", 1)[1] for s in shown)) == [], shown


def test_the_walk_sees_an_untranslated_string(world, staff, monkeypatch):
    """Both checks can fail: a msgid the catalogue lacks is recorded, and an English text in
    the Italian page is found."""
    lookups = MissingLookups(monkeypatch)
    with translation.override("it"):
        translation.gettext("A sentence nobody translated")
        assert translation.gettext("Send all unsent tickets") != "Send all unsent tickets"
    assert lookups.missing == {"A sentence nobody translated"}
    english = {msgid for msgid, _ in _catalogue_pairs()}
    assert "Send all unsent tickets" in visible_texts(
        "<p><button>Send all unsent tickets</button></p>") & english


def test_every_model_field_and_choice_is_named_for_translation():
    """Names that never reach a page in the walk (a column not shown, a choice not picked) are
    still gettext_lazy and translated."""
    untranslated = []
    with translation.override("it"):
        for model in admin.site._registry:
            opts = model._meta
            if opts.app_label not in ("tickets", "checkin"):
                continue
            names = [("model", opts.verbose_name), ("plural", opts.verbose_name_plural)]
            for field in opts.get_fields():
                if not field.concrete or field.auto_created:
                    continue
                names.append((field.name, field.verbose_name))
                if field.help_text:
                    names.append((f"{field.name} help", field.help_text))
                names += [(f"{field.name}={v}", label) for v, label in field.flatchoices
                          if field.name not in ("timezone", "language")]  # own names
            for what, name in names:
                if not isinstance(name, Promise):
                    untranslated.append(f"{opts.label}.{what}: {name!r} is not gettext_lazy")
                elif str(name) == name._args[0] and str(name).lower() not in (
                        "e-mail", "nonce", "token", "check-in", "ok", "offline", "logo"):
                    untranslated.append(f"{opts.label}.{what}: {name!r} has no Italian")
    assert untranslated == []


def test_the_language_is_switched_from_the_console(world, staff):
    client = Client(HTTP_ACCEPT_LANGUAGE="it")
    client.force_login(staff)
    home = f"/admin/events/{world.event.pk}/"
    assert "Invia tutti i biglietti non ancora inviati" in client.get(home).content.decode()
    response = client.post("/admin/language/", {"language": "en", "next": home})
    assert response.status_code == 302 and response["Location"] == home
    assert "Send all unsent tickets" in client.get(home).content.decode()
    client.post("/admin/language/", {"language": "it", "next": home})
    assert 'lang="it"' in client.get(home).content.decode()
