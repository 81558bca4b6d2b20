"""The print station API (contract: docs/badges.md "Print stations: the API"): whoami, claim,
the badge PDF, handed/printed/failed, in doubt, and who may call it (a station token only; a
station sees only its own jobs); errors are the one JSON body."""

from __future__ import annotations

import pypdfium2
import pytest
from rest_framework.test import APIClient

from badges.models import JobState, PrintJob
from tests.support.api_errors import assert_error
from tests.support.checkin import Door
from tickets import services

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "/api/v1/badges/station/"


def _admit(printing, ticket, token=None):
    door = Door(token or printing.token_a, printing.checkin_list)
    assert door.scan(services.ticket_code(ticket))["status"] == "ok"


def test_whoami(printing, event):
    answer = printing.station_client(printing.station_token_b).get(BASE)
    assert answer.status_code == 200
    assert answer.json() == {
        "id": printing.station_b.pk, "name": "Stampante B",
        "event": {"id": event.pk, "name": event.name}, "gates": ["B"],
        "output": {"kind": "cups", "queue": "badges-b"},
    }


def test_claim_print_and_report(printing, register):
    client = printing.station_client()
    assert client.post(BASE + "claim/", {}, format="json").status_code == 204
    ticket = register(name="Giulia Rossi")
    _admit(printing, ticket)
    answer = client.post(BASE + "claim/", {"wait": 0}, format="json")
    assert answer.status_code == 200, answer.content
    job = answer.json()["job"]
    stored = PrintJob.objects.get()
    assert job == {
        "id": stored.pk, "attempt": 1, "claim": stored.claim_token,
        "ticket": ticket.reference, "name": "Giulia Rossi", "gate": "A", "reprint": False,
        "layout": {"id": printing.layout.pk, "preset": "ql-62", "width_mm": 90.0,
                   "height_mm": 62.0},
        "pdf": f"{BASE}jobs/{stored.pk}/badge.pdf",
    }
    pdf = client.get(job["pdf"], {"claim": job["claim"]})
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = pypdfium2.PdfDocument(pdf.content)[0].get_textpage().get_text_range()
    assert "Giulia Rossi" in text
    assert_error(client.get(job["pdf"], {"claim": "0" * 32}), 409, code="claim_lost")
    url = f"{BASE}jobs/{job['id']}/"
    # printed before handed is refused: the hand-over must be committed first
    assert_error(client.post(url + "printed/", {"claim": job["claim"]}, format="json"), 409,
                 code="not_handed")
    assert client.post(url + "handed/", {"claim": job["claim"]}, format="json").status_code == 200
    # a retried report is answered the same
    assert client.post(url + "handed/", {"claim": job["claim"]}, format="json").status_code == 200
    done = client.post(url + "printed/", {"claim": job["claim"], "printer_job": "cups-17"},
                       format="json")
    assert done.status_code == 200 and done.json()["state"] == "printed"
    stored.refresh_from_db()
    assert (stored.state, stored.printer_job) == (JobState.PRINTED, "cups-17")
    assert client.post(url + "printed/", {"claim": job["claim"]}, format="json"
                       ).status_code == 200
    assert client.post(BASE + "claim/", {}, format="json").status_code == 204


def test_failed_is_retried_then_given_up(printing, register, settings):
    settings.VARCO_PRINT_MAX_ATTEMPTS = 2
    settings.VARCO_PRINT_RETRY_BASE_SECONDS = 0
    client = printing.station_client()
    _admit(printing, register(name="Giulia Rossi"))
    for attempt in (1, 2):
        job = client.post(BASE + "claim/", {}, format="json").json()["job"]
        assert job["attempt"] == attempt
        answer = client.post(f"{BASE}jobs/{job['id']}/failed/",
                             {"claim": job["claim"], "error": "paper jam", "retry": True},
                             format="json")
        assert answer.status_code == 200
    stored = PrintJob.objects.get()
    assert stored.state == JobState.FAILED and "paper jam" in stored.last_error
    assert "gave up after 2" in stored.last_error
    assert client.post(BASE + "claim/", {}, format="json").status_code == 204


def test_only_a_station_token_is_accepted(printing, register, api):
    assert_error(APIClient().get(BASE), 401, code="not_authenticated")
    door = APIClient()
    door.credentials(HTTP_AUTHORIZATION=f"Token {printing.token_a}")
    assert_error(door.post(BASE + "claim/", {}, format="json"), 401)
    assert_error(api.post(BASE + "claim/", {}, format="json"), 401)  # an organiser's token
    # and a station token cannot scan
    ticket = register(name="Giulia Rossi")
    station_at_door = Door(printing.station_token_a, printing.checkin_list)
    answer = station_at_door.post("/api/v1/checkin/scan/", {
        "code": services.ticket_code(ticket), "list": printing.checkin_list.pk, "nonce": "x"})
    assert_error(answer, 401)


def test_a_station_sees_only_its_own_jobs(printing, register):
    _admit(printing, register(name="Giulia Rossi"))
    job = printing.station_client().post(BASE + "claim/", {}, format="json").json()["job"]
    other = printing.station_client(printing.station_token_b)
    assert_error(other.post(f"{BASE}jobs/{job['id']}/handed/", {"claim": job["claim"]},
                            format="json"), 404)
    assert_error(other.get(job["pdf"], {"claim": job["claim"]}), 404)


@pytest.mark.parametrize(("path", "body", "field"), [
    ("claim/", {"wait": 26}, "wait"),
    ("claim/", {"wait": "soon"}, "wait"),
    ("claim/", {"wiat": 1}, "wiat"),
    ("jobs/1/handed/", {}, "claim"),
    ("jobs/1/handed/", {"claim": "x" * 5000}, "claim"),
    ("jobs/1/failed/", {"claim": "0" * 32, "error": "e" * 1001, "retry": True}, "error"),
    ("jobs/1/failed/", {"claim": "0" * 32, "error": "jam"}, "retry"),
    ("jobs/1/resolve/", {"printed": "maybe"}, "printed"),
])
def test_bad_input_is_a_400_naming_the_field(printing, path, body, field):
    answer = printing.station_client().post(BASE + path, body, format="json")
    assert_error(answer, 400, field=field)


def test_in_doubt_list_and_resolution(printing, register):
    client = printing.station_client()
    _admit(printing, register(name="Giulia Rossi"))
    job = client.post(BASE + "claim/", {}, format="json").json()["job"]
    client.post(f"{BASE}jobs/{job['id']}/handed/", {"claim": job["claim"]}, format="json")
    listed = client.get(BASE + "in-doubt/").json()["jobs"]
    assert [(j["id"], j["attempt"], j["state"]) for j in listed] == [(job["id"], 1, "handed")]
    assert "claim" not in listed[0]
    # the agent found no varco-<id>-1 in the queue's history: it prints again, attempt 2
    answer = client.post(f"{BASE}jobs/{job['id']}/resolve/", {"printed": False}, format="json")
    assert answer.status_code == 200 and answer.json()["state"] == "queued"
    again = client.post(BASE + "claim/", {}, format="json").json()["job"]
    assert (again["id"], again["attempt"]) == (job["id"], 2)
    assert_error(client.post(f"{BASE}jobs/{job['id']}/resolve/", {"printed": True},
                             format="json"), 409, code="not_in_doubt")
