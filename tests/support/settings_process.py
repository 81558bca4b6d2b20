"""Settings as a fresh process reads them from its environment.

Settings are read once per process, so a test of what an environment variable sets starts a
Python of its own (in the repository, with this run's var/ folder) and reads its answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings as django_settings

ROOT = Path(__file__).resolve().parents[2]


def settings_in_subprocess(env: dict[str, str], *names: str) -> subprocess.CompletedProcess:
    """Start a Python that sets Django up with ``env`` (and no other VARCO_ variable) and
    prints the named settings as JSON on its last line."""
    code = (
        "import django, json, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', "
        "'backend.settings'); django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: str(getattr(settings, n)) for n in {list(names)!r}}}))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VARCO_")}
    clean["VARCO_VAR_DIR"] = django_settings.VAR_DIR.as_posix()
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=60)
