"""The station API client: what the server answers is validated once (a job the contract does
not allow is refused, never half-printed); the token never leaves for another host."""

from __future__ import annotations

import pytest

from badges.agent.client import ProtocolError, Refused, StationClient, Unavailable, parse_job
from tests.support.smtp_sink import free_port
from tests.support.station_stub import TOKEN, station_stub

JOB = {"job": {"id": 3, "attempt": 1, "claim": "abc", "ticket": "R-1", "name": "Anna",
               "gate": "A", "reprint": False,
               "layout": {"id": 1, "preset": "ql-62", "width_mm": 90.0, "height_mm": 62.0},
               "pdf": "/api/v1/badges/station/jobs/3/badge.pdf"}}


def _with(**changes) -> dict:
    job = {**JOB["job"], **changes}
    return {"job": job}


def test_a_valid_job_is_read():
    job = parse_job(JOB)
    assert (job.id, job.attempt, job.claim, job.width_mm, job.height_mm) == (3, 1, "abc", 90, 62)


@pytest.mark.parametrize("job", [
    _with(id="3"), _with(id=True), _with(attempt=None), _with(claim=""), _with(claim="x" * 201),
    _with(pdf="https://elsewhere.example/steal"), _with(pdf="//elsewhere.example/x"),
    _with(layout={"id": 1, "width_mm": 5000, "height_mm": 62}),
    _with(layout={"id": 1, "width_mm": "90", "height_mm": 62}), {"job": None}, [],
])
def test_a_job_the_contract_does_not_allow_is_refused(job):
    with pytest.raises(ProtocolError):
        parse_job(job)


def test_refusals_and_absence_are_told_apart():
    with station_stub({"kind": "browser"}) as station:
        with pytest.raises(Refused) as refused:
            StationClient(station.base, "wrong").whoami()
        assert refused.value.status == 401 and refused.value.code == "not_authenticated"
        assert StationClient(station.base, TOKEN).claim(0) is None
    with pytest.raises(Unavailable):
        StationClient(f"http://127.0.0.1:{free_port()}", TOKEN).whoami()
