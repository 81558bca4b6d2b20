"""axe-core (the WCAG rule engine) run on a Playwright page: ``assert_no_axe_violations``.

The engine is the npm package ``axe-core`` (a devDependency of checkin/frontend, installed by
``make frontend-deps``). It is evaluated through the DevTools protocol rather than added as a
``<script>``: Varco's Content-Security-Policy refuses inline scripts, and a context that
bypassed the policy could render the page differently from what visitors get.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AXE_SOURCE = ROOT / "checkin" / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"

# Every rule of every WCAG level axe knows, and its best practices: zero violations of any
# impact is the bar.
RUN_OPTIONS = {"resultTypes": ["violations"]}


@cache
def axe_source() -> str:
    if not AXE_SOURCE.exists():
        raise AssertionError(
            f"{AXE_SOURCE} is missing: `make frontend-deps` installs axe-core"
        )
    return AXE_SOURCE.read_text()


def axe_violations(page) -> list[dict]:
    """axe's violations on ``page`` as it is now: ``[{id, impact, help, targets}]``."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # A string expression is evaluated by the DevTools protocol, which the page's CSP
        # does not govern (an injected <script> would be refused).
        page.evaluate(axe_source() + "\n;undefined")
    found = page.evaluate(
        """async (options) => {
            const results = await window.axe.run(document, options);
            return results.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map((n) => n.target.join(" ")),
            }));
        }""",
        RUN_OPTIONS,
    )
    return list(found)


def describe(violations: list[dict], limit: int = 8) -> str:
    """One line per rule: id, impact, what it wants, and the first ``limit`` elements."""
    lines = []
    for v in violations:
        targets = v["targets"]
        shown = ", ".join(targets[:limit]) + (f" … (+{len(targets) - limit})"
                                               if len(targets) > limit else "")
        lines.append(f"- {v['id']} ({v['impact']}, {len(targets)} elements): {v['help']}\n"
                     f"    {shown}")
    return "\n".join(lines)


def assert_no_axe_violations(page, name: str, *, screenshot: bool = True) -> None:
    """Fail with a readable list (rule id, impact, targets) unless axe finds nothing on
    ``page``; ``name`` names the page in the message and its screenshot
    (``test-artifacts/axe-<name>.png``)."""
    if screenshot:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"axe-{name}.png"), full_page=True)
    violations = axe_violations(page)
    assert not violations, f"axe-core on {name} ({page.url}):\n{describe(violations)}"
