"""The print station page (/print/): static HTML with the committed bundle, the texts of the
badges catalogue in the browser's language, no secret, not frameable."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from badges import views

pytestmark = pytest.mark.django_db


def _config(html: str) -> dict:
    match = re.search(r'<script id="station-config" type="application/json">(.*?)</script>',
                      html, re.S)
    assert match, html
    return json.loads(match.group(1))


@pytest.mark.parametrize(("language", "title", "label"), [
    ("it", "Stazione di stampa", "Il badge di %(name)s è uscito?"),
    ("en", "Print station", "Did the badge of %(name)s come out?"),
])
def test_the_page_is_in_the_browsers_language(language, title, label):
    response = Client().get("/print/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<html lang="{language}">' in html and title in html
    config = _config(html)
    assert config["labels"]["question"] == label
    assert config["api"] == "/api/v1/badges/station/"
    assert re.fullmatch(r"/static/badges/pdf\.worker\.js\?v=[0-9a-f]{12}", config["worker"])
    assert re.search(r'<script src="/static/badges/station\.js\?v=[0-9a-f]{12}" defer>', html)
    assert set(config["labels"]) == set(views._labels())


def test_the_page_is_not_cached_framed_or_scripted_inline():
    response = Client().get("/print/")
    assert response["Cache-Control"] == "no-cache"
    assert response["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response["Content-Security-Policy"]
    # the only inline script is JSON data, which the browser never runs
    html = response.content.decode()
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline == [' id="station-config" type="application/json"']
    assert Client().post("/print/").status_code == 405


def test_the_committed_bundle_and_worker_are_there():
    for name in ("station.js", "pdf.worker.js", "station.css"):
        assert (views.STATIC_DIR / name).stat().st_size > 1000, name
