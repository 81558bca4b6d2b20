"""Security headers on every kind of response (backend/settings.py, docs/hardening.md).

The Content-Security-Policy allows same-origin scripts and styles only, nothing inline; so the
pages themselves must carry no inline script or style (checked here on their HTML, and in a
real browser in tests/browser/test_pages.py).
"""

from __future__ import annotations

import base64
import hashlib
from html.parser import HTMLParser

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

DRF_STYLE = "float: right; margin-right: 10px"
DRF_STYLE_HASH = "'sha256-" + base64.b64encode(hashlib.sha256(DRF_STYLE.encode()).digest()
                                                ).decode() + "'"


def parse_csp(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def parse_permissions_policy(header: str) -> dict[str, str]:
    return dict(item.strip().split("=", 1) for item in header.split(","))


@pytest.fixture
def staff_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def pages(event, ticket_type) -> list[str]:
    return [
        "/admin/login/",
        "/api/docs/",
        "/api/docs/?script=",
        "/api/schema/",
        f"/api/v1/public/events/{event.slug}/",
        "/api/v1/events/",  # 401 JSON
        "/api/v1/nowhere/",  # 404 JSON
        "/healthz",
    ]


def test_every_response_carries_the_headers(pages):
    client = Client()
    for path in pages:
        response = client.get(path)
        assert response.status_code in (200, 401, 404), (path, response.status_code)
        csp = parse_csp(response["Content-Security-Policy"])
        assert csp["default-src"] == ["'self'"], path
        assert csp["script-src"] == ["'self'"], path
        assert csp["style-src"] == ["'self'"], path
        assert csp["img-src"] == ["'self'", "data:"], path
        assert csp["object-src"] == ["'none'"], path
        assert csp["frame-ancestors"] == ["'none'"], path
        assert csp["base-uri"] == ["'self'"] and csp["form-action"] == ["'self'"], path
        # inline style attributes: only DRF's one, by its hash
        assert csp["style-src-attr"] == ["'unsafe-hashes'", DRF_STYLE_HASH], path
        for keyword in ("'unsafe-inline'", "'unsafe-eval'", "*"):
            assert keyword not in response["Content-Security-Policy"].split(), (path, keyword)
        policy = parse_permissions_policy(response["Permissions-Policy"])
        assert policy["camera"] == "(self)", path  # the door scanner page reads QR codes
        for feature in ("microphone", "geolocation", "payment", "usb"):
            assert policy[feature] == "()", (path, feature)
        assert response["Referrer-Policy"] == "same-origin", path
        assert response["X-Content-Type-Options"] == "nosniff", path
        assert response["X-Frame-Options"] == "DENY", path
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", path


def test_logged_in_pages_carry_them_too(staff_client, event):
    for path in ("/admin/", "/admin/tickets/event/", f"/admin/tickets/event/{event.pk}/change/",
                 "/api/v1/events/"):
        response = staff_client.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, path
        assert parse_csp(response["Content-Security-Policy"])["script-src"] == ["'self'"]
        assert response["X-Frame-Options"] == "DENY"


class InlineCode(HTMLParser):
    """Collects what the policy refuses: inline scripts, event handler attributes, <style>
    elements and style attributes (but the one allowed by its hash)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "style":
            self.found.append("<style>")
        if tag == "script" and "src" not in attrs and attrs.get("type") != "application/json":
            self._in_script = True
        for name, value in attrs.items():
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name == "style" and value != DRF_STYLE:
                self.found.append(f'<{tag} style="{value}">')

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.found.append(f"<script>{data.strip()[:60]}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def test_the_parser_finds_inline_code():
    assert inline_code("<style>p{}</style><script>alert(1)</script><a onclick='x'>"
                       '<p style="color: red">') == [
        "<style>", "<script>alert(1)", "<a onclick=...>", '<p style="color: red">']
    assert inline_code('<script src="/s.js"></script><script type="application/json">{}'
                       "</script>") == []


def test_pages_have_no_inline_script_or_style(staff_client, event, ticket_type, register):
    register()
    paths = ["/api/docs/", "/admin/", "/admin/tickets/event/",
             f"/admin/tickets/event/{event.pk}/change/", "/admin/tickets/attendee/add/",
             "/api/v1/events/", f"/api/v1/events/{event.pk}/attendees/"]
    for path in paths:
        response = staff_client.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, path
        assert inline_code(response.content.decode()) == [], path
    assert inline_code(Client().get("/admin/login/").content.decode()) == []


def test_docs_script_is_served_as_javascript():
    response = Client().get("/api/docs/?script=")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in response.content.decode()
