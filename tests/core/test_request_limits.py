"""Request size limits (core/request_limits.py, docs/hardening.md).

Bodies over the limit get a JSON 413 naming ``body`` and the limit, before anything is read or
changed; the CSV import accepts files up to ``VARCO_MAX_IMPORT_BYTES``; malformed form bodies
(too many fields or files) get the API's JSON 400, not Django's HTML page.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlencode, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import resolve
from rest_framework.test import APIClient

from core.request_limits import body_limit, declared_limit
from tests.support.api_errors import assert_error
from tests.support.factories import make_event
from tickets import onboarding
from tickets.models import Attendee, Organiser

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
KIB = 1024


def json_body(size: int) -> str:
    """A registration whose JSON text is exactly ``size`` bytes."""
    frame = json.dumps({"name": "", "email": "big@example.org"})
    return json.dumps({"name": "x" * (size - len(frame)), "email": "big@example.org"})


def assert_too_large(response, limit: int) -> None:
    body = assert_error(response, 413, field="body", code="too_large")
    assert f"at most {limit} bytes" in body["detail"], body


def test_the_limits_are_deliberate(settings):
    assert settings.VARCO_MAX_BODY_BYTES == 256 * KIB
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == settings.VARCO_MAX_BODY_BYTES
    assert settings.VARCO_MAX_IMPORT_BYTES == 5 * KIB * KIB
    # an uploaded CSV of the largest accepted size stays in memory, no temporary file
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE > settings.VARCO_MAX_IMPORT_BYTES
    assert settings.DATA_UPLOAD_MAX_NUMBER_FILES == 10


def test_oversized_json_is_413_and_changes_nothing(api, event, ticket_type):
    url = f"{V1}/events/{event.pk}/attendees/"
    response = api.generic("POST", url, json_body(256 * KIB + 1),
                           content_type="application/json")
    assert_too_large(response, 256 * KIB)
    assert not Attendee.objects.exists()
    # at the limit the body reaches the view, which names the field at fault
    response = api.generic("POST", url, json_body(256 * KIB), content_type="application/json")
    assert_error(response, 400, field="name")


def test_oversized_public_registration_is_413(event, ticket_type):
    response = APIClient().generic(
        "POST", f"{V1}/public/events/{event.slug}/register/", json_body(300 * KIB),
        content_type="application/json",
    )
    assert_too_large(response, 256 * KIB)
    assert not Attendee.objects.exists()


def test_the_limit_follows_the_setting(api, event, settings):
    settings.VARCO_MAX_BODY_BYTES = 2 * KIB
    response = api.generic("PATCH", f"{V1}/events/{event.pk}/",
                           json.dumps({"description": "d" * 3000}),
                           content_type="application/json")
    assert_too_large(response, 2 * KIB)
    event.refresh_from_db()
    assert event.description != "d" * 3000


def test_csv_import_accepts_files_over_the_json_limit(api, event, ticket_type):
    # few rows (each one is a registration), made long by columns the importer ignores
    note = "Nota per la segreteria " * 8
    rows = [f"Persona {i:03d},p{i}@example.org" + f",{note}" * 6 for i in range(300)]
    csv = "name,email,n1,n2,n3,n4,n5,n6\n" + "\n".join(rows) + "\n"
    assert 256 * KIB < len(csv.encode()) < 5 * KIB * KIB
    response = api.generic("POST", f"{V1}/events/{event.pk}/attendees/import/", csv,
                           content_type="text/csv")
    assert response.status_code == 201, response.content[:300]
    assert response.json()["created"] == 300


def test_csv_over_the_import_limit_is_413(api, event, ticket_type):
    url = f"{V1}/events/{event.pk}/attendees/import/"
    limit = 5 * KIB * KIB + 64 * KIB
    csv = "name,email\n" + "A,a@example.org\n" * (limit // 16 + 1)
    assert len(csv) > limit
    assert_too_large(api.generic("POST", url, csv, content_type="text/csv"), limit)
    upload = SimpleUploadedFile("list.csv", csv.encode(), content_type="text/csv")
    response = api.generic("POST", url, encode_multipart(BOUNDARY, {"file": upload}),
                           content_type=MULTIPART_CONTENT)
    assert_too_large(response, limit)
    assert not Attendee.objects.exists()


def test_csv_between_the_file_limit_and_the_body_limit_names_the_file(api, event, settings):
    """The view's own check is exact (the file), the gate's is on the whole body."""
    settings.VARCO_MAX_IMPORT_BYTES = 1000
    csv = "name,email\n" + "A,a@example.org\n" * 100
    response = api.generic("POST", f"{V1}/events/{event.pk}/attendees/import/", csv,
                           content_type="text/csv")
    body = assert_error(response, 400, field="file")
    assert "1000" in body["fields"]["file"][0]


def test_too_many_form_fields_is_a_json_400(api, event):
    url = f"{V1}/events/{event.pk}/attendees/"
    form = urlencode([(f"f{i}", "x") for i in range(1001)])
    response = api.generic("POST", url, form, content_type="application/x-www-form-urlencoded")
    body = assert_error(response, 400, field="body")
    assert "fields" in body["detail"].lower()
    multipart = encode_multipart(BOUNDARY, {f"f{i}": "x" for i in range(1001)})
    assert_error(api.generic("POST", url, multipart, content_type=MULTIPART_CONTENT), 400,
                 field="body")


def test_too_many_files_is_a_json_400(api, event):
    files = {f"file{i}": SimpleUploadedFile(f"{i}.csv", b"name,email\n") for i in range(11)}
    response = api.generic("POST", f"{V1}/events/{event.pk}/attendees/import/",
                           encode_multipart(BOUNDARY, files), content_type=MULTIPART_CONTENT)
    body = assert_error(response, 400, field="body")
    assert "files" in body["detail"].lower()
    assert not Attendee.objects.exists()


def test_admin_form_over_the_limit_is_413(staff, event):
    client = Client()
    client.force_login(staff)
    response = client.post(f"/admin/tickets/event/{event.pk}/change/",
                           {"name": "Renamed", "description": "d" * (300 * KIB)})
    assert_too_large(response, 256 * KIB)
    event.refresh_from_db()
    assert event.name != "Renamed"


def test_views_declare_their_own_limits(settings):
    """``@body_limit`` on a view function, a view class or a DRF action; else the default."""
    import_view = resolve(f"{V1}/events/1/attendees/import/").func
    assert declared_limit(import_view, "POST") == settings.VARCO_MAX_IMPORT_BYTES + 64 * KIB
    list_view = resolve(f"{V1}/events/1/attendees/").func
    assert declared_limit(list_view, "POST") == 256 * KIB

    @body_limit(64 * KIB)
    def scan(request):  # e.g. the door scanner's endpoint
        raise AssertionError

    assert declared_limit(scan, "POST") == 64 * KIB
    settings.VARCO_MAX_BODY_BYTES = 1000
    assert declared_limit(list_view, "POST") == 1000


@pytest.mark.django_db(transaction=True)
def test_over_real_http_the_client_reads_the_413(live_server):
    """Through a real socket: the answer arrives although the body was never read."""
    team = Organiser.objects.create(name="Http", slug="http")
    _, _, token = onboarding.create_staff_user(team, "http", "h@example.org", "pw")
    event = make_event(team, slug="e-http")
    url = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    body = json_body(1024 * KIB).encode()
    connection.request("POST", f"{V1}/events/{event.pk}/attendees/", body=body, headers={
        "Authorization": f"Token {token}", "Content-Type": "application/json",
    })
    response = connection.getresponse()
    assert response.status == 413
    assert response.getheader("Content-Type").startswith("application/json")
    answer = json.loads(response.read())
    assert answer["error"] == "too_large" and "body" in answer["fields"]
    connection.close()
    assert not Attendee.objects.exists()
