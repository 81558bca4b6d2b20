"""A JSON endpoint answered straight from WSGI, in front of Django's handler.

For the two endpoints whose own work is down to a few statements and that are hit by crowds
(the door's scan, ``checkin.fastpath``; the public registration, ``tickets.fastpath``),
Django's request machinery — the middleware stack (sessions, CSRF, locale, messages, auth,
clickjacking, CSP, whitenoise), URL resolution, DRF's dispatch and response building — is a
large share of the CPU (a third of a registration's web CPU, docs/benchmarks.md), and none of
it is needed to answer a JSON body. A subclass says which requests it takes (``takes``) and
answers them (``answer``) with the very functions its Django view uses; every other request
goes to Django untouched, and so does any request ``answer`` gives back (``None``: Django
then answers it as it always did, e.g. with its refusals).

What it keeps from Django's stack: the ALLOWED_HOSTS check (a disallowed host goes to Django,
which refuses it), SECURE_SSL_REDIRECT (a plain-HTTP request goes to Django, which redirects),
the headers SecurityMiddleware would add to a JSON answer (nosniff, referrer policy, COOP,
HSTS), and a JSON 500 with a logged traceback for an unexpected error. Each endpoint has a
setting that turns its fast path off (``enabled_setting``: same answers through Django).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus

from django.conf import settings
from django.core.signals import setting_changed
from django.http.request import split_domain_port, validate_host

from core.errors import error_body

log = logging.getLogger("django.request")

_HEADERS = [
    ("Content-Type", "application/json"),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
]

# (status, JSON body, extra headers), or None: "let Django answer this one".
Answer = tuple[int, dict, dict[str, str]] | None


def give_back(environ: dict, body: bytes) -> None:
    """Put a body already read back in ``environ``, for Django to read it again."""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


class JsonFastPath:
    enabled_setting: str
    server_error = error_body("server_error", "Internal error; it has been logged.")

    def __init__(self, app: Callable) -> None:
        self.app = app
        self._hosts: dict[str, bool] = {}
        self._config: tuple | None = None
        setting_changed.connect(self._forget, weak=False)

    def takes(self, environ: dict) -> bool:  # pragma: no cover - every subclass says
        raise NotImplementedError

    def answer(self, environ: dict) -> Answer:  # pragma: no cover - every subclass says
        raise NotImplementedError

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
            self._config = (getattr(settings, self.enabled_setting), settings.SECURE_SSL_REDIRECT,
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
        if not self.takes(environ):
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
            answer = self.answer(environ)
        except Exception:
            log.exception("Internal Server Error: %s", environ.get("PATH_INFO"))
            answer = 500, self.server_error, {}
        if answer is None:
            return self.app(environ, start_response)
        status, data, extra = answer
        payload = json.dumps(data, separators=(",", ":")).encode()
        headers = [*_HEADERS, ("Content-Length", str(len(payload))), *extra.items()]
        if secure and hsts:
            headers.append(("Strict-Transport-Security", hsts))
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [payload]
