"""The committed JavaScript is what its sources build, the door page's texts are translated in
the check-in app's one catalogue, and a wheel carries every app's pages.

The bundles under ``checkin/static/checkin/`` (and the print station's under
``badges/static/badges/``) are committed so that running Varco needs no Node; this test
rebuilds them from ``checkin/frontend`` and ``badges/frontend`` (sources, ``package-lock.json``,
and the translations in ``checkin/locale``) into a temporary directory and compares bytes, so a
source edited without ``make frontend``, a hand-edited bundle or a ``.po`` changed without
``make messages`` fails CI. It needs node and the npm packages (``make frontend-deps``; ``make
test`` installs them).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import polib
import pytest

# single_pass: the same whatever DATABASE_URL/REDIS_URL say
# (node, the bundles, a wheel, the catalogues: no database).
pytestmark = pytest.mark.single_pass

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "checkin" / "frontend"
STATIC = ROOT / "checkin" / "static" / "checkin"
BADGES_STATIC = ROOT / "badges" / "static" / "badges"
CATALOGUE = ROOT / "checkin" / "locale" / "it" / "LC_MESSAGES"


def _built_files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.frontend
def test_the_committed_bundles_are_what_the_sources_build(tmp_path):
    node = shutil.which("node")
    assert node, "node is needed (Node 20+; see make frontend)"
    assert (FRONTEND / "node_modules" / ".package-lock.json").exists(), (
        "npm packages missing: run make frontend-deps")
    out = tmp_path / "built"
    subprocess.run([node, "build.mjs", str(out)], cwd=FRONTEND, check=True,
                   capture_output=True, timeout=120)
    built = _built_files(out)
    assert {"checkin/door.js", "checkin/sw.js", "checkin/attendance/dashboard.js",
            "badges/station.js", "badges/pdf.worker.js"} <= built.keys()
    committed = {f"{app}/{name}": data
                 for app, static in (("checkin", STATIC), ("badges", BADGES_STATIC))
                 for name, data in _built_files(static).items() if not name.endswith(".css")}
    stale = sorted(name for name in built.keys() | committed.keys()
                   if built.get(name) != committed.get(name))
    assert not stale, f"run make frontend and commit the result: {stale} differ"
    # and the build is deterministic: a second run gives the same bytes
    again = tmp_path / "again"
    subprocess.run([node, "build.mjs", str(again)], cwd=FRONTEND, check=True,
                   capture_output=True, timeout=120)
    assert _built_files(again) == built


def test_every_door_page_string_is_translated_in_the_checkin_catalogue():
    """The door page's texts (src/i18n.js, pgettext("door", …)) all have an Italian msgstr in
    checkin/locale, the one .po of the app, and the bundle carries those translations."""
    source = (FRONTEND / "src" / "i18n.js").read_text()
    used = set(re.findall(r'pgettext\(\s*"door",\s*"((?:[^"\\]|\\.)*)"', source))
    assert len(used) > 40
    po = {e.msgid: e.msgstr for e in polib.pofile(str(CATALOGUE / "django.po"))
          if e.msgctxt == "door" and not e.obsolete and "fuzzy" not in e.flags}
    untranslated = sorted(m for m in used if not po.get(m))
    assert not untranslated, f"translate in checkin/locale/it/.../django.po: {untranslated}"
    bundle = (STATIC / "door.js").read_text()
    for msgstr in ("Biglietto sconosciuto", "Codice non valido. Troppi codici illeggibili"):
        assert msgstr in bundle
    assert not (ROOT / "checkin" / "attendance_locale").exists()  # one catalogue per app


# The top-level packages (docs/architecture.md).
ROOMS = ("core", "audit", "tickets", "checkin", "badges", "backend", "worker")


def _copy_of_the_tree(target: Path) -> Path:
    """The source tree without what git ignores (virtualenv, npm packages, var/, builds)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout.splitlines()
    for name in listed:
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


def test_a_wheel_carries_every_apps_templates_static_files_and_catalogues(tmp_path):
    """pyproject's package data: an installed wheel (no source tree) serves the pages."""
    source = _copy_of_the_tree(tmp_path / "src")  # setuptools writes build/ into the tree
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "-q", "-w", str(tmp_path / "dist"), str(source)], check=True, timeout=300,
                   capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("varco-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for app in ("tickets", "checkin"):
        for folder in ("templates", "static", "locale"):
            files = [p for p in (ROOT / app / folder).rglob("*") if p.is_file()]
            assert files, f"{app}/{folder} is empty"
            missing = [str(p.relative_to(ROOT)) for p in files
                       if str(p.relative_to(ROOT)) not in names]
            assert not missing, f"not in the wheel: {missing}"
    # Every room ships whole: each file git tracks in it (a new package such as core/ once
    # missed pyproject's package list, and with it the image), the door page's sources aside.
    tracked = subprocess.run(["git", "ls-files", *ROOMS], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.splitlines()
    missing = [name for name in tracked if "/frontend/" not in name and name not in names]
    assert not missing, f"not in the wheel: {missing}"
    assert not any("node_modules" in name or "/frontend/" in name for name in names)


def test_make_messages_folds_a_new_door_page_string_into_the_one_checkin_catalogue(tmp_path,
                                                                                  monkeypatch):
    """The pipeline behind `make messages` (GNU gettext's xgettext needed, as for the command):
    a string added to the door page's JavaScript lands in checkin's django.po next to the
    dashboard's, untranslated, existing translations stay, no djangojs.po is left behind, and
    a second run changes nothing."""
    from django.core.management import call_command

    from core.management.commands import refresh_messages

    assert shutil.which("xgettext"), "GNU gettext (xgettext, msgmerge) is needed"
    root = _copy_of_the_tree(tmp_path / "tree")
    i18n = root / "checkin" / "frontend" / "src" / "i18n.js"
    i18n.write_text(i18n.read_text().replace(
        "const MESSAGES = {",
        'const MESSAGES = {\n  probe: pgettext("door", "A string added by the test"),', 1))
    monkeypatch.setattr(refresh_messages, "ROOT", root)
    call_command("refresh_messages", stdout=(out := io.StringIO()))
    catalogue = root / "checkin" / "locale" / "it" / "LC_MESSAGES"
    po = {(e.msgctxt, e.msgid): e for e in polib.pofile(str(catalogue / "django.po"))}
    added = po[("door", "A string added by the test")]
    assert (added.msgstr, added.obsolete) == ("", False)
    assert po[("door", "Already checked in")].msgstr == "Già entrato"
    assert po[("attendance", "admitted")].msgstr  # the dashboard's strings share the file
    assert not (catalogue / "djangojs.po").exists()
    assert "untranslated: A string added by the test" in out.getvalue()
    first = (catalogue / "django.po").read_bytes()
    call_command("refresh_messages", stdout=io.StringIO())
    assert (catalogue / "django.po").read_bytes() == first
    assert (root / "tickets" / "locale" / "it" / "LC_MESSAGES" / "django.po").read_bytes() == (
        ROOT / "tickets" / "locale" / "it" / "LC_MESSAGES" / "django.po").read_bytes()
