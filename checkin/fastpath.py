"""Serve POST /api/v1/checkin/scan/ straight from WSGI, in front of Django's handler.

The scan endpoint is the door's hot path and, once its own work is down to a signature check
and one database statement, Django's request machinery becomes a large share of its CPU: the
middleware stack (sessions, CSRF, locale, messages, auth, clickjacking, whitenoise), URL
resolution, signals and response building, none of which a device API answered with a
token and a JSON body needs. This WSGI wrapper answers that one URL with the very same
function the Django view uses (``checkin.api.door.scan_payload``) and passes every other
request — including other methods on the scan URL — to Django untouched.

What it keeps from Django's stack: the ALLOWED_HOSTS check (a disallowed host goes to Django,
which refuses it), SECURE_SSL_REDIRECT (a plain-HTTP request goes to Django, which redirects),
the headers SecurityMiddleware would add to a JSON answer (nosniff, referrer policy, COOP,
HSTS), and a JSON 500 with a logged traceback for an unexpected error.
The scan keeps its thread's database connection from one request to the next (gunicorn's
threads live as long as the process; the scan statement is prepared on that connection) and
closes it only when it fails; ``DB_CONN_MAX_AGE`` applies to Django's requests, not to this.
Set ``VARCO_SCAN_FAST_PATH=false`` to serve the scan through Django's handler instead (same
answers, more CPU).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.signals import setting_changed
from django.http.request import split_domain_port, validate_host

from checkin.api import door
from core.errors import error_body

log = logging.getLogger("django.request")

SCAN_PATH = "/api/v1/checkin/scan/"
_STATUS = {
    200: "200 OK", 400: "400 Bad Request", 401: "401 Unauthorized", 403: "403 Forbidden",
    409: "409 Conflict", 429: "429 Too Many Requests", 500: "500 Internal Server Error",
    503: "503 Service Unavailable",
}
_HEADERS = [
    ("Content-Type", "application/json"),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
]
_SERVER_ERROR = error_body("server_error", "Unexpected error; nothing was recorded.")


class ScanFastPath:
    def __init__(self, app: Callable) -> None:
        self.app = app
        self._hosts: dict[str, bool] = {}
        self._config: tuple | None = None
        setting_changed.connect(self._forget, weak=False)

    def _forget(self, **kwargs) -> None:
        """Settings are read once (each read of ``settings`` costs a lazy-object lookup);
        a change made by tests (override_settings) is seen at once."""
        self._config = None
        self._hosts = {}

    def _settings(self) -> tuple:
        if self._config is None:
            hsts = None
            if settings.SECURE_HSTS_SECONDS:
                hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
                if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
                    hsts += "; includeSubDomains"
                if settings.SECURE_HSTS_PRELOAD:
                    hsts += "; preload"
            self._config = (settings.VARCO_SCAN_FAST_PATH, settings.SECURE_SSL_REDIRECT,
                            settings.SECURE_PROXY_SSL_HEADER, hsts)
        return self._config

    def _host_allowed(self, environ: dict) -> bool:
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        allowed = self._hosts.get(host)
        if allowed is None:
            domain, _ = split_domain_port(host)
            hosts = settings.ALLOWED_HOSTS
            if settings.DEBUG and not hosts:
                hosts = [".localhost", "127.0.0.1", "[::1]"]
            allowed = bool(domain) and validate_host(domain, hosts)
            if len(self._hosts) < 1000:
                self._hosts[host] = allowed
        return allowed

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != SCAN_PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        enabled, ssl_redirect, proxy_ssl_header, hsts = self._settings()
        if not enabled or not self._host_allowed(environ):
            return self.app(environ, start_response)
        secure = environ.get("wsgi.url_scheme") == "https" or bool(
            proxy_ssl_header and environ.get(proxy_ssl_header[0]) == proxy_ssl_header[1]
        )
        if ssl_redirect and not secure:
            return self.app(environ, start_response)  # Django answers with its redirect
        try:
            length = int(environ.get("CONTENT_LENGTH") or door.MAX_BODY + 1)
        except ValueError:
            length = door.MAX_BODY + 1
        body = environ["wsgi.input"].read(min(length, door.MAX_BODY + 1))
        try:
            status, data, extra = door.scan_payload(environ.get("HTTP_AUTHORIZATION"), body)
        except Exception:
            log.exception("Internal Server Error: %s", SCAN_PATH)
            status, data, extra = 500, _SERVER_ERROR, {}
        payload = json.dumps(data, separators=(",", ":")).encode()
        headers = [*_HEADERS, ("Content-Length", str(len(payload))), *extra.items()]
        if secure and hsts:
            headers.append(("Strict-Transport-Security", hsts))
        start_response(_STATUS[status], headers)
        return [payload]


def wrap(app: Callable) -> ScanFastPath:
    return ScanFastPath(app)
