"""Batched logging of scans whose code fails the signature check.

A flood of garbage (a broken scanner, someone scanning random barcodes, an attack) must not
cost a database round trip per request, yet every such scan is logged and counted. Rows are
buffered in the process and written with one multi-row INSERT every
``VARCO_INVALID_SCAN_FLUSH_SECONDS`` by a background thread (started lazily, after any fork),
and once more when the process exits. ``0`` writes each row at once (tests, debugging).

Only codes that are not real tickets go through here: a correctly signed code is always
written synchronously, before its answer.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading

from django.conf import settings
from django.db import DatabaseError, close_old_connections

log = logging.getLogger(__name__)

# If the database is unreachable for a long time, keep at most this many rows in memory.
MAX_PENDING = 100_000


class InvalidScanBuffer:
    def __init__(self) -> None:
        self._pending: list[dict] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.dropped = 0

    def record(self, **row) -> None:
        interval = settings.VARCO_INVALID_SCAN_FLUSH_SECONDS
        if interval <= 0:
            self._write([row])
            return
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                self.dropped += 1
                return
            self._pending.append(row)
        if self._thread is None or self._pid != os.getpid():
            self._start(interval)

    def pending(self) -> int:
        return len(self._pending)

    def _start(self, interval: float) -> None:
        with self._lock:
            if self._thread is not None and self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=self._run, args=(interval,), name="invalid-scan-log", daemon=True
            )
            self._thread.start()

    def _run(self, interval: float) -> None:
        while True:
            self._wake.wait(interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # keep the thread alive; rows stay pending for the next try
                log.exception("could not write invalid scans")
            finally:
                close_old_connections()

    def flush(self) -> int:
        """Write the pending rows now (in the calling thread); return how many."""
        with self._lock:
            rows, self._pending = self._pending, []
        if not rows:
            return 0
        try:
            self._write(rows)
        except DatabaseError:
            with self._lock:
                self._pending[:0] = rows[: MAX_PENDING - len(self._pending)]
            raise
        if self.dropped:
            log.warning("%d invalid scans were not logged (buffer full)", self.dropped)
            self.dropped = 0
        return len(rows)

    @staticmethod
    def _write(rows: list[dict]) -> None:
        from checkin.models import Reason, Result, ScanLog

        ScanLog.objects.bulk_create(
            [ScanLog(result=Result.REJECTED, reason=Reason.INVALID, **row) for row in rows],
            batch_size=1000,
            # a replayed nonce of a garbage scan is not logged twice
            ignore_conflicts=True,
        )


buffer = InvalidScanBuffer()
record = buffer.record


@atexit.register
def _flush_at_exit() -> None:
    try:
        buffer.flush()
    except Exception:  # pragma: no cover - the process is going away
        log.exception("could not write invalid scans at exit")
