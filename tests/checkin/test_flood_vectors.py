"""The door page keeps the server's allowance of invalid codes offline: one rule, two places.

``checkin/frontend/test/flood_vectors.json`` is what ``checkin.scanning.flood``'s token bucket
answers for fixed sequences of invalid codes (limits, and the time of each code), and
``node --test checkin/frontend/test/flood.test.mjs`` holds the page's ``src/flood.js`` to the
same answers. The numbers themselves reach the page in the snapshot (``invalid_code_limit``,
tests/checkin/test_door.py). After a deliberate change of the rule:
``VARCO_WRITE_FLOOD_VECTORS=1 pytest tests/checkin/test_flood_vectors.py`` rewrites the file
(then review the diff).

Times stay off the exact refill boundaries: the server counts seconds, the page milliseconds,
and a boundary would test float rounding, not the rule.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from checkin.scanning import flood

ROOT = Path(__file__).resolve().parents[2]
TEST_DIR = ROOT / "checkin" / "frontend" / "test"
VECTORS = TEST_DIR / "flood_vectors.json"

# name, {VARCO_SCAN_INVALID_RATE, VARCO_SCAN_INVALID_BURST}, the codes' times (ms)
SCENARIOS = [
    ("the defaults: a burst of 20, then 5 a second", (5, 20),
     [0] * 25 + [250, 260, 1250, 1250, 1250, 1250, 1250, 1260, 60_000] + [60_000] * 21),
    ("the browser tests' numbers: 2 at once, one back every 100 s", (0.01, 2),
     [0, 0, 0, 0, 150_000, 150_000, 400_000, 400_000, 400_000]),
    ("a steady stream faster than the rate", (2, 3), [i * 300 for i in range(20)]),
    ("a steady stream slower than the rate", (2, 3), [i * 550 for i in range(12)]),
    ("no limit (rate 0)", (0, 20), [0] * 50),
    ("a burst below 1 counts as 1", (1, 0), [0, 0, 1100, 1200, 2300]),
]


def _answers(monkeypatch, settings, rate: float, burst: float, times: list[int]) -> list[bool]:
    settings.VARCO_SCAN_INVALID_RATE = rate
    settings.VARCO_SCAN_INVALID_BURST = burst
    now = {"t": 1000.0}
    monkeypatch.setattr(flood.time, "monotonic", lambda: now["t"])
    limiter = flood.InvalidCodeLimiter()
    answers = []
    for at in times:
        now["t"] = 1000.0 + at / 1000
        answers.append(limiter.take(1) is None)
    return answers


def vectors(monkeypatch, settings) -> dict:
    # The process's buckets: the rule itself (the shared one in Redis runs the same arithmetic
    # in Lua, tests/checkin/test_shared_flood.py).
    monkeypatch.setattr(flood.shared, "client", lambda: None)
    return {
        "note": "written by tests/checkin/test_flood_vectors.py from checkin.scanning.flood",
        "scenarios": [
            {"name": name, "limit": {"rate": rate, "burst": burst},
             "codes": [{"at_ms": at, "allowed": allowed} for at, allowed in
                       zip(times, _answers(monkeypatch, settings, rate, burst, times),
                           strict=True)]}
            for name, (rate, burst), times in SCENARIOS
        ],
    }


def test_vectors_are_what_the_server_answers(monkeypatch, settings):
    data = vectors(monkeypatch, settings)
    expected = json.dumps(data, indent=1) + "\n"
    if os.environ.get("VARCO_WRITE_FLOOD_VECTORS"):
        VECTORS.write_text(expected)
    assert VECTORS.read_text() == expected, (
        "checkin/frontend/test/flood_vectors.json differs from what checkin.scanning.flood "
        "answers: rewrite it with VARCO_WRITE_FLOOD_VECTORS=1 and review the diff")
    # the scenarios test something: a flood is refused, a slow stream or no limit never is
    answers = {scenario["name"]: {code["allowed"] for code in scenario["codes"]}
               for scenario in data["scenarios"]}
    for name, seen in answers.items():
        never_refused = name.startswith(("no limit", "a steady stream slower"))
        assert seen == ({True} if never_refused else {True, False}), name

def test_door_page_answers_the_vectors_alike():
    node = shutil.which("node")
    assert node, "node is needed for the door page's tests (Debian: apt-get install nodejs)"
    done = subprocess.run(
        [node, "--test", str(TEST_DIR / "flood.test.mjs")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout
    for scenario in json.loads(VECTORS.read_text())["scenarios"]:
        assert f"as the server: {scenario['name']}" in done.stdout
