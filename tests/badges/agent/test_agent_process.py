"""``python -m badges.agent`` as a real process, printing to a real cupsd (cups-pdf), killed
with SIGKILL in each window of a job and restarted: every badge comes out exactly once.

The station API is tests/support/station_stub.py (the contract's states over real HTTP) until
the server side (branch badges-jobs) is merged; then tests/system's end-to-end run replaces it.
"""

from __future__ import annotations

import collections
import os
import signal

import pytest

from tests.support.agent_process import start_agent
from tests.support.cups_server import cups_server
from tests.support.station_stub import TOKEN, station_stub
from tests.support.ticket_files import pdf_text
from tests.support.worker_process import wait_until

pytestmark = [pytest.mark.django_db, pytest.mark.cups, pytest.mark.e2e]

NAMES = ["Anna Uno", "Bruno Due", "Carla Tre", "Dario Quattro", "Elena Cinque"]


def _printed_once(cups, station, count: int) -> None:
    assert wait_until(lambda: set(station.states().values()) == {"printed"}, timeout=120), (
        station.states(), station.calls)
    jobs = cups.wait_finished(count, timeout=120)
    per_job = collections.Counter(int(j["job-name"].split("-")[1]) for j in jobs
                                  if j.get("job-state") == 9)
    assert per_job == dict.fromkeys(range(1, count + 1), 1), jobs
    assert len(cups.printed()) == count


def test_killed_in_every_window_each_badge_prints_exactly_once(tmp_path, make_badge):
    badges = {index: make_badge(name=name) for index, name in enumerate(NAMES, 1)}
    with cups_server() as cups, station_stub({"kind": "cups", "queue": cups.queue}) as station:
        for job_id in (1, 2, 3):
            b = badges[job_id]
            station.add(job_id, b.pdf, b.name, b.width_mm, b.height_mm)

        # 1. killed while fetching the badge (journal: claimed): nothing printed, so the
        #    restarted agent reports it failed/retry and prints the second attempt
        station.pdf_delay[1] = 30
        agent = start_agent(tmp_path, station.base, TOKEN, "--cups-server", cups.address)
        agent.wait_step(1, "claimed")
        agent.kill(group=True)
        agent = start_agent(tmp_path, station.base, TOKEN, "--cups-server", cups.address, run=2)
        _printed_once(cups, station, 3)
        assert station.jobs[1].attempt == 2
        assert "restarted before printing" in station.jobs[1].errors[0]

        # 2. killed after handed/, with the job on its way into a stalled CUPS (journal:
        #    handed): CUPS prints it when it wakes; the restarted agent finds varco-4-1 in
        #    the queue's history and reports it printed instead of printing it again
        os.kill(cups.process.pid, signal.SIGSTOP)
        try:
            for job_id in (4, 5):
                b = badges[job_id]
                station.add(job_id, b.pdf, b.name, b.width_mm, b.height_mm)
            agent.wait_step(4, "handed")
            agent.kill()  # the agent only: its ipptool has sent the request already
        finally:
            os.kill(cups.process.pid, signal.SIGCONT)
        assert wait_until(agent.group_gone, timeout=60), agent.log()[-2000:]
        agent = start_agent(tmp_path, station.base, TOKEN, "--cups-server", cups.address, run=3)
        _printed_once(cups, station, 5)
        assert station.jobs[4].attempt == 1
        assert [c for c in station.calls if c[1] == 4 and c[0] == "printed"] != []
        assert "reconciling 1 unfinished job(s)" in agent.log()

        # a clean stop: SIGTERM ends the idle agent at once with status 0
        assert agent.terminate() == 0, agent.log()[-2000:]
        last = {(s["job"], s["attempt"]): s for s in agent.steps()}
        assert {s["step"] for s in last.values()} == {"done"}, last
        assert last[(4, 1)]["outcome"] == "printed"  # (runs 1 and 2 were compacted away)
        texts = [" ".join(pdf_text(path.read_bytes()).split()) for path in cups.printed()]
    for name in NAMES:
        assert sum(name in text for text in texts) == 1, (name, texts)
