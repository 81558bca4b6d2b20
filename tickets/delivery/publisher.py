"""The registrations' e-mail tasks, published in batches by one thread per process.

Why: publishing a Celery task costs the web process about 1 ms of CPU (kombu builds the
message, then a Redis LPUSH round trip): 15 to 18% of a registration's web CPU, paid once per
registration (docs/benchmarks.md, "Registration"). In a registration rush many registrations
commit within the same few milliseconds, and ``send_deliveries`` takes a batch of rows anyway:
here the ids are handed (``queue.publish_soon``) to a thread of the process, which waits
``VARCO_DELIVERY_PUBLISH_LINGER_MS`` after the first one and publishes everything gathered by
then as one task per ``VARCO_DELIVERY_BATCH_SIZE`` rows (``queue.publish``). The request no
longer pays the publish at all, and the worker gets fuller batches (one SMTP session for
several tickets).

Nothing about exactly-once changes (rule 1 of ``tickets.delivery``): the rows are committed
before their ids reach ``submit``, and a task only says "look at these rows". Ids still pending
when the process dies (SIGKILL, a crash) are not lost: their rows stay ``queued`` and the sweep
publishes them once due for ``VARCO_DELIVERY_STALE_SECONDS`` (rule 5). A process that exits
normally publishes what is pending first (``flush``: gunicorn's ``worker_exit``, and ``atexit``).

In eager mode (tests, ``CELERY_TASK_ALWAYS_EAGER``) and with a linger of 0 the ids are
published at once by the caller, as before.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from celery import current_app
from django.conf import settings

log = logging.getLogger(__name__)


class BatchPublisher:
    """Gathers delivery ids and publishes them from one daemon thread (started on first use,
    again in a forked child, where the parent's thread does not exist)."""

    def __init__(self, publish: Callable[[list[int]], None]) -> None:
        self._publish = publish
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: list[int] = []
        self._thread: threading.Thread | None = None
        self._pid = 0

    def submit(self, ids: list[int]) -> None:
        linger = settings.VARCO_DELIVERY_PUBLISH_LINGER_MS
        if linger <= 0 or current_app.conf.task_always_eager:
            self._publish(ids)
            return
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child: the parent's ids and
                self._pending, self._thread = [], None  # thread stayed with the parent
                self._pid = os.getpid()
            self._pending.extend(ids)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, args=(linger / 1000,), name="varco-publisher", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def _take(self) -> list[int]:
        with self._lock:
            ids, self._pending = self._pending, []
        return ids

    def _run(self, linger: float) -> None:
        while True:
            with self._lock:
                while not self._pending:
                    self._wake.wait()
            time.sleep(linger)  # let the registrations of the next moments join this batch
            ids = self._take()
            if not ids:  # taken by a flush meanwhile
                continue
            try:
                self._publish(ids)
            except Exception:  # never let the thread die: the next ids would wait for the sweep
                log.exception("could not publish %d deliveries; the sweep will", len(ids))

    def flush(self) -> None:
        """Publish what is pending now (a process about to exit)."""
        if self._pid == os.getpid():
            ids = self._take()
            if ids:
                self._publish(ids)
