"""gunicorn's threaded worker, minus its keep-alive stall (gunicorn.conf.py selects it).

The stall (issue 10): gunicorn's gthread worker reads a connection through a buffer of its own
(the parser's "unreader"). When a request's body was not read by the application — a 401, 404,
405, 413 or 415 answered from the headers alone — gunicorn discards the rest of the body *after*
the response has gone out, in 8 KiB reads. The client, having its answer, sends its next
request on the same connection at once, so one of those reads can return the tail of the old
body *and* the start of the next request; gunicorn keeps the surplus in its buffer and hands the
connection back to its selector, which waits for the *socket* to become readable. It never
does — the next request is already in the buffer — so that request waits for the keep-alive
timeout (30 s) and the connection is then closed under it. A pipelining client (two requests
in one packet) hits the same wall with no body involved.

The fix is in the one place that knows: when a kept-alive connection comes back with bytes
already buffered, it goes straight back to the thread pool instead of to the selector. Every
other decision (keep-alive limits, timeouts, shutdown) stays gunicorn's. Upgrading gunicorn is
no cure: 24.1.1 (installed) and 27.0.1 (newest) both have the same hand-back, and 27 closes the
connection under the buffered request instead (measured, docs/benchmarks.md "Serving").

**Connections are spread evenly over the processes.** Every worker process waits on the same
listening socket and the first to call ``accept`` gets the connection; a kept-alive connection
then stays with that process for its life. Clients that connect together (a door team at
opening, a load test's 32 clients) were split 19/13, 18/14, even 5/27 between two processes
(measured with ``ss`` during ``make bench-registration``), and a process runs one thread at a
time (the GIL): the clients of the crowded one waited for a core while the other's was idle,
which doubled the 99th percentile of a registration rush. Here a process that already has a
connection for each of its threads waits a little before accepting (``ACCEPT_STEP_S`` per
connection over that, at most ``ACCEPT_WAIT_MAX_S``), so a process with fewer connections,
woken by the same new connection, takes it first; when no other does, the wait is the only
cost. A process with a free thread accepts at once, as before.

This relies on names inside gunicorn's gthread worker (``finish_request``, ``enqueue_req``,
``accept``, ``TConn.parser.unreader.buf``, and the count ``nr_conns``); ``check_config``
refuses to start if one of the first four is gone, tests/system/test_edges_serving.py checks
the spreading (and so the count), and pyproject.toml keeps gunicorn to the tested series
(24.x).
"""

from __future__ import annotations

import inspect
import io
import time
from concurrent.futures import Future

from gunicorn.http.unreader import Unreader
from gunicorn.workers import gthread

# The wait of a process with more connections than threads before it accepts another: per
# connection over that, and at most (the event loop of that process pauses as long).
ACCEPT_STEP_S = 0.0005
ACCEPT_WAIT_MAX_S = 0.005


def accept_wait(connections: int, threads: int) -> float:
    """How long a process holding ``connections`` with ``threads`` threads waits to accept."""
    over = connections - threads
    return 0.0 if over < 0 else min(ACCEPT_WAIT_MAX_S, ACCEPT_STEP_S * (over + 1))


def buffered_bytes(conn: gthread.TConn) -> int:
    """Bytes of the connection's next request(s) already read off the socket by gunicorn."""
    parser = conn.parser
    if parser is None:
        return 0
    buf = parser.unreader.buf
    if not isinstance(buf, io.BytesIO):
        return 0
    with buf.getbuffer() as view:  # released at once: a live view would pin the buffer's size
        return view.nbytes


class ThreadWorker(gthread.ThreadWorker):
    """gunicorn's gthread worker; a kept-alive connection with a buffered request is served
    at once instead of waiting for its socket to turn readable, and a new connection goes to
    the process with fewer."""

    @classmethod
    def check_config(cls, cfg, log) -> None:
        super().check_config(cfg, log)
        missing = [name for name in ("finish_request", "enqueue_req", "accept")
                   if not callable(getattr(gthread.ThreadWorker, name, None))]
        if "finish_request" not in missing and list(
                inspect.signature(gthread.ThreadWorker.finish_request).parameters) != [
                "self", "conn", "fs"]:
            missing.append("finish_request(conn, fs)")
        if not isinstance(getattr(Unreader(), "buf", None), io.BytesIO):
            missing.append("Unreader.buf")
        if missing:
            raise RuntimeError(
                "backend.gunicorn_worker needs gunicorn's gthread internals "
                f"{', '.join(missing)}, gone in this gunicorn version: pin the tested one")

    def finish_request(self, conn: gthread.TConn, fs: Future) -> None:
        keepalive = not fs.cancelled() and fs.exception() is None and fs.result()
        if keepalive and self.alive and buffered_bytes(conn):
            # The next request is already read: the socket will not signal it. Serve it now.
            self.enqueue_req(conn)
            return
        super().finish_request(conn, fs)

    def accept(self, listener) -> None:
        wait = accept_wait(self.nr_conns, self.cfg.threads)
        if wait:
            # Every process is woken by the new connection: the least crowded, waiting least,
            # takes it; the others then find nothing to accept (EAGAIN, which gunicorn ignores).
            time.sleep(wait)
        super().accept(listener)
