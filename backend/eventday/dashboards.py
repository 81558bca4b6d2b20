"""Two organisers' dashboards on the live stream (Server-Sent Events) for the whole day:
logged in like a browser (the admin login form), reconnecting when the server ends a stream,
recording each figure with the moment it arrived."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode


def _cookies(response: http.client.HTTPResponse, jar: dict[str, str]) -> None:
    for header in response.headers.get_all("Set-Cookie") or []:
        cookie = SimpleCookie()
        cookie.load(header)
        for key, morsel in cookie.items():
            jar[key] = morsel.value


def login(port: int, username: str, password: str) -> str:
    """A session cookie header, from the login form (CSRF token included)."""
    jar: dict[str, str] = {}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/admin/login/?next=/admin/")
        response = connection.getresponse()
        page = response.read().decode()
        _cookies(response, jar)
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if not match:
            raise RuntimeError("no CSRF token on the login page")
        body = urlencode({"username": username, "password": password, "next": "/admin/",
                          "csrfmiddlewaretoken": match.group(1)})
        connection.request("POST", "/admin/login/", body, {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items()),
            "Referer": f"http://127.0.0.1:{port}/admin/login/"})
        response = connection.getresponse()
        response.read()
        _cookies(response, jar)
    finally:
        connection.close()
    if response.status != 302 or "sessionid" not in jar:
        raise RuntimeError(f"login failed: {response.status}")
    return "; ".join(f"{k}={v}" for k, v in jar.items())


@dataclass
class Dashboard:
    name: str
    port: int
    event_id: int
    cookie: str
    updates: list[tuple[float, dict]] = field(default_factory=list)
    connects: int = 0
    refusals: int = 0
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _connection: http.client.HTTPConnection | None = None

    def _read(self) -> None:
        self.connects += 1
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        self._connection = connection
        try:
            connection.request("GET", f"/events/{self.event_id}/dashboard/stream/",
                               headers={"Cookie": self.cookie, "Accept": "text/event-stream"})
            response = connection.getresponse()
            if response.status != 200:
                self.refusals += 1
                response.read()
                self._stop.wait(1.0)
                return
            data: list[str] = []
            while not self._stop.is_set():
                line = response.readline()
                if not line:
                    return  # the server ended the stream: reconnect
                text = line.decode().rstrip("\r\n")
                if text.startswith("data:"):
                    data.append(text[5:].lstrip())
                elif not text and data:
                    payload = json.loads("\n".join(data))
                    data = []
                    payload = payload.get("payload", payload)
                    self.updates.append((time.monotonic(), payload.get("attendance", payload)))
        finally:
            connection.close()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self._read()
            except (OSError, http.client.HTTPException, ValueError) as exc:
                if not self._stop.is_set():
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    self._stop.wait(0.5)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
        if self._connection is not None and self._connection.sock is not None:
            with contextlib.suppress(OSError):
                self._connection.sock.shutdown(2)

    def last(self) -> dict:
        return self.updates[-1][1] if self.updates else {}


def entries_of(payload: dict) -> int:
    return sum(g.get("entries", 0) for g in payload.get("by_gate", []))


def exits_of(payload: dict) -> int:
    return sum(g.get("exits", 0) for g in payload.get("by_gate", []))


def lag_ms(dashboard: Dashboard, admitted_at: list[float]) -> list[float]:
    """For the k-th admitted entry (in the order the devices had their answers), the time
    until this dashboard showed at least k entries."""
    lags = []
    updates = [(at, entries_of(p)) for at, p in dashboard.updates]
    position = 0
    for k, at in enumerate(sorted(admitted_at), start=1):
        while position < len(updates) and updates[position][1] < k:
            position += 1
        if position == len(updates):
            break
        lags.append(max(0.0, (updates[position][0] - at) * 1000))
    return lags
