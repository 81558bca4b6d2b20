"""Every query parameter the API, the admin and the pages read: a NUL in it is a 400 before any
view runs (core/query_params.py), never a 500 from PostgreSQL; so is an admin
date-hierarchy value beyond 4 digits, which was an OverflowError (a 500) past a C long.

On PostgreSQL the NUL cases were 500s ("text fields cannot contain NUL"); on SQLite they were
silently compared — either way not the 400 the API promises for bad input.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from django.contrib import admin
from django.test import Client
from rest_framework.test import APIClient

from tests.support.checkin import make_device, make_list

pytestmark = pytest.mark.django_db

NUL_VALUES = ["\x00", "a\x00b"]


def assert_invalid_query(response, name: str) -> None:
    assert response.status_code == 400, (response.status_code, response.content[:300])
    body = response.json()
    assert body["error"] == "invalid"
    assert body["fields"] == {name: ["Must not contain NUL characters."]}
    assert name in body["detail"]


@pytest.fixture
def device_client(event) -> Client:
    _, token = make_device(event, lists=[make_list(event)])
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    client.raise_request_exception = False
    return client


@pytest.mark.parametrize("value", NUL_VALUES)
@pytest.mark.parametrize("name", ["result", "reason", "conflict", "list", "device", "limit",
                                  "offset", "unknown"])
def test_scan_log_filters(api, event, name, value):
    api.raise_request_exception = False
    response = api.get(f"/api/v1/events/{event.pk}/scans/", {name: value})
    assert_invalid_query(response, name)


@pytest.mark.parametrize("path", ["", "attendees/", "tickets/", "ticket-types/", "devices/",
                                  "checkin-lists/", "attendees/export/"])
def test_every_event_resource(api, event, path):
    api.raise_request_exception = False
    response = api.get(f"/api/v1/events/{event.pk}/{path}", {"search": "x\x00", "limit": "1"})
    assert_invalid_query(response, "search")


def test_a_nul_in_a_parameter_name_is_named_too(api, event):
    api.raise_request_exception = False
    response = api.get(f"/api/v1/events/{event.pk}/scans/?re%00sult=ok")
    assert_invalid_query(response, "re\\x00sult")


@pytest.mark.parametrize("url,params", [
    ("/api/v1/checkin/changes/", {"since": "2026-12-06T10:00:00+00:00\x00"}),
    ("/api/v1/checkin/search/", {"q": "Ro\x00", "list": "1"}),
    ("/api/v1/checkin/search/", {"list": "\x00"}),
    ("/api/v1/checkin/snapshot/", {"v": "\x00"}),
])
def test_door_api(device_client, url, params):
    response = device_client.get(url, params)
    assert_invalid_query(response, next(n for n, v in params.items() if "\x00" in v))


def test_other_values_still_work(api, event):
    """The middleware refuses NUL only: control characters and replaced invalid UTF-8 are
    ordinary (non-matching) values."""
    for query in ("result=%01", "reason=%7F", "result=%ED%A0%80", "search=%C0%80"):
        response = api.get(f"/api/v1/events/{event.pk}/scans/?{query}")
        assert response.status_code == 200, (query, response.content[:200])
        assert response.json()["results"] == []


# --- the admin --------------------------------------------------------------------------------


@pytest.fixture
def admin_client(staff, event) -> Client:
    staff.is_superuser = True  # every model's changelist and every filter
    staff.save(update_fields=["is_superuser"])
    client = Client()
    client.force_login(staff)
    client.raise_request_exception = False
    return client


def changelists() -> list[tuple[str, admin.ModelAdmin]]:
    return [(f"/admin/{model._meta.app_label}/{model._meta.model_name}/", model_admin)
            for model, model_admin in admin.site._registry.items()]


def changelist_parameters(client: Client, url: str, model_admin: admin.ModelAdmin) -> set[str]:
    """The list filters' parameters (from the page's filter links), search, ordering, paging
    and the date hierarchy's."""
    response = client.get(url)
    assert response.status_code == 200, url
    names = {"q", "o", "p", "all", "_to_field", "_popup", "_changelist_filters"}
    for query in re.findall(r'href="\?([^"]+)"', response.content.decode()):
        names |= {pair.split("=")[0] for pair in query.split("&amp;")}
    if model_admin.date_hierarchy:
        names |= {f"{model_admin.date_hierarchy}__{part}" for part in ("year", "month", "day")}
    return names


def test_admin_changelist_parameters_never_fail(admin_client, event, register):
    register()
    make_device(event, lists=[make_list(event)])
    checked = 0
    for url, model_admin in changelists():
        for name in changelist_parameters(admin_client, url, model_admin):
            for value in NUL_VALUES:
                response = admin_client.get(f"{url}?{quote(name)}={quote(value)}")
                assert response.status_code == 400, (url, name, response.status_code)
                checked += 1
            # anything else: shown (an unmatched value), Django's invalid-lookup redirect or
            # its 400 for a suspicious one (``_to_field`` naming a field it may not use)
            for value in ("\x01", "9" * 30):
                response = admin_client.get(f"{url}?{quote(name)}={quote(value)}")
                assert response.status_code in (200, 302, 400), (url, name, value[:5], response)
    assert checked > 100


@pytest.mark.parametrize("query", [
    "result__exact=%00", "device__id__exact=%00", "o=%00", "q=%00", "reason__exact=a%00b",
])
def test_admin_scan_log_named_in_the_issue(admin_client, query):
    response = admin_client.get(f"/admin/checkin/scanlog/?{query}")
    assert response.status_code == 400


@pytest.mark.parametrize("query", [
    "received_at__year=99999999999999999999",
    "received_at__year=2026&received_at__month=99999999999999999999",
    "received_at__year=2026&received_at__month=12&received_at__day=99999999999999999999",
])
def test_admin_date_hierarchy_beyond_a_c_long(admin_client, query):
    for url in ("/admin/checkin/scanlog/", "/admin/axes/accessattempt/"):
        response = admin_client.get(url + "?" + query.replace("received_at", "attempt_time"))
        assert response.status_code == 400, url
    # a real day still filters
    response = admin_client.get("/admin/checkin/scanlog/?received_at__year=2026"
                                "&received_at__month=12&received_at__day=6")
    assert response.status_code == 200


def test_pages_refuse_nul_with_an_html_400(event):
    client = Client()
    client.raise_request_exception = False
    response = client.get(f"/e/{event.slug}/register/", {"lang": "it\x00"})
    assert response.status_code == 400
    assert not response["Content-Type"].startswith("application/json")


def test_no_query_string_costs_nothing(api, event):
    assert APIClient().get("/api/v1/checkin/ping/").status_code == 200
    assert api.get(f"/api/v1/events/{event.pk}/scans/", {"result": "ok"}).status_code == 200
