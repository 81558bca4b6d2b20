"""Helpers for the check-in tests: a list, a paired device, and a scanning client."""

from __future__ import annotations

import io
import json
import uuid

from django.test import Client

from checkin import services as checkin_services
from checkin.models import CheckinList, Device
from tickets.models import Event

SCAN_URL = "/api/v1/checkin/scan/"


def make_list(event: Event, name: str = "Ingresso principale", **fields) -> CheckinList:
    return checkin_services.create_list(event, name, **fields)


def make_device(event: Event, lists=None, name: str = "Porta A", gate: str = "A"
                ) -> tuple[Device, str]:
    return checkin_services.create_device(event, name, gate, lists=lists)


class WsgiResponse:
    def __init__(self, status: str, headers: list[tuple[str, str]], content: bytes) -> None:
        self.status_code = int(status.split()[0])
        self.headers = {name.lower(): value for name, value in headers}
        self.content = content

    def __getitem__(self, name: str) -> str:
        return self.headers[name.lower()]

    def json(self):
        return json.loads(self.content)


class WsgiClient:
    """Calls ``backend.wsgi.application`` — the object gunicorn serves, scan fast path
    included — the way a WSGI server would (the Django test client bypasses it)."""

    def _call(self, method: str, path: str, data=b"", content_type: str = "", **extra):
        from django.core.signals import request_finished, request_started
        from django.db import close_old_connections

        from backend.wsgi import application

        body = data.encode() if isinstance(data, str) else (data or b"")
        environ = {
            "REQUEST_METHOD": method.upper(), "PATH_INFO": path, "QUERY_STRING": "",
            "SERVER_NAME": "testserver", "SERVER_PORT": "80", "HTTP_HOST": "testserver",
            "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body), "wsgi.errors": io.StringIO(),
            "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": content_type, **extra,
        }
        captured = {}

        def start_response(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers

        # Like Django's test client: keep the test's database connection open.
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            result = application(environ, start_response)
            content = b"".join(result)
            if hasattr(result, "close"):
                result.close()
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)
        return WsgiResponse(captured["status"], captured["headers"], content)

    def post(self, path, data=b"", content_type="", **extra):
        return self._call("POST", path, data, content_type, **extra)

    def get(self, path, data=None, **extra):
        return self._call("GET", path, **extra)

    def put(self, path, data=b"", content_type="", **extra):
        return self._call("PUT", path, data, content_type, **extra)

    def patch(self, path, data=b"", content_type="", **extra):
        return self._call("PATCH", path, data, content_type, **extra)

    def delete(self, path, data=b"", content_type="", **extra):
        return self._call("DELETE", path, data, content_type, **extra)


class Door:
    """A device's view of the API: ``door.scan(code)`` posts like a scanner would."""

    def __init__(self, token: str, checkin_list: CheckinList, client: Client | None = None):
        self.token = token
        self.list = checkin_list
        self.client = client or Client()

    def post(self, path: str, body, token: str | None = None, raw: bool = False):
        data = body if raw else json.dumps(body)
        return self.client.post(
            path, data=data, content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {token or self.token}",
        )

    def get(self, path: str, **params):
        return self.client.get(path, params, HTTP_AUTHORIZATION=f"Token {self.token}")

    def scan(self, code: str, nonce: str | None = None, list_id: int | None = None, **extra):
        body = {"code": code, "list": list_id or self.list.pk,
                "nonce": nonce or str(uuid.uuid4()), **extra}
        response = self.post(SCAN_URL, body)
        assert response.status_code == 200, response.content
        return response.json()
