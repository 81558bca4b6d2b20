"""Real concurrency for the PostgreSQL race tests: threads released at one instant, each on
its own database connection."""

from __future__ import annotations

import threading

from django.db import connection


def run_in_threads(count: int, work, join_timeout: float = 60) -> list:
    """Run ``work(index)`` in ``count`` threads released at the same instant; the results in
    index order. Any exception in a thread fails the caller."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list[BaseException] = []

    def target(index: int) -> None:
        try:
            connection.ensure_connection()  # each thread: its own PostgreSQL connection
            barrier.wait(timeout=30)
            results[index] = work(index)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=join_timeout)
    assert not errors, errors
    return results
