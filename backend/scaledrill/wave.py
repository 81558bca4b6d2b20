"""The scan wave: door devices posting to the balancer at a steady pace, retrying a scan that
got no answer (a connection error, a timeout, 502/503/504) with the same nonce until it is
answered, as the door page does. What each device was told is the drill's evidence."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field

from backend.eventday.http import Http

SCAN = "/api/v1/checkin/scan/"
RETRYABLE = {502, 503, 504}


@dataclass
class Scan:
    device: int  # the device's id
    code: str
    nonce: str
    started: float  # monotonic, first attempt
    answered: float | None = None  # monotonic, the 200
    status: str | None = None  # ok | rejected
    reason: str | None = None
    attempts: int = 0
    failures: list[tuple[float, str]] = field(default_factory=list)  # (when, what)
    slowest: float = 0.0  # seconds, the slowest single attempt


@dataclass
class Device:
    id: int
    token: str
    list_id: int
    codes: list[str]
    http: Http
    scans: list[Scan] = field(default_factory=list)


class Wave:
    """``devices`` scan their codes (then codes they already scanned: the log keeps growing)
    at ``rate`` scans per second in total, until ``stop()``."""

    def __init__(self, devices: list[Device], rate: float, give_up_after: float = 120.0,
                 seed: int = 16) -> None:
        self.devices = devices
        self.interval = len(devices) / rate
        self.give_up_after = give_up_after
        self.rng = random.Random(seed)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.unexpected: list[str] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        for device in self.devices:
            thread = threading.Thread(target=self._run, args=(device,), daemon=True,
                                      name=f"device-{device.id}")
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.give_up_after + 10)

    def _run(self, device: Device) -> None:
        rng = random.Random(self.rng.random())
        time.sleep(rng.uniform(0, self.interval))  # the devices do not start in step
        position = 0
        while not self._stop.is_set():
            due = time.monotonic() + self.interval
            code = device.codes[position % len(device.codes)]
            position += 1
            self.scan(device, code)
            self._stop.wait(max(0.0, due - time.monotonic()))

    def scan(self, device: Device, code: str) -> Scan:
        scan = Scan(device.id, code, str(uuid.uuid4()), time.monotonic())
        with self.lock:
            device.scans.append(scan)
        body = json.dumps({"code": code, "list": device.list_id, "nonce": scan.nonce})
        pause = 0.1
        while time.monotonic() - scan.started < self.give_up_after:
            scan.attempts += 1
            began = time.monotonic()
            try:
                reply = device.http.request("POST", SCAN, body.encode(), {
                    "Content-Type": "application/json",
                    "Authorization": f"Token {device.token}"})
            except (OSError, http.client.HTTPException) as exc:
                device.http._local.connection = None  # a new connection for the retry
                scan.failures.append((began, type(exc).__name__))
            else:
                scan.slowest = max(scan.slowest, time.monotonic() - began)
                if reply.status == 200:
                    answer = reply.json()
                    scan.answered = time.monotonic()
                    scan.status, scan.reason = answer.get("status"), answer.get("reason")
                    return scan
                if reply.status not in RETRYABLE:
                    with self.lock:
                        self.unexpected.append(f"device {device.id}: {reply.status} "
                                               f"{reply.body[:200]!r}")
                    return scan
                scan.failures.append((began, f"http {reply.status}"))
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
        return scan

    def all_scans(self) -> list[Scan]:
        with self.lock:
            return [s for d in self.devices for s in d.scans]


def failures_between(scans: list[Scan], start: float, end: float) -> list[tuple[float, str]]:
    return sorted(f for s in scans for f in s.failures if start <= f[0] <= end)


def recovery(scans: list[Scan], fault_at: float, until: float) -> dict:
    """From a fault: failed attempts, the longest a scan waited for its answer, and the
    window during which attempts failed (first to last failure)."""
    hit = [s for s in scans if s.failures and fault_at - 1 <= s.failures[-1][0] <= until]
    failures = failures_between(scans, fault_at - 1, until)
    waits = [s.answered - s.started for s in hit if s.answered is not None]
    return {
        "failed_attempts": len(failures),
        "scans_retried": len(hit),
        "longest_wait_s": round(max(waits, default=0.0), 2),
        "failure_window_s": round(failures[-1][0] - failures[0][0], 2) if failures else 0.0,
        "kinds": sorted({kind for _, kind in failures}),
    }
