"""The layout's rules, checked from the code's own imports (grimp, the graph behind
import-linter; function-level "lazy" imports included) and files:

- no import cycle between modules;
- no module over 600 lines (migrations and the vendored load generator aside);
- no app imports another app's underscored names or its ``api`` package (the interfaces are
  its services, selectors, signals and models; docs/architecture.md); ``core.api`` is the
  platform's shared API toolkit and may be imported by both apps;
- every import inside a function says why, in a comment on its line or the line above.

The allowed directions between the rooms are checked by ``lint-imports`` (.importlinter),
which ``make test`` runs before pytest.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "tickets", "checkin", "badges", "worker", "backend")
APPS = [p for p in PACKAGES if (ROOT / p / "__init__.py").exists()]
MAX_LINES = 600
NOT_SOURCE = re.compile(r"/(migrations|node_modules|static|frontend)/")


@pytest.fixture(scope="module")
def graph():
    sys.path.insert(0, str(ROOT))
    return grimp.build_graph(*APPS, cache_dir=None)


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_no_import_cycles(graph):
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    class Two:
        modules = {"a", "b", "c"}

        @staticmethod
        def find_modules_directly_imported_by(module):
            return {"a": {"b"}, "b": {"a"}, "c": {"a"}}[module]

    assert _cycles(Two()) == [["a", "b"]]


def _sources():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if not NOT_SOURCE.search(path.as_posix()):
                yield path


def test_no_module_over_600_lines():
    long = {
        str(path.relative_to(ROOT)): n
        for path in _sources()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def _app(module: str) -> str:
    return module.split(".")[0]


def test_apps_use_each_others_interfaces_only(graph):
    wrong = []
    for importer in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(importer):
            if _app(imported) == _app(importer):
                continue
            parts = imported.split(".")
            # core.api is the platform's API toolkit, there to be shared; an app's api/ is not.
            api_internal = "api" in parts[1:] and _app(imported) != "core"
            if api_internal or any(p.startswith("_") and p != "__init__" for p in parts):
                wrong.append(f"{importer} -> {imported}")
                continue
            for detail in graph.get_import_details(importer=importer, imported=imported):
                line = detail["line_contents"]
                if " import " not in line:
                    continue
                names = line.split(" import ", 1)[1].split("#")[0].strip("() ")
                if any(n.split(" as ")[0].strip().startswith("_") for n in names.split(",")):
                    wrong.append(f"{importer}:{detail['line_number']}: {line}")
    assert wrong == []


def _lazy_imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    yield inner


def test_every_lazy_import_says_why():
    silent = []
    for path in _sources():
        lines = path.read_text().splitlines()
        for node in _lazy_imports(path):
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                continue
            here = lines[node.lineno - 1]
            above = lines[node.lineno - 2] if node.lineno > 1 else ""
            if "#" not in here and not above.strip().startswith("#"):
                silent.append(f"{path.relative_to(ROOT)}:{node.lineno}: {here.strip()}")
    assert silent == []
