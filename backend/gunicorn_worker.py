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

This relies on three names inside gunicorn's gthread worker (``finish_request``,
``enqueue_req``, ``TConn.parser.unreader.buf``); ``check_config`` refuses to start if any is
gone, and pyproject.toml keeps gunicorn to the tested series (24.x).
"""

from __future__ import annotations

import inspect
import io
from concurrent.futures import Future

from gunicorn.http.unreader import Unreader
from gunicorn.workers import gthread


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
    at once instead of waiting for its socket to turn readable."""

    @classmethod
    def check_config(cls, cfg, log) -> None:
        super().check_config(cfg, log)
        missing = [name for name in ("finish_request", "enqueue_req")
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
