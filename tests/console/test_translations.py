"""Every console page in Italian shows no English of the project's catalogues, and in English
no Italian: rendered for real (the test client, every list, form and the event home), with
every gettext call of the render watched.

Two checks, because a string can escape translation in two ways:
- it goes through gettext but the catalogue has no translation: each lookup the render makes
  while Italian is active is recorded, and one missing from the Italian catalogue fails;
- it never goes through gettext (a hard-coded string): each visible text of the page (text
  nodes, titles, labels, button values) equal to an English msgid of the project's catalogues
  fails in Italian, and one equal to an Italian translation fails in English.
A third check catches English that is in no catalogue at all (a message built by hand, a
service's refusal shown on a form): in Italian, a visible text holding an English function
word ("the", "cannot", "already", …), words Italian never uses, fails.
The walk covers every list, form and the event home, and the pages after each action: the
home's send / open / close, adding and pairing a device, the attendee and ticket bulk actions
(resend, revoke, reissue, with a refusal each), the import's preview with bad rows and its
refusals, and forms refused by Django and by the services.
Plus a static check: every model, field and choice of the console is named with gettext_lazy.
"""

from __future__ import annotations

import re
import zoneinfo
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation
from django.utils.functional import Promise
from django.utils.html import escape
from django.utils.translation import trans_real

from badges.models import PrintStation
from checkin import services as checkin_services
from core import languages
from tests.support.console import console_pages, make_console_world
from tickets.models import Delivery, Ticket

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


# English words that are no Italian word: a visible text holding one is English (names,
# addresses and the SMTP server's own answer on the page hold none of them).
ENGLISH_WORDS = frozenset("""
    the this that these those is are was were been be has have had cannot can't must may
    should would will already only of and or with without from for to into by at its their
    your you our not no longer than more there here which who what when where after before
    again every each any all none some one ticket tickets event events attendee attendees
    device devices list lists scan scans registered registration belongs another exist
    exists invalid enter give choose unknown field line lines column columns row rows
    """.split()) - {"no"}  # "no" is Italian too


ZONES = zoneinfo.available_timezones()  # "Europe/Isle_of_Man": a name, not English prose


def english_words(text: str) -> set[str]:
    """The English words of a text; a token that is a code, an identifier or an address
    ("GAWK-43AT", "ticket_type", "https://…/scan/") holds no prose."""
    if text in ZONES:
        return set()
    tokens = (token.strip(".,;:!?()'\"") for token in text.lower().split())
    return {token for token in tokens if token in ENGLISH_WORDS}


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


# The attendee form's inline of tickets (none on a new attendee), as the browser sends it.
NO_TICKETS = {"tickets-TOTAL_FORMS": "0", "tickets-INITIAL_FORMS": "0"}


def _csv(text: str, name: str = "iscritti.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def _steps(event, world) -> list[tuple[str, dict, str | tuple[str, str, int]]]:
    """(url, data, English text the page must show after it): every action and refusal.

    The expected text is the English msgid; the walk looks for its translation when Italian
    is active, so each step proves it reached the message it was written for."""
    tickets = [t.pk for t in Ticket.objects.filter(event=event)]
    revoked = [t.pk for t in Ticket.objects.filter(event=event, status="revoked")]
    attendees = [a.pk for a in event.attendees.all()]
    spare = checkin_services.create_device(event, "Telefono di riserva", "B")[0]
    checkin_services.revoke_device(spare)
    devices = [world.device.pk, spare.pk]
    home = f"/admin/events/{event.pk}"
    importer = f"/admin/tickets/event/{event.pk}/import/"
    header = "name,email,organisation,language,ticket_type\n"
    return [
        (f"{home}/send/", {}, ("%(count)d ticket e-mail is on its way.",
                                "%(count)d ticket e-mails are on their way.", 1)),
        (f"{home}/registration/", {"open": "0"}, "Registration is closed."),
        (f"{home}/registration/", {"open": "1"}, "Registration is open."),
        (f"{home}/devices/add/", {"name": "Telefono 2", "gate": "B"},
         "Pairing QR code"),
        (f"{home}/devices/add/", {"name": ""}, "This field is required."),
        # The bulk actions, each with what they refuse.
        ("/admin/tickets/ticket/", {"action": "resend", "_selected_action": tickets},
         "A revoked ticket cannot be sent."),
        ("/admin/tickets/ticket/", {"action": "reissue", "_selected_action": revoked},
         "A revoked ticket cannot be reissued."),
        ("/admin/tickets/delivery/", {"action": "send_again", "_selected_action": [
            d.pk for d in Delivery.objects.filter(ticket__event=event)]},
         ("%(count)d ticket e-mail queued.", "%(count)d ticket e-mails queued.", 2)),
        ("/admin/tickets/event/", {"action": "rotate_key", "_selected_action": [event.pk]},
         ("New signing key for %(count)d event.", "New signing key for %(count)d events.", 1)),
        ("/admin/tickets/event/", {"action": "close_registration",
                                   "_selected_action": [event.pk]},
         ("Registration closed for %(count)d event.",
          "Registration closed for %(count)d events.", 1)),
        ("/admin/tickets/event/", {"action": "open_registration",
                                   "_selected_action": [event.pk]},
         ("Registration opened for %(count)d event.",
          "Registration opened for %(count)d events.", 1)),
        ("/admin/checkin/device/", {"action": "rotate_token", "_selected_action": devices},
         "Select exactly one device."),
        ("/admin/checkin/device/", {"action": "rotate_token", "_selected_action": [spare.pk]},
         "A revoked device cannot get a new token."),
        ("/admin/checkin/device/", {"action": "rotate_token",
                                    "_selected_action": [world.device.pk]},
         "Pairing QR code"),
        # Forms refused by the services' rules.
        ("/admin/checkin/checkinlist/add/", {"event": event.pk, "name": "Ingresso principale",
                                             "position": "0"},
         "This event already has a check-in list with this name."),
        ("/admin/tickets/attendee/add/", {
            **NO_TICKETS, "event": event.pk, "name": "Giulia Rossi",
            "email": "giulia@example.org", "organisation": "", "language": "it"},
         "This e-mail address is already registered for this event."),
        ("/admin/tickets/attendee/add/", {
            **NO_TICKETS, "event": event.pk, "name": "Giulia\x07Rossi",
            "email": "giulia2@example.org", "organisation": "", "language": "it"},
         "Contains a line break or control character."),
        # The import: a file that cannot be read, rows with errors, a stale confirmation,
        # then a good file previewed and imported.
        (importer, {"file": _csv("nome;telefono\nAnna;123\n")},
         "Missing column(s): {missing}. Header found: {header}."),
        (importer, {"file": _csv(header)}, "The file has a header but no attendee rows."),
        (importer, {"file": _csv(
            header + "Anna Neri,anna@example.org,,it,Pass completo\n"
            "Bruno,non-un-indirizzo,,it,\n"
            "Carla,anna@example.org,,it,\n"
            "Dario,dario@example.org,,xx,Platino\n"
            "Giulia Rossi,giulia@example.org,,it,\n"
            "Elena,elena@example.org,,it,,troppo\n")},
         "Nothing is imported while any row has an error: fix the file and upload it again."),
        (importer, {"confirm": "1", "digest": "0" * 64},
         "That preview has expired: upload the file again."),
        (importer, {"file": _csv(header + "Anna Neri,anna@example.org,,it,Pass completo\n")},
         "Rows that will be created"),
        (importer, {"confirm": "1", "digest": "<digest>"},
         "%(created)d attendees imported, %(skipped)d skipped; their tickets are being "
         "e-mailed."),
        # The attendee list's bulk actions (last: they revoke every ticket).
        ("/admin/tickets/attendee/", {"action": "resend_tickets",
                                      "_selected_action": attendees},
         ("%(count)d ticket e-mail queued.", "%(count)d ticket e-mails queued.", 3)),
        ("/admin/tickets/attendee/", {"action": "revoke_tickets",
                                      "_selected_action": attendees},
         ("%(count)d ticket revoked.", "%(count)d tickets revoked.", 3)),
    ]


def _expected(msgid: str | tuple[str, str, int], language: str) -> str:
    """The longest run of words of ``msgid`` in ``language`` (its text between
    placeholders), which any rendering of it shows; ``(singular, plural, n)`` for a plural."""
    with translation.override(language):
        text = (translation.ngettext(*msgid) if isinstance(msgid, tuple)
                else translation.gettext(msgid))
    return max((part.strip() for part in re.split(r"%\(\w+\)\w|\{\w+[^}]*\}", text)), key=len)


def _walk(client: Client, staff, world, language: str) -> dict[str, str]:
    """url -> page text: every page, then the page after each action, refusal and form."""
    event = world.event
    pages = {}
    for url in console_pages(staff, event):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, (url, response.status_code)
        pages[url] = response.content.decode()
    # The print pages' forms (before the steps below revoke every ticket): each answers a
    # page of its own, walked for English like the rest.
    attendees = [a.pk for a in event.attendees.all()]
    badge_posts = [
        (f"/admin/events/{event.pk}/badges/print/", {"sort": "colour"}),
        ("/admin/tickets/attendee/", {"action": "reprint_badges",
                                      "_selected_action": attendees}),
        ("/admin/tickets/attendee/", {"action": "reprint_badges", "apply": "1", "reason": "",
                                      "_selected_action": attendees}),
        ("/admin/badges/printstation/", {"action": "rotate_token", "_selected_action": [
            s.pk for s in PrintStation.objects.filter(event=event)]}),
    ]
    for url, data in badge_posts:
        response = client.post(url, data, follow=True, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, (url, response.status_code)
        if response.get("Content-Type", "").startswith("text/html"):
            pages[f"POST {url} {sorted(data)}"] = response.content.decode()
    digest = ""
    for number, (url, data, msgid) in enumerate(_steps(event, world)):
        if data.get("digest") == "<digest>":
            data = {**data, "digest": digest}
        response = client.post(url, data, follow=True, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, (url, data, response.status_code)
        html = response.content.decode()
        found = re.search(r'name="digest" value="([0-9a-f]{64})"', html)
        digest = found.group(1) if found else digest
        expected = _expected(msgid, language)
        assert escape(expected) in html or expected in html, (url, data, expected)
        pages[f"POST {number} {url}"] = html
    return pages


def test_every_console_page_in_italian_is_translated(world, staff, monkeypatch):
    client = Client()
    client.force_login(staff)
    lookups = MissingLookups(monkeypatch)
    english = {msgid for msgid, _ in _catalogue_pairs()}
    shown: list[str] = []
    english_texts: set[str] = set()
    pages = _walk(client, staff, world, "it")
    for url, html in pages.items():
        assert 'lang="it"' in html, url
        texts = visible_texts(html)
        shown += [f"{url}: {text!r}" for text in texts if text in english]
        english_texts |= {text for text in texts if english_words(text)}
    assert sorted(_ours(lookups.missing)) == []
    assert sorted(set(s.split(": ", 1)[1] for s in shown)) == [], shown
    assert sorted(english_texts) == [], "\n".join(f"{t!r}: {english_words(t)}"
                                                 for t in sorted(english_texts))
    assert len(pages) > 50  # the walk did reach the pages


def test_every_console_page_in_english_has_no_italian(world, staff):
    client = Client()
    client.force_login(staff)
    pairs = _catalogue_pairs()
    # A text that is itself an English msgid is English ("Varco", the brand, is also the
    # Italian for "Gate").
    italian = {msgstr for _, msgstr in pairs} - {
        entry.msgid for path in CATALOGUES for entry in polib.pofile(str(path))}
    shown = []
    for url, html in _walk(client, staff, world, "en").items():
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
    # English no catalogue holds (a refusal put together by hand) is seen by its words;
    # Italian, names, codes and addresses are not.
    assert english_words("Marco Bianchi: This ticket can't go.") == {"this", "ticket", "can't"}
    for italian in ("Marco Bianchi: Un biglietto revocato non si può inviare.",
                    "Riga 3: GAWK-43AT, ticket_type", "https://varco.example/scan/#pair=x",
                    "Europe/Isle_of_Man"):
        assert english_words(italian) == set(), italian


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
