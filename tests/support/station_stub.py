"""A stand-in for the station API (docs/badges.md) with the contract's job states, served over
real HTTP in a thread: for the agent's tests while the server side (branch badges-jobs) is not
merged. Every rule the agent relies on is here and only these: claims are conditional on the
claim token, a station's own ``claimed`` jobs go back to the queue when it claims again, its
``handed`` jobs become ``in_doubt`` then, ``failed`` with ``retry`` queues a new attempt,
``resolve`` settles an in-doubt job. It records every call so a test can see what happened.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

TOKEN = "station-token-for-tests"
PREFIX = "/api/v1/badges/station/"


@dataclass
class StubJob:
    id: int
    pdf: bytes
    name: str
    width_mm: float
    height_mm: float
    state: str = "queued"
    attempt: int = 1
    claim: str = ""
    printer_job: str | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class Station:
    output: dict
    jobs: dict[int, StubJob] = field(default_factory=dict)
    calls: list[tuple[str, int | None, dict]] = field(default_factory=list)
    pdf_delay: dict[int, float] = field(default_factory=dict)  # job id -> seconds to stall
    lock: threading.Condition = field(default_factory=threading.Condition)
    base: str = ""

    def add(self, job_id: int, pdf: bytes, name: str, width_mm: float, height_mm: float) -> None:
        with self.lock:
            self.jobs[job_id] = StubJob(job_id, pdf, name, width_mm, height_mm)
            self.lock.notify_all()

    def states(self) -> dict[int, str]:
        with self.lock:
            return {job.id: job.state for job in self.jobs.values()}


def _job_body(job: StubJob) -> dict:
    return {"job": {"id": job.id, "attempt": job.attempt, "claim": job.claim,
                    "ticket": f"T-{job.id}", "name": job.name, "gate": "Nord", "reprint": False,
                    "layout": {"id": 1, "preset": "ql-62", "width_mm": job.width_mm,
                               "height_mm": job.height_mm},
                    "pdf": f"{PREFIX}jobs/{job.id}/badge.pdf"}}


def _handler(station: Station) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, body: dict | bytes | None = None,
                  kind: str = "application/json") -> None:
            data = b"" if body is None else (
                body if isinstance(body, bytes) else json.dumps(body).encode())
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _refuse(self, status: int, code: str) -> None:
            self._send(status, {"error": code, "detail": code, "fields": {}})

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") != f"Token {TOKEN}":
                self._refuse(401, "not_authenticated")
                return False
            return True

        def do_GET(self) -> None:
            if not self._authorised():
                return
            url = urlparse(self.path)
            if url.path == PREFIX:
                return self._send(200, {"id": 1, "name": "Nord", "event": {"id": 1, "name": "E"},
                                        "gates": ["Nord"], "output": station.output})
            if url.path == PREFIX + "in-doubt/":
                with station.lock:
                    rows = [{"id": j.id, "attempt": j.attempt} for j in station.jobs.values()
                            if j.state == "in_doubt"]
                return self._send(200, rows)
            parts = url.path.removeprefix(PREFIX).split("/")
            if len(parts) == 3 and parts[0] == "jobs" and parts[2] == "badge.pdf":
                job_id = int(parts[1])
                time.sleep(station.pdf_delay.pop(job_id, 0))
                claim = parse_qs(url.query).get("claim", [""])[0]
                with station.lock:
                    job = station.jobs.get(job_id)
                    if job is None or job.claim != claim or job.state != "claimed":
                        return self._refuse(404, "not_found")
                    pdf = job.pdf
                return self._send(200, pdf, "application/pdf")
            self._refuse(404, "not_found")

        def do_POST(self) -> None:
            if not self._authorised():
                return
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            path = urlparse(self.path).path.removeprefix(PREFIX)
            if path == "claim/":
                return self._claim(float(body.get("wait", 0)))
            parts = path.split("/")
            if len(parts) != 4 or parts[0] != "jobs" or not parts[1].isdigit():
                return self._refuse(404, "not_found")
            job_id, step = int(parts[1]), parts[2]
            with station.lock:
                station.calls.append((step, job_id, body))
                job = station.jobs.get(job_id)
                if job is None:
                    return self._refuse(404, "not_found")
                if step == "resolve":
                    if job.state != "in_doubt":
                        return self._refuse(409, "not_in_doubt")
                    if body["printed"]:
                        job.state = "printed"
                    else:
                        job.state, job.attempt = "queued", job.attempt + 1
                    station.lock.notify_all()
                    return self._send(200, {})
                if body.get("claim") != job.claim:
                    return self._refuse(409, "claim_lost")
                if step == "handed" and job.state == "claimed":
                    job.state = "handed"
                elif step == "printed" and job.state == "handed":
                    job.state, job.printer_job = "printed", body.get("printer_job")
                elif step == "failed" and job.state in ("claimed", "handed"):
                    job.errors.append(body["error"])
                    if body["retry"]:
                        job.state, job.attempt, job.claim = "queued", job.attempt + 1, ""
                    else:
                        job.state = "failed"
                else:
                    return self._refuse(409, f"not_{step}")
                station.lock.notify_all()
            self._send(200, {})

        def _claim(self, wait: float) -> None:
            deadline = time.monotonic() + min(wait, 25)
            with station.lock:
                station.calls.append(("claim", None, {"wait": wait}))
                for job in station.jobs.values():  # this station starts again
                    if job.state == "claimed":
                        job.state, job.claim = "queued", ""
                    elif job.state == "handed":
                        job.state = "in_doubt"
                while True:
                    queued = [j for j in station.jobs.values() if j.state == "queued"]
                    if queued:
                        job = min(queued, key=lambda j: j.id)
                        job.state, job.claim = "claimed", secrets.token_hex(16)
                        return self._send(200, _job_body(job))
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self.send_response(204)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    station.lock.wait(min(left, 0.2))

    return Handler


@contextlib.contextmanager
def station_stub(output: dict) -> Iterator[Station]:
    station = Station(output=output)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(station))
    server.daemon_threads = True
    station.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield station
    finally:
        server.shutdown()
        server.server_close()
