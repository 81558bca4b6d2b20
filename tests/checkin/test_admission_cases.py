"""The admission rules' one table of cases (checkin/admission_cases.json) against all three
implementations: the PostgreSQL scan statement, the generic path (SQLite; also run on
PostgreSQL), and the door page's offline logic (``node --test``)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from django.utils import timezone

from checkin import scanning
from checkin.devices import list_rule
from checkin.scanning import ScanInput, generic, postgres
from tests.support.checkin import make_device, make_list
from tests.support.factories import make_event
from tickets import services
from tickets.models import TicketType

ROOT = Path(__file__).resolve().parents[2]
TABLE = json.loads((ROOT / "checkin" / "admission_cases.json").read_text())
CASES = TABLE["cases"]
IDS = [case["name"] for case in CASES]


def test_the_table_covers_every_reason_and_ticket_state():
    from checkin.models import Reason

    reasons = {case["expect"][1] for case in CASES}
    # "invalid" is decided before any rule: a code that does not verify never reaches them.
    assert reasons == {None} | {r.value for r in Reason} - {Reason.INVALID}
    assert {case["ticket"] for case in CASES} == {
        "valid", "revoked", "old_version", "unknown", "other_event"
    }


def _code_for(case, event, organiser, register, this_type) -> str:
    state = case["ticket"]
    if state == "other_event":
        other = make_event(organiser, slug=f"other-{uuid.uuid4().hex[:8]}")
        TicketType.objects.create(event=other, name="Ingresso")
        ticket = services.register(
            other, services.Registration("Altra Persona", "altra@example.org", "", "it")
        )
        return services.ticket_code(ticket)
    ticket = register(name="Giulia Rossi", email=f"{uuid.uuid4().hex[:12]}@example.org")
    code = services.ticket_code(ticket)
    if state == "revoked":
        services.revoke_ticket(ticket)
    elif state == "old_version":
        services.reissue_ticket(ticket)
    elif state == "unknown":
        services.delete_attendee(ticket.attendee)
    return code


def _run(case, event, organiser, register, ticket_type, record) -> list:
    rules = {**TABLE["defaults"]["list"], **case.get("list", {})}
    other_type = TicketType.objects.create(event=event, name=f"Altro {uuid.uuid4().hex[:6]}")
    types = {"all": None, "this": [ticket_type], "other": [other_type]}[rules["types"]]
    checkin_list = make_list(event, name=f"Lista {uuid.uuid4().hex[:8]}", ticket_types=types,
                             allow_exit=rules["exit"], allow_reentry=rules["reentry"])
    device, _ = make_device(event, [checkin_list])
    code = _code_for(case, event, organiser, register, ticket_type)

    def scan(direction: str):
        checkin_list.refresh_from_db()
        return scanning.scan_code(code, ScanInput(
            rule=list_rule(checkin_list), device_id=device.pk, direction=direction,
            nonce=uuid.uuid4().hex,
        ))

    for direction in case.get("before", TABLE["defaults"]["before"]):
        answer = scan(direction)
        assert (answer.status, answer.reason) == ("ok", None), f"earlier {direction}"
    if not rules["open"]:
        checkin_list.closes_at = timezone.now() - dt.timedelta(minutes=1)
        checkin_list.save()
    answer = scan(case["direction"])
    return [answer.status, answer.reason]


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_generic_path(case, event, organiser, register, ticket_type, monkeypatch):
    monkeypatch.setattr(scanning, "record", generic.record)
    assert _run(case, event, organiser, register, ticket_type, "generic") == case["expect"]


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_postgresql_statement(case, event, organiser, register, ticket_type, monkeypatch):
    monkeypatch.setattr(scanning, "record", postgres.record)
    assert _run(case, event, organiser, register, ticket_type, "statement") == case["expect"]


def test_door_page_offline_logic():
    node = shutil.which("node")
    assert node, "node is needed for the door page's tests (Debian: apt-get install nodejs)"
    done = subprocess.run(
        [node, "--test", str(ROOT / "checkin" / "frontend" / "test" / "admission.test.mjs")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert f"# pass {len(CASES)}" in done.stdout
