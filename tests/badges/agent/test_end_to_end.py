"""Print on arrival end to end: a real gunicorn (the station API), admitted scans posted to it,
``python -m badges.agent`` as a real process printing to a real cupsd (cups-pdf), the agent
SIGKILLed after ``handed/`` while CUPS is stalled and restarted: every badge printed exactly
once (CUPS's job history and cups-pdf's files), the in-doubt job settled by the CUPS lookup.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import urllib.request
import uuid

import pytest

from badges import lead
from badges import services as badge_services
from badges.jobs import stations
from badges.models import JobState, PrintJob
from tests.support import worker_process
from tests.support.agent_process import start_agent
from tests.support.checkin import make_device, make_list
from tests.support.cups_server import cups_server
from tests.support.ticket_files import pdf_qr_codes, pdf_text
from tests.support.web_process import clean_env, gunicorn
from tests.support.worker_process import shared_keys, wait_until
from tickets import services

pytestmark = [pytest.mark.postgres, pytest.mark.cups, pytest.mark.e2e,
              pytest.mark.django_db(transaction=True)]

NAMES = ["Anna Uno", "Bruno Due", "Carla Tre", "Dario Quattro", "Elena Cinque"]


def _scan(base: str, token: str, list_id: int, code: str) -> dict:
    request = urllib.request.Request(
        base + "/api/v1/checkin/scan/", method="POST",
        data=json.dumps({"code": code, "list": list_id, "nonce": str(uuid.uuid4())}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.loads(response.read())


def _states() -> dict[int, str]:
    return dict(PrintJob.objects.values_list("pk", "state"))


def test_admitted_scans_print_exactly_once_across_a_killed_agent(event, register, tmp_path,
                                                                 settings):
    settings.VARCO_SEND_ON_ISSUE = False
    tickets = [register(name=name, email=f"p{i}@example.org", organisation="Coop Il Sole")
               for i, name in enumerate(NAMES)]
    door_list = make_list(event)
    layout = badge_services.create_layout(event, name="Etichetta", preset="ql-62",
                                          show_lead_qr=True)
    _device, device_token = make_device(event, [door_list], name="Porta A", gate="A")
    with cups_server() as cups:
        _station, station_token = stations.create_station(
            event, "Stampante A", ["A"], stations.Output("cups", queue=cups.queue))
        stations.set_list_printing(door_list, layout)
        env = clean_env(DATABASE_URL=worker_process.test_database_url(),
                        VARCO_VAR_DIR=str(tmp_path / "var"),
                        LOG_LEVEL="WARNING", VARCO_PRINT_RETRY_BASE_SECONDS="0",
                        **shared_keys())
        with gunicorn(tmp_path, env) as server:
            def scan(ticket) -> None:
                answer = _scan(server.base, device_token, door_list.pk,
                               services.ticket_code(ticket))
                assert answer["status"] == "ok", answer

            agent = start_agent(tmp_path, server.base, station_token,
                                "--cups-server", cups.address)
            for ticket in tickets[:3]:
                scan(ticket)
            assert wait_until(lambda: len(_states()) == 3 and set(_states().values())
                              == {JobState.PRINTED}, timeout=120), (_states(), agent.log())

            # CUPS stalls; the agent hands the next badge over and is killed mid-job
            printed_before = set(_states())
            os.kill(cups.process.pid, signal.SIGSTOP)
            try:
                scan(tickets[3])
                scan(tickets[4])

                def handed() -> int | None:
                    return next((step["job"] for step in agent.steps()
                                 if step["step"] == "handed"
                                 and step["job"] not in printed_before), None)
                assert wait_until(lambda: handed() is not None, timeout=90), (
                    _states(), agent.steps(), agent.log()[-3000:])
                in_hand = handed()
                agent.kill()
            finally:
                os.kill(cups.process.pid, signal.SIGCONT)
            assert wait_until(agent.group_gone, timeout=60), agent.log()[-2000:]
            # handed, or already in doubt if the server's sweep ran: either way, in doubt
            assert _states()[in_hand] in (JobState.HANDED, JobState.IN_DOUBT)

            agent = start_agent(tmp_path, server.base, station_token,
                                "--cups-server", cups.address, run=2)
            assert wait_until(lambda: len(_states()) == 5 and set(_states().values())
                              == {JobState.PRINTED}, timeout=120), (_states(), agent.log())
            assert agent.terminate() == 0, agent.log()[-2000:]
            assert len(_states()) == 5
        jobs = cups.wait_finished(5, timeout=120)
        outputs = [path.read_bytes() for path in cups.printed()]

    per_job = collections.Counter(int(j["job-name"].split("-")[1]) for j in jobs
                                  if j.get("job-state") == 9)
    assert per_job == dict.fromkeys(_states(), 1), jobs
    assert PrintJob.objects.get(pk=in_hand).attempt == 1  # settled, not printed again
    assert len(outputs) == 5
    texts = [" ".join(pdf_text(pdf).split()) for pdf in outputs]
    for name in NAMES:
        assert sum(name in text for text in texts) == 1, (name, texts)
    first = next(pdf for pdf, text in zip(outputs, texts, strict=True) if NAMES[0] in text)
    assert pdf_qr_codes(first, scale=4) == [lead.lead_code(event.pk, tickets[0].pk)]
