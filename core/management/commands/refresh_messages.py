"""`make messages`: refresh every gettext catalogue of Varco and compile it, in one pipeline.

One ``.po`` per app holds all of that app's texts, whatever they are written in:

- ``core/locale/<lang>/LC_MESSAGES/django.po``: the messages of core's rules (a text refused,
  the API's error details);
- ``tickets/locale/<lang>/LC_MESSAGES/django.po``: pages, e-mails and PDFs;
- ``checkin/locale/<lang>/LC_MESSAGES/django.po``: the attendance dashboard (Python and
  templates, msgctxt "attendance") and the door page's JavaScript (``checkin/frontend/src``,
  msgctxt "door"), which the frontend build (``checkin/frontend/build.mjs``) reads from this
  same file and puts into the bundle, so the page translates offline.

Django's ``makemessages`` extracts (it needs GNU gettext's ``xgettext`` and ``msgmerge``, on
the developer's machine only). It writes JavaScript strings to a separate ``djangojs.po``,
which this command folds into the app's ``django.po`` (keeping existing translations) and
removes, so a translator edits one file per app. The ``.mo`` files are compiled with polib,
so no ``msgfmt`` is needed anywhere; they are committed. ``make messages`` then rebuilds the
frontend bundles, whose catalogue comes from the ``.po``.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import polib
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

ROOT = Path(__file__).resolve().parents[3]
# app directory -> whether it has JavaScript sources (checkin/frontend/src)
# (core's texts are the messages of the rules it owns: text refused, the API's error details)
APPS: dict[str, bool] = {"core": False, "audit": False, "tickets": False, "checkin": True,
                         "badges": False, "console": False}
# never JavaScript sources: the built bundles, npm's packages, the build script itself
JS_IGNORE = ["static", "static/*", "frontend/node_modules", "frontend/node_modules/*",
             "frontend/build.mjs"]


@contextmanager
def _inside(directory: Path):
    """makemessages writes to the ``locale`` folder of the directory it runs in."""
    before = Path.cwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(before)


def fold_javascript(catalogue_dir: Path, before: polib.POFile | None = None) -> int:
    """Move djangojs.po's entries into django.po, keeping translations; return their count.

    ``makemessages -d django`` has just marked the JavaScript entries of django.po obsolete
    (it only reads Python and templates); they come back to life here with their msgstr.
    msgmerge may instead have given an obsolete entry away as a fuzzy guess for a similar new
    msgid (and dropped it): its translation is then taken from ``before``, the catalogue as it
    was before the refresh.
    """
    js_path, po_path = catalogue_dir / "djangojs.po", catalogue_dir / "django.po"
    if not js_path.exists():
        return 0
    po = polib.pofile(str(po_path), wrapwidth=78)
    known = {(e.msgctxt, e.msgid): e for e in po}
    javascript = polib.pofile(str(js_path))
    for entry in javascript:
        current = known.get((entry.msgctxt, entry.msgid))
        if current is None:
            earlier = None if before is None else before.find(
                entry.msgid, msgctxt=entry.msgctxt, include_obsolete_entries=True)
            kept = earlier.msgstr if earlier is not None and not earlier.fuzzy else ""
            po.append(polib.POEntry(msgctxt=entry.msgctxt, msgid=entry.msgid, msgstr=kept,
                                    flags=[f for f in entry.flags if f != "fuzzy"]))
        elif current.obsolete:
            current.obsolete = False
    po.save(str(po_path))
    js_path.unlink()
    return len(javascript)


def _entries(po: polib.POFile) -> list[tuple]:
    return [(e.msgctxt, e.msgid, e.msgid_plural, e.msgstr, tuple(sorted(e.msgstr_plural.items())),
             e.obsolete, tuple(e.flags)) for e in po]


class Command(BaseCommand):
    help = "Extract and compile every app's gettext catalogue (Python, templates and JS)."

    def handle(self, *args, **options) -> None:
        for language, _name in settings.LANGUAGES:
            if language == "en":  # the source language: msgids are English
                continue
            for app, has_javascript in APPS.items():
                app_dir = ROOT / app
                catalogue_dir = app_dir / "locale" / language / "LC_MESSAGES"
                before = (catalogue_dir / "django.po").read_bytes()
                with _inside(app_dir):
                    call_command("makemessages", locale=[language], domain="django",
                                 no_location=True, ignore_patterns=["frontend/*", "static/*"],
                                 verbosity=0)
                    if has_javascript:
                        call_command("makemessages", locale=[language], domain="djangojs",
                                     no_location=True, ignore_patterns=JS_IGNORE, verbosity=0)
                folded = fold_javascript(catalogue_dir, polib.pofile(before.decode()))
                po_path = catalogue_dir / "django.po"
                if _entries(polib.pofile(before.decode())) == _entries(polib.pofile(str(po_path))):
                    # nothing changed but the POT-Creation-Date that the round trip through
                    # "obsolete" stamped: keep the file as it was (no churn in git)
                    po_path.write_bytes(before)
                po = polib.pofile(str(po_path))
                po.save_as_mofile(str(catalogue_dir / "django.mo"))
                # a fuzzy entry (makemessages' guess from a similar msgid) is not a translation
                missing = [e.msgid for e in po.untranslated_entries() + po.fuzzy_entries()]
                self.stdout.write(f"{app}/{language}: {len(po)} strings ({folded} from "
                                  f"JavaScript), {len(missing)} untranslated")
                for msgid in missing:
                    self.stdout.write(f"  untranslated: {msgid}")
