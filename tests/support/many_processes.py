"""Several Python processes on the test database, released at the same instant (a start file),
each running one snippet and printing one JSON line: "hosts" running the same job at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support.worker_process import ROOT, shared_keys, test_database_url

_PRELUDE = """
import json, os, sys, time
import django
django.setup()
while not os.path.exists(sys.argv[1]):
    time.sleep(0.005)
"""


def run_at_once(snippet: str, count: int, tmp_path: Path, **env_extra: str) -> list:
    """Run ``snippet`` (which ends by printing one JSON value) in ``count`` processes that start
    their work together; return what each printed, in order."""
    start = tmp_path / "start"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VARCO_")}
    env.update(DJANGO_SETTINGS_MODULE="backend.settings", DATABASE_URL=test_database_url(),
               LOG_LEVEL="WARNING", **shared_keys(), **env_extra)
    processes = [
        subprocess.Popen([sys.executable, "-c", _PRELUDE + snippet, str(start)], cwd=ROOT,
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    time.sleep(3)  # (Django's set-up in each; the file releases them, ready or not)
    start.touch()
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results
