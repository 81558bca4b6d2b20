"""The door API (plain Django views) is in /api/schema/ (checkin/api/schema.py), complete and
accurate: every door URL and method is documented with the device token scheme, and bodies
generated from the request schemas are accepted by the views (no 400), so schemathesis' valid
cases reach the logic behind the checks. (Its invalid cases are the fuzz run's:
tests/system/test_schemathesis.py, where any 5xx fails.)

Time fields (``scanned_at``) are left out of the comparison: their parsing is its own
hardening (a date-time the schema allows that Python's parser refuses is a 400 the schema
does not predict).
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.test import Client
from django.urls import URLPattern
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from checkin.api import door
from checkin.api import urls as checkin_urls
from tests.support.checkin import make_device, make_list

pytestmark = pytest.mark.django_db
PREFIX = "/api/v1/"
TIME_FIELDS = ("scanned_at",)


@pytest.fixture(scope="module")
def raw_schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return json.loads(response.content)


def door_routes() -> dict[str, set[str]]:
    """Every door URL with the methods its view accepts (from the views themselves)."""
    routes = {}
    for pattern in checkin_urls.urlpatterns:
        if isinstance(pattern, URLPattern) and pattern.callback.__module__ == door.__name__:
            routes[PREFIX + str(pattern.pattern)] = pattern.callback
    return routes


def test_every_door_url_and_method_is_documented(raw_schema):
    client = Client()
    routes = door_routes()
    assert len(routes) >= 9
    for url in routes:
        allow = client.generic("BREW", url)["Allow"]
        methods = {m.strip().lower() for m in allow.split(",")}
        assert set(raw_schema["paths"].get(url, {})) == methods, url
        for method, operation in raw_schema["paths"][url].items():
            if url.endswith("/ping/"):
                assert operation["security"] == []
                continue
            assert operation["security"] == [{"deviceToken": []}], (url, method)
            assert "401" in operation["responses"]
    scheme = raw_schema["components"]["securitySchemes"]["deviceToken"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "Authorization"}


@pytest.fixture
def device(event):
    checkin_list = make_list(event)
    _, token = make_device(event, lists=[checkin_list])
    return {"list": checkin_list.pk, "token": token}


BODY_OPERATIONS = ["scan", "manual", "annul", "sync"]


def _post(client: Client, name: str, body) -> tuple[int, dict]:
    response = client.post(f"{PREFIX}checkin/{name}/", json.dumps(body),
                           content_type="application/json")
    return response.status_code, json.loads(response.content)


def _blames_only_time(answer: dict) -> bool:
    return bool(answer.get("fields")) and all(
        field.rsplit(".", 1)[-1] in TIME_FIELDS for field in answer["fields"]
    )


@pytest.fixture(scope="module")
def door_schema(raw_schema):
    paths = raw_schema["paths"]
    door_only = {**raw_schema, "paths": {
        url: item for url, item in paths.items() if url.startswith(PREFIX + "checkin/")
    }}
    return schemathesis.openapi.from_dict(door_only)


@pytest.mark.parametrize("name", BODY_OPERATIONS)
def test_bodies_valid_by_the_schema_are_accepted(door_schema, device, name):
    mode = GenerationMode.POSITIVE
    operation = door_schema[f"{PREFIX}checkin/{name}/"]["POST"]
    client = Client(HTTP_AUTHORIZATION=f"Token {device['token']}")
    client.raise_request_exception = False

    @settings(max_examples=20, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(operation.as_strategy(generation_mode=mode))
    def check(case):
        body = case.body
        if isinstance(body, dict):
            # a list of this device (other list ids are a 403, also fine but less telling)
            if "list" in body:
                body = {**body, "list": device["list"]}
            # (only sync has "scans"; other bodies may carry it as an unknown extra property
            # of any shape, which the server ignores)
            scans = body.get("scans") if name == "sync" else None
            for item in scans if isinstance(scans, list) else []:
                if isinstance(item, dict):
                    item["list"] = device["list"]
        status, answer = _post(client, name, body)
        assert status < 500, (body, answer)
        assert status != 400 or _blames_only_time(answer), (body, answer)

    check()
