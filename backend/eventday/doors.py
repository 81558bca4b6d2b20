"""Gates as door devices: each scans over the door API with its own token, keeps answering
from what it knows while its network is down (queueing the scans), and uploads the queue
through the sync endpoint when it is back — the door page's behaviour, as a client."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from dataclasses import dataclass, field

from backend.eventday.http import Http, percentiles

SCAN = "/api/v1/checkin/scan/"
SYNC = "/api/v1/checkin/sync/"


@dataclass
class Answer:
    gate: str
    code: str
    type: str  # entry | exit
    nonce: str
    status: str  # ok | rejected | error
    reason: str | None
    name: str | None  # the attendee the server named
    minute: float  # simulated time of the scan
    at: float  # monotonic time the device had the server's answer
    latency_ms: float | None  # online scans only
    source: str  # online | offline
    local_status: str | None = None
    conflict: bool = False
    tag: str = ""  # what the plan meant by this scan (entry, double, forged, ...)


@dataclass
class Gate:
    index: int
    label: str
    device_id: int
    http: Http
    list_id: int
    online: bool = True
    queue: list[dict] = field(default_factory=list)
    pending: dict[str, tuple[str, float, str, str]] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)
    sync_latency_ms: list[float] = field(default_factory=list)
    inside: set[str] = field(default_factory=set)  # codes this device believes inside
    lock: threading.Lock = field(default_factory=threading.Lock)

    def scan(self, code: str, kind: str, minute: float, tag: str) -> Answer | None:
        nonce = str(uuid.uuid4())
        if not self.online:
            return self._queue(code, kind, minute, tag, nonce)
        reply = self.http.post_json(SCAN, {"code": code, "list": self.list_id, "type": kind,
                                           "nonce": nonce})
        if reply.status != 200:
            answer = Answer(self.label, code, kind, nonce, "error", f"http {reply.status}",
                            None, minute, time.monotonic(), reply.seconds * 1000, "online",
                            tag=tag)
        else:
            body = reply.json()
            answer = Answer(self.label, code, kind, nonce, body["status"], body["reason"],
                            (body.get("attendee") or {}).get("name"), minute, time.monotonic(),
                            reply.seconds * 1000, "online", tag=tag)
        self._remember(answer)
        with self.lock:
            self.answers.append(answer)
        return answer

    def _remember(self, answer: Answer) -> None:
        if answer.status != "ok":
            return
        if answer.type == "entry":
            self.inside.add(answer.code)
        else:
            self.inside.discard(answer.code)

    def _queue(self, code: str, kind: str, minute: float, tag: str, nonce: str) -> None:
        # The device decides alone: in, unless it saw this code come in and not go out.
        local = "rejected" if kind == "entry" and code in self.inside else "ok"
        if local == "ok" and kind == "entry":
            self.inside.add(code)
        elif kind == "exit":
            self.inside.discard(code)
        self.queue.append({"code": code, "list": self.list_id, "type": kind, "nonce": nonce,
                           "scanned_at": dt.datetime.now(dt.UTC).isoformat(),
                           "local_status": local})
        self.pending[nonce] = (code, minute, tag, local)

    def go_offline(self) -> None:
        self.online = False

    def go_online(self) -> None:
        """Back on the network: upload the queue (oldest first, ≤ 500 a request)."""
        self.online = True
        while self.queue:
            batch, self.queue = self.queue[:500], self.queue[500:]
            reply = self.http.post_json(SYNC, {"scans": batch})
            self.sync_latency_ms.append(reply.seconds * 1000)
            if reply.status != 200:
                raise RuntimeError(f"sync at {self.label}: {reply.status} {reply.body[:300]!r}")
            now = time.monotonic()
            by_nonce = {scan["nonce"]: scan for scan in batch}
            for result in reply.json()["results"]:
                nonce = result["nonce"]
                code, minute, tag, local = self.pending.pop(nonce)
                answer = Answer(
                    self.label, code, by_nonce[nonce]["type"], nonce,
                    result.get("status", "error"), result.get("reason", result.get("error")),
                    (result.get("attendee") or {}).get("name"), minute, now, None, "offline",
                    local_status=local, conflict=bool(result.get("conflict")), tag=tag)
                if answer.status == "ok" and answer.type == "entry":
                    self.inside.add(code)
                with self.lock:
                    self.answers.append(answer)


@dataclass(order=True)
class Action:
    minute: float
    seq: int
    gate: int = field(compare=False)
    kind: str = field(compare=False)  # entry | exit | offline | online
    code: str = field(compare=False, default="")
    tag: str = field(compare=False, default="")


class Doors:
    """The gates' day: each gate's actions in simulated time, one thread per gate."""

    def __init__(self, gates: list[Gate], clock, started: float) -> None:
        self.gates = gates
        self.clock = clock
        self.started = started
        self.actions: list[list[Action]] = [[] for _ in gates]
        self._seq = 0
        self.errors: list[str] = []

    def add(self, minute: float, gate: int, kind: str, code: str = "", tag: str = "") -> None:
        self._seq += 1
        self.actions[gate].append(Action(minute, self._seq, gate, kind, code, tag))

    def sleep_until(self, minute: float) -> None:
        delay = self.started + self.clock.real(minute) - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def _run_gate(self, index: int) -> None:
        gate = self.gates[index]
        try:
            for action in sorted(self.actions[index]):
                self.sleep_until(action.minute)
                if action.kind == "offline":
                    gate.go_offline()
                elif action.kind == "online":
                    gate.go_online()
                else:
                    gate.scan(action.code, action.kind, action.minute, action.tag)
        except Exception as exc:  # reported in the reconciliation, never swallowed
            self.errors.append(f"gate {gate.label}: {type(exc).__name__}: {exc}")

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._run_gate, args=(i,), name=f"gate-{i}",
                                    daemon=True) for i in range(len(self.gates))]
        for thread in threads:
            thread.start()
        return threads


def latency_by_gate(gates: list[Gate]) -> dict[str, dict]:
    return {gate.label: percentiles([a.latency_ms for a in gate.answers
                                     if a.latency_ms is not None]) for gate in gates}
