"""A monotonic clock a test moves by hand (``clock.now += seconds``)."""

from __future__ import annotations


class Clock:
    """Stands in for ``time.monotonic`` (or any clock function) where it is patched in."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
