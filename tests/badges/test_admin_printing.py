"""The console's print on arrival (badges/admin_printing.py): stations added with their token
shown once and the print station page's pairing link on the request's host, revoked and
re-paired; lists set to print badges; jobs per station and gate with failures and doubts;
reprints with a reason from the attendee list; each write audited; another organiser sees
nothing of it."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEntry
from badges import services as badge_services
from badges.jobs import stations
from badges.models import JobState, ListPrinting, PrintJob, PrintStation
from tests.support.checkin import Door, make_device, make_list
from tests.support.factories import make_event
from tickets import onboarding
from tickets import services as ticket_services
from tickets.models import TicketType

pytestmark = pytest.mark.django_db

STATIONS = "/admin/badges/printstation/"
JOBS = "/admin/badges/printjob/"
LISTS = "/admin/badges/listprinting/"


@pytest.fixture
def console(staff) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(staff)
    return client


@pytest.fixture
def theirs():
    """Another organiser with a station, a list that prints and a job."""
    team = ticket_services.create_organiser("Zeta Eventi", "zeta")
    user, _, _ = onboarding.create_staff_user(team, "zeta-staff", "z@example.org", "pw")
    event = make_event(team, slug="zeta-summit", name="Zeta Summit")
    checkin_list = make_list(event, "Zeta lista")
    layout = badge_services.create_layout(event, name="Zeta badge")
    station, _token = stations.create_station(event, "Zeta stampante", ["Zeta gate"])
    stations.set_list_printing(checkin_list, layout)
    TicketType.objects.create(event=event, name="Zeta pass")
    ticket = ticket_services.register(event, ticket_services.Registration(
        "Zelda Zeta", "zelda@example.org"))
    job = PrintJob.objects.create(event=event, station=station, ticket=ticket, layout=layout,
                                  gate="Zeta gate", state=JobState.FAILED,
                                  last_error="Zeta printer on fire")
    return user, event, station, job


@pytest.fixture
def day(settings, event, register, django_capture_on_commit_callbacks):
    """A list printing badges at gate A's station; Giulia entered (printed), Marco's badge
    failed, Carla's is in doubt."""
    settings.VARCO_SEND_ON_ISSUE = False
    checkin_list = make_list(event, allow_reentry=True, allow_exit=True)
    layout = badge_services.create_layout(event, name="Etichetta", preset="ql-62")
    _device, token = make_device(event, [checkin_list], name="Porta A", gate="A")
    station, _ = stations.create_station(event, "Stampante A", ["A"])
    stations.set_list_printing(checkin_list, layout)
    people = {name: register(name=name, email=f"{name.split()[0].lower()}@example.org")
              for name in ("Giulia Rossi", "Marco Bianchi", "Carla Verdi")}
    door = Door(token, checkin_list)
    for ticket in people.values():
        # the receiver queues the badge once the scan is committed
        with django_capture_on_commit_callbacks(execute=True):
            assert door.scan(ticket_services.ticket_code(ticket))["status"] == "ok"
    assert PrintJob.objects.filter(station=station).count() == 3
    now = timezone.now()
    PrintJob.objects.filter(ticket=people["Marco Bianchi"]).update(
        state=JobState.FAILED, last_error="CUPS: printer not found", attempt=3)
    PrintJob.objects.filter(ticket=people["Carla Verdi"]).update(
        state=JobState.IN_DOUBT, attempt=1, claim_token="x" * 32, claimed_at=now,
        handed_at=now)
    return station, layout, checkin_list, people


def test_add_a_station_shows_its_token_once_with_the_pairing_link(console, event, theirs):
    response = console.post(f"{STATIONS}add/", {
        "event": event.pk, "name": "Stampante ingresso", "output_kind": "browser",
        "gates_text": "A\nB\n"}, HTTP_HOST="localhost:8123")
    assert response.status_code == 200
    html = response.content.decode()
    station = PrintStation.objects.get(name="Stampante ingresso")
    assert stations.gate_names(station) == ["A", "B"]
    token = re.search(r'<code class="varco-token">(vp_[^<]+)</code>', html).group(1)
    assert f"http://localhost:8123/print/#pair={token}" in html
    assert "<svg" in html  # the QR
    assert stations.authenticate(f"Token {token}") == station
    assert AuditEntry.objects.filter(action="print_station.created", object_id=station.pk,
                                     event_id=event.pk).exists()
    # only its hash is kept: the change page does not show it again
    assert token not in console.get(f"{STATIONS}{station.pk}/change/").content.decode()


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"gates_text": "Zeta gate"}, None, None),  # another organiser's gate name is free
    ({"gates_text": "A"}, "gates_text", "already served by the print station"),
    ({"name": "Stampante A"}, "name", "already has a print station of this name"),
    ({"gates_text": ""}, "gates_text", "This field is required"),
    ({"output_kind": "cups"}, "cups_queue", "CUPS queue"),
    ({"output_kind": "brother_ql"}, "printer_host", "host name"),
])
def test_the_form_names_what_is_wrong(console, event, theirs, day, fields, field, message):
    data = {"event": event.pk, "name": "Stampante B", "output_kind": "browser",
            "gates_text": "B", **fields}
    response = console.post(f"{STATIONS}add/", data)
    assert response.status_code == 200
    if field is None:
        assert PrintStation.objects.filter(event=event, name="Stampante B").exists()
        return
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors.get(field, [])), errors
    assert not PrintStation.objects.filter(event=event, name=data["name"],
                                           revoked_at__isnull=True).exclude(
        name="Stampante A").exists()


def test_a_brother_ql_station_and_a_change_of_gates(console, event):
    console.post(f"{STATIONS}add/", {"event": event.pk, "name": "QL", "output_kind":
                                     "brother_ql", "printer_host": "192.0.2.7",
                                     "gates_text": "A"})
    station = PrintStation.objects.get(name="QL")
    assert (station.printer_host, station.printer_port, station.printer_model,
            station.printer_label) == ("192.0.2.7", 9100, "QL-820NWB", "62")
    response = console.post(f"{STATIONS}{station.pk}/change/", {
        "name": "QL", "output_kind": "brother_ql", "printer_host": "192.0.2.7",
        "printer_port": 9100, "printer_model": "QL-820NWB", "printer_label": "62",
        "gates_text": "A\nC"})
    assert response.status_code == 302
    assert stations.gate_names(station) == ["A", "C"]
    assert AuditEntry.objects.filter(action="print_station.changed").exists()


def test_revoke_and_repair(console, day):
    station = day[0]
    response = console.post(STATIONS, {"action": "rotate_token",
                                       "_selected_action": [station.pk]})
    assert response.status_code == 200 and "/print/#pair=vp_" in response.content.decode()
    console.post(STATIONS, {"action": "revoke", "_selected_action": [station.pk]})
    station.refresh_from_db()
    assert station.revoked_at is not None and stations.gate_names(station) == []
    assert AuditEntry.objects.filter(action="print_station.revoked").exists()
    assert console.get(f"{STATIONS}{station.pk}/delete/").status_code == 403


def test_a_list_is_set_to_print_badges_and_stops(console, event, theirs):
    _user, _event, their_station, _job = theirs
    checkin_list = make_list(event, "Ingresso")
    layout = badge_services.create_layout(event, name="A6")
    form = console.get(f"{LISTS}add/").content.decode()
    assert "Zeta lista" not in form and "Zeta badge" not in form
    assert "Zeta stampante" not in form
    response = console.post(f"{LISTS}add/", {"checkin_list": checkin_list.pk,
                                             "layout": layout.pk, "default_station": ""})
    assert response.status_code == 302
    row = ListPrinting.objects.get(checkin_list=checkin_list)
    assert row.layout == layout
    assert AuditEntry.objects.filter(action="list_printing.set").exists()
    # another event's station is refused
    response = console.post(f"{LISTS}{row.pk}/change/", {
        "checkin_list": checkin_list.pk, "layout": layout.pk,
        "default_station": their_station.pk})
    assert response.status_code == 200
    assert ListPrinting.objects.get(pk=row.pk).default_station is None
    console.post(f"{LISTS}{row.pk}/delete/", {"post": "yes"})
    assert not ListPrinting.objects.filter(checkin_list=checkin_list).exists()
    assert AuditEntry.objects.filter(action="list_printing.removed").exists()


def test_jobs_per_station_and_gate_with_failures(console, day, theirs):
    html = console.get(JOBS).content.decode()
    for text in ("Giulia Rossi", "Marco Bianchi", "CUPS: printer not found", "Stampante A"):
        assert text in html
    assert "Zelda Zeta" not in html and "Zeta printer on fire" not in html
    assert "Zeta gate" not in html  # the gate filter offers our gates only
    attention = console.get(f"{JOBS}?attention=yes").content.decode()
    assert "Marco Bianchi" in attention and "Carla Verdi" in attention
    assert "Giulia Rossi" not in attention
    assert "Giulia Rossi" in console.get(f"{JOBS}?state__exact=queued&gate=A").content.decode()


def test_staff_answer_a_badge_in_doubt(console, day):
    carla = day[3]["Carla Verdi"]
    job = PrintJob.objects.get(ticket=carla)
    console.post(JOBS, {"action": "print_again", "_selected_action": [job.pk]})
    job.refresh_from_db()
    assert job.state == JobState.QUEUED
    assert AuditEntry.objects.filter(action="print_job.resolved", object_id=job.pk).exists()


def test_reprint_with_a_reason_from_the_attendee_list(console, day):
    giulia = day[3]["Giulia Rossi"]
    url = "/admin/tickets/attendee/"
    ask = console.post(url, {"action": "reprint_badges",
                             "_selected_action": [giulia.attendee_id]})
    assert ask.status_code == 200 and "Giulia Rossi" in ask.content.decode()
    assert not PrintJob.objects.filter(reprint=True).exists()  # nothing before the reason
    refused = console.post(url, {"action": "reprint_badges", "apply": "1", "reason": "",
                                 "_selected_action": [giulia.attendee_id]})
    assert refused.status_code == 200 and "errorlist" in refused.content.decode()
    done = console.post(url, {"action": "reprint_badges", "apply": "1",
                              "reason": "badge perso", "station": "",
                              "_selected_action": [giulia.attendee_id]}, follow=True)
    assert "1 badge queued to print again." in done.content.decode()
    job = PrintJob.objects.get(reprint=True)
    assert (job.ticket_id, job.reason, job.station_id) == (giulia.pk, "badge perso", day[0].pk)
    entry = AuditEntry.objects.get(action="print_job.reprinted")
    assert entry.attendee_id == giulia.attendee_id and entry.data["reason"] == "badge perso"


def test_another_organiser_sees_nothing(day, theirs):
    user = theirs[0]
    other = Client(HTTP_ACCEPT_LANGUAGE="en")
    other.force_login(user)
    station = day[0]
    for url in (STATIONS, JOBS, LISTS):
        html = other.get(url).content.decode()
        assert "Stampante A" not in html and "Giulia Rossi" not in html, url
    assert other.get(f"{STATIONS}{station.pk}/change/").status_code in (302, 404)
    other.post(STATIONS, {"action": "revoke", "_selected_action": [station.pk]})
    station.refresh_from_db()
    assert station.revoked_at is None
    job = PrintJob.objects.get(ticket=day[3]["Carla Verdi"])
    other.post(JOBS, {"action": "confirm_printed", "_selected_action": [job.pk]})
    job.refresh_from_db()
    assert job.state == JobState.IN_DOUBT
