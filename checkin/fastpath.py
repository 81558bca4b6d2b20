"""Serve POST /api/v1/checkin/scan/ straight from WSGI, in front of Django's handler.

The scan endpoint is the door's hot path and, once its own work is down to a signature check
and one database statement, Django's request machinery becomes a large share of its CPU
(``core.fastpath`` says what is skipped and what is kept). This wrapper answers that one URL
with the very same function the Django view uses (``checkin.api.door.scan_payload``) and
passes every other request — including other methods on the scan URL — to Django untouched.

The scan keeps its thread's database connection from one request to the next (gunicorn's
threads live as long as the process; the scan statement is prepared on that connection) and
closes it only when it fails; ``DB_CONN_MAX_AGE`` applies to Django's requests, not to this.
Set ``VARCO_SCAN_FAST_PATH=false`` to serve the scan through Django's handler instead (same
answers, more CPU).
"""

from __future__ import annotations

from collections.abc import Callable

from checkin.api import door
from core.errors import error_body
from core.fastpath import Answer, JsonFastPath

SCAN_PATH = "/api/v1/checkin/scan/"


class ScanFastPath(JsonFastPath):
    enabled_setting = "VARCO_SCAN_FAST_PATH"
    server_error = error_body("server_error", "Unexpected error; nothing was recorded.")

    def takes(self, environ: dict) -> bool:
        return environ.get("PATH_INFO") == SCAN_PATH and environ.get("REQUEST_METHOD") == "POST"

    def answer(self, environ: dict) -> Answer:
        try:
            length = int(environ.get("CONTENT_LENGTH") or door.MAX_BODY + 1)
        except ValueError:
            length = door.MAX_BODY + 1
        body = environ["wsgi.input"].read(min(length, door.MAX_BODY + 1))
        return door.scan_payload(environ.get("HTTP_AUTHORIZATION"), body)


def wrap(app: Callable) -> ScanFastPath:
    return ScanFastPath(app)
