"""Batched logging of scans whose code fails the signature check.

A flood of garbage (a broken scanner, someone scanning random barcodes, an attack) must not
cost a database round trip per request, yet every such scan is logged and counted. Rows are
buffered in the process and written with one multi-row INSERT every
``VARCO_INVALID_SCAN_FLUSH_SECONDS`` by a background thread (started lazily, after any fork),
and once more when the process exits (gunicorn's ``worker_exit`` hook and ``atexit``: a
SIGTERM, a graceful restart or ``max_requests`` loses nothing; the exit's flush first waits for
a batch the background thread is writing, which would otherwise die with the process — found
by three processes logging at once, tests/checkin/test_invalid_log_hosts.py). ``0`` writes each
row at once (tests, debugging).

The window: rows answered but not yet written — at most one interval's worth, plus a batch in
flight — are lost if the process dies without running Python's exit (SIGKILL, OOM killer, a
gunicorn worker killed at its ``timeout``/``graceful_timeout``). Such a scan was answered
``invalid`` and changed nothing; only its log row is missing.

A row the database refuses (a value it cannot store) must not block the rows behind it: when a
batch fails for any reason but a lost connection, its rows are written one by one and the
refused ones are dropped with a warning. Only an outage (the database unreachable) keeps the
batch pending for the next try.

Only codes that are not real tickets go through here: a correctly signed code is always
written synchronously, before its answer.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading

from django.conf import settings
from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    transaction,
)

from checkin.models import Reason, Result, ScanLog

# The name it had before the scanning package: operators filter their logs on it.
log = logging.getLogger("checkin.invalid_log")

# If the database is unreachable for a long time, keep at most this many rows in memory.
MAX_PENDING = 100_000


class InvalidScanBuffer:
    def __init__(self) -> None:
        self._pending: list[dict] = []
        self._lock = threading.Lock()
        # Held while a batch is taken and written: the exit's flush waits for the background
        # thread's batch in flight (a daemon thread is stopped only after the exit handlers,
        # so it finishes), instead of leaving it to die with the process.
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.dropped = 0

    def record(self, **row) -> None:
        interval = settings.VARCO_INVALID_SCAN_FLUSH_SECONDS
        if interval <= 0:
            self._store([row])
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
        """Write the pending rows now (in the calling thread); return how many were written
        (rows the database refused are dropped, with a warning, and not counted)."""
        with self._flushing:
            return self._flush()

    def _flush(self) -> int:
        with self._lock:
            rows, self._pending = self._pending, []
        if not rows:
            return 0
        try:
            written = self._store(rows)
        except (OperationalError, InterfaceError):
            # The database is unreachable: keep the rows for the next try.
            with self._lock:
                self._pending[:0] = rows[: MAX_PENDING - len(self._pending)]
            raise
        if self.dropped:
            log.warning("%d invalid scans were not logged (buffer full)", self.dropped)
            self.dropped = 0
        return written

    def _store(self, rows: list[dict]) -> int:
        """Write ``rows`` as one batch, or one by one if the batch is refused; return how many
        were written. An outage (OperationalError, InterfaceError) propagates."""
        try:
            self._write(rows)
            return len(rows)
        except (OperationalError, InterfaceError):
            raise
        except Exception:  # DatabaseError, or a value the driver cannot even send
            return self._write_one_by_one(rows)

    def _write_one_by_one(self, rows: list[dict]) -> int:
        """After a failed batch: write each row alone, drop (and report) those refused.

        An outage met here propagates; ``flush`` then keeps every row of the batch (re-writing
        the ones already in is harmless: a repeated nonce is ignored, and a row without one is
        at worst logged twice — better than lost)."""
        written = 0
        for row in rows:
            try:
                self._write([row])
                written += 1
            except (OperationalError, InterfaceError):
                raise
            except Exception as exc:  # any refusal of this one row
                log.warning("invalid scan not logged, the database refused it (%s): %.300r",
                            exc, row)
        return written

    @staticmethod
    def _write(rows: list[dict]) -> None:
        # A savepoint when called inside a transaction (tests, flush interval 0 within a
        # request's atomic block): a refused batch must not abort the surrounding one.
        with transaction.atomic():
            ScanLog.objects.bulk_create(
                [ScanLog(result=Result.REJECTED, reason=Reason.INVALID, **row) for row in rows],
                batch_size=1000,
                # a replayed nonce of a garbage scan is not logged twice
                ignore_conflicts=True,
            )


buffer = InvalidScanBuffer()
record = buffer.record


@atexit.register
def flush_at_exit() -> None:
    """Write what is pending before the process goes (gunicorn's worker_exit, atexit)."""
    try:
        buffer.flush()
    except Exception:  # pragma: no cover - the process is going away
        log.exception("could not write invalid scans at exit")
