"""Helpers for the check-in tests: a list, a paired device, and a scanning client."""

from __future__ import annotations

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
