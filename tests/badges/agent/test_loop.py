"""The agent's loop in-process, against the station API stand-in and a loopback Brother QL:
a badge printed and reported; a job the journal left ``handed`` on a raw-socket printer is
never sent again on a guess; a ``claimed`` one is reported not printed and retried."""

from __future__ import annotations

import threading

import pytest

from badges.agent.client import StationClient
from badges.agent.journal import Entry, Journal
from badges.agent.loop import Agent
from badges.agent.outputs.brother import BrotherPrinter
from tests.support.label_printer import label_printer
from tests.support.station_stub import TOKEN, station_stub
from tests.support.worker_process import wait_until

pytestmark = pytest.mark.django_db


def _run_until(agent: Agent, done) -> None:
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        assert wait_until(done, timeout=30)
    finally:
        agent.stopping = True
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_handed_job_on_a_raw_printer_stays_in_doubt_and_others_print(tmp_path, make_badge):
    badges = [make_badge(name=name) for name in ("Anna Uno", "Bruno Due", "Carla Tre")]
    with label_printer() as listener, station_stub({"kind": "brother_ql"}) as station:
        for job_id, badge in enumerate(badges, 1):
            station.add(job_id, badge.pdf, badge.name, badge.width_mm, badge.height_mm)
        # a previous run: job 1 handed (the printer may have printed it), job 2 only claimed
        station.jobs[1].state, station.jobs[1].claim = "handed", "claim-1"
        station.jobs[2].state, station.jobs[2].claim = "claimed", "claim-2"
        journal_path = tmp_path / "journal.jsonl"
        with Journal.open(journal_path) as journal:
            journal.record(journal.record(Entry(1, 1, "claim-1", "claimed"), "claimed"), "handed")
            journal.record(Entry(2, 1, "claim-2", "claimed"), "claimed")
        printer = BrotherPrinter("127.0.0.1", listener.port, "QL-820NWB", "62",
                                 status_timeout=0.2)
        client = StationClient(station.base, TOKEN)
        with Journal.open(journal_path) as journal:
            agent = Agent(client, printer, journal, wait=1)
            _run_until(agent, lambda: station.states() == {1: "in_doubt", 2: "printed",
                                                           3: "printed"})
        # job 1 was neither re-sent nor reported: a person settles it
        assert [c for c in station.calls if c[1] == 1] == []
        assert station.jobs[2].attempt == 2 and station.jobs[3].attempt == 1
        assert len(listener.jobs) == 2
        client.close()
    with Journal.open(journal_path) as journal:
        assert journal.open_entries() == []
