"""The organiser's print API: jobs per station/gate/state, reprint with a reason (audited),
resolving a badge in doubt, the event's stations; bounded input, one JSON error body,
another organiser's event is a 404."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEntry
from badges.jobs import claims
from badges.models import JobState, PrintJob, PrintStation
from tests.support.api_errors import assert_error
from tests.support.checkin import Door
from tests.support.factories import make_event
from tickets import onboarding, services

pytestmark = pytest.mark.django_db(transaction=True)


def _admit(printing, ticket, token):
    assert Door(token, printing.checkin_list).scan(services.ticket_code(ticket))["status"] == "ok"


@pytest.fixture
def jobs(printing, register):
    """Three badges: Uno printed at A, Due queued at B, Tre failed at A."""
    people = {name: register(name=name, email=f"{name.lower()}@example.org")
              for name in ("Uno", "Due", "Tre")}
    _admit(printing, people["Uno"], printing.token_a)
    held = claims.claim(printing.station_a)
    claims.handed(printing.station_a, held.job.pk, held.claim)
    claims.printed(printing.station_a, held.job.pk, held.claim)
    _admit(printing, people["Due"], printing.token_b)
    _admit(printing, people["Tre"], printing.token_a)
    held = claims.claim(printing.station_a)
    claims.failed(printing.station_a, held.job.pk, held.claim, "out of labels", False)
    return people


def _names(answer) -> list[str]:
    assert answer.status_code == 200, answer.content
    return [job["name"] for job in answer.json()["results"]]


def test_jobs_by_station_gate_and_state(api, event, printing, jobs):
    url = f"/api/v1/events/{event.pk}/print-jobs/"
    assert _names(api.get(url)) == ["Tre", "Due", "Uno"]
    assert _names(api.get(url, {"station": printing.station_b.pk})) == ["Due"]
    assert _names(api.get(url, {"gate": "A"})) == ["Tre", "Uno"]
    assert _names(api.get(url + "?state=failed&state=in_doubt")) == ["Tre"]
    failed = api.get(url, {"state": "failed"}).json()["results"][0]
    assert failed["last_error"] == "out of labels"
    assert failed["station"] == {"id": printing.station_a.pk, "name": "Stampante A"}
    assert failed["ticket"]["reference"] == jobs["Tre"].reference


@pytest.mark.parametrize(("query", "field"), [
    ("state=lost", "state"), ("station=abc", "station"), ("station=1&station=2", "station"),
    ("gate=" + "g" * 101, "gate"), ("colour=red", "colour"),
])
def test_bad_filters_are_a_400_naming_them(api, event, printing, query, field):
    answer = api.get(f"/api/v1/events/{event.pk}/print-jobs/?{query}")
    assert_error(answer, 400, field=field)


def test_reprint_by_id_or_reference_is_audited(api, event, printing, jobs, staff):
    url = f"/api/v1/events/{event.pk}/print-jobs/reprint/"
    answer = api.post(url, {"ticket": jobs["Uno"].reference.lower(), "reason": "persa"},
                      format="json")
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert (body["reprint"], body["reason"], body["state"], body["created_by"]) == (
        True, "persa", "queued", staff.get_username())
    assert body["station"]["id"] == printing.station_a.pk
    entry = AuditEntry.objects.get(action="print_job.reprinted")
    assert entry.actor_user_id == staff.pk and entry.data["reason"] == "persa"
    at_b = api.post(url, {"ticket": str(jobs["Uno"].pk), "reason": "di nuovo",
                          "station": printing.station_b.pk}, format="json")
    assert at_b.status_code == 201 and at_b.json()["station"]["id"] == printing.station_b.pk
    assert PrintJob.objects.filter(ticket=jobs["Uno"], reprint=True).count() == 2


@pytest.mark.parametrize(("body", "field"), [
    ({"ticket": "NOPE-NOPE", "reason": "persa"}, "ticket"),
    ({"ticket": "1", "reason": ""}, "reason"),
    ({"ticket": "1", "reason": "x" * 501}, "reason"),
    ({"ticket": "1"}, "reason"),
    ({"ticket": "1", "reason": "persa", "station": 999999}, "station"),
    ({"ticket": "1", "reason": "persa", "extra": True}, "extra"),
    ({"ticket": "9" * 40, "reason": "persa"}, "ticket"),
])
def test_reprint_bad_input(api, event, printing, jobs, body, field):
    if body.get("ticket") == "1":
        body = {**body, "ticket": str(jobs["Uno"].pk)}
    answer = api.post(f"/api/v1/events/{event.pk}/print-jobs/reprint/", body, format="json")
    assert_error(answer, 400, field=field)


def test_resolve_in_doubt(api, event, printing, jobs):
    job = PrintJob.objects.get(ticket=jobs["Due"])
    url = f"/api/v1/events/{event.pk}/print-jobs/{job.pk}/resolve/"
    assert_error(api.post(url, {"printed": True}, format="json"), 409, code="not_in_doubt")
    PrintJob.objects.filter(pk=job.pk).update(state="in_doubt", handed_at=job.created_at,
                                              claimed_at=job.created_at, claim_token="0" * 32)
    answer = api.post(url, {"printed": True}, format="json")
    assert answer.status_code == 200 and answer.json()["state"] == "printed"
    assert AuditEntry.objects.filter(action="print_job.resolved").count() == 1


def test_stations_list_and_pairing(api, event, printing):
    url = f"/api/v1/events/{event.pk}/print-stations/"
    listed = api.get(url).json()["results"]
    assert [s["name"] for s in listed] == ["Stampante A", "Stampante B"]
    assert listed[1]["output"] == {"kind": "cups", "queue": "badges-b"}
    assert "token" not in listed[0] and listed[0]["token_hint"]
    made = api.post(url, {"name": "Etichette", "gates": ["C", "D"], "output": {
        "kind": "brother_ql", "host": "192.168.1.50"}}, format="json")
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["gates"] == ["C", "D"] and body["token"].startswith("vp_")
    assert body["output"] == {"kind": "brother_ql", "host": "192.168.1.50", "port": 9100,
                              "model": "QL-820NWB", "label": "62"}
    station = APIClient()
    station.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert station.get("/api/v1/badges/station/").json()["name"] == "Etichette"
    assert AuditEntry.objects.filter(action="print_station.created").count() == 3


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "X", "gates": []}, "gates"),
    ({"name": "X", "gates": ["A"]}, "gates"),  # station A serves it
    ({"name": "Stampante A", "gates": ["Z"]}, "name"),
    ({"name": "X", "gates": ["g" * 101]}, "gates.0"),
    ({"name": "X", "gates": ["Z"] * 21}, "gates"),
    ({"name": "X", "gates": ["Z"], "output": {"kind": "fax"}}, "output"),
    ({"name": "X", "gates": ["Z"], "output": {"kind": "cups"}}, "output"),
    ({"name": "X", "gates": ["Z"], "output": {"kind": "cups", "queue": "a b"}}, "output"),
    ({"name": "X", "gates": ["Z"], "output": {"kind": "brother_ql", "host": "h",
                                              "port": 70000}}, "output"),
    ({"name": "X", "gates": ["Z"], "output": {"kind": "browser", "queue": "q"}}, "output"),
    ({"name": "", "gates": ["Z"]}, "name"),
])
def test_station_bad_input(api, event, printing, body, field):
    answer = api.post(f"/api/v1/events/{event.pk}/print-stations/", body, format="json")
    assert_error(answer, 400, field=field)
    assert PrintStation.objects.count() == 2


def test_another_organisers_event_is_a_404(event, printing, jobs):
    other_org = services.create_organiser("Altra", "altra")
    _other, _, token = onboarding.create_staff_user(other_org, "altro", "a@example.org", "pw")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    base = f"/api/v1/events/{event.pk}"
    job = PrintJob.objects.first()
    assert_error(client.get(base + "/print-jobs/"), 404)
    assert_error(client.get(base + "/print-stations/"), 404)
    assert_error(client.post(base + "/print-stations/", {"name": "X", "gates": ["Z"]},
                             format="json"), 404)
    assert_error(client.post(base + "/print-jobs/reprint/",
                             {"ticket": str(jobs["Uno"].pk), "reason": "persa"},
                             format="json"), 404)
    assert_error(client.post(f"{base}/print-jobs/{job.pk}/resolve/", {"printed": True},
                             format="json"), 404)
    # and its own event does not reach A's jobs
    own = make_event(other_org, slug="altro-2018")
    assert_error(client.post(f"/api/v1/events/{own.pk}/print-jobs/{job.pk}/resolve/",
                             {"printed": True}, format="json"), 404)
    assert PrintJob.objects.filter(state=JobState.QUEUED).count() == 1
