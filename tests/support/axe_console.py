"""axe-core (the WCAG rule engine, npm's ``axe-core`` in checkin/frontend's devDependencies)
run in a Playwright page: ``assert_no_axe_violations(page)``.

Evaluated through the DevTools protocol (``page.evaluate``), which a page's CSP does not
govern: no ``bypass_csp``, so the page's own scripts stay under its real policy. Same name
and use as the shared helper another branch adds in tests/support/; switching to it is an
import change.
"""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).resolve().parents[2] / "checkin/frontend/node_modules/axe-core/axe.min.js"


def axe_violations(page) -> list[dict]:
    if not AXE.exists():
        raise AssertionError(f"{AXE} is missing: run `npm ci` in checkin/frontend")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    result = page.evaluate("async () => await window.axe.run(document)")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]} for v in result["violations"]]


def assert_no_axe_violations(page, where: str = "") -> None:
    violations = axe_violations(page)
    assert violations == [], f"{where or page.url}: {violations}"
