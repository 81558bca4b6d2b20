"""Extension point of ``seed_demo``: other apps add demo data (e.g. a door device).

A hook is ``hook(event, export_dir) -> list[str]`` returning lines to print.
"""

from __future__ import annotations

from collections.abc import Callable

from tickets.models import Event

_hooks: list[Callable[[Event, str | None], list[str]]] = []


def register(hook: Callable[[Event, str | None], list[str]]) -> Callable:
    _hooks.append(hook)
    return hook


def run_hooks(event: Event, export_dir: str | None) -> list[str]:
    lines: list[str] = []
    for hook in _hooks:
        lines.extend(hook(event, export_dir))
    return lines
