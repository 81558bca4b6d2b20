"""HTTP for the simulated clients: one keep-alive connection per thread, every call timed."""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]
    seconds: float

    def json(self):
        return json.loads(self.body)


class Http:
    """A client of ``127.0.0.1:port``; safe to share between threads (a connection each)."""

    def __init__(self, port: int, headers: dict[str, str] | None = None,
                 timeout: float = 30.0) -> None:
        self.port = port
        self.headers = dict(headers or {})
        self.timeout = timeout
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self._local.connection = connection
        return connection

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, params: dict | None = None) -> Reply:
        if params:
            path = f"{path}?{urlencode(params)}"
        all_headers = {**self.headers, **(headers or {})}
        for attempt in (1, 2):  # a keep-alive connection the server closed: one new try
            connection = self._connection()
            started = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=all_headers)
                response = connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connection.close()
                self._local.connection = None
                if attempt == 2:
                    raise
                continue
            elapsed = time.perf_counter() - started
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                self._local.connection = None
            return Reply(response.status, data,
                         {k.lower(): v for k, v in response.getheaders()}, elapsed)
        raise AssertionError("unreachable")

    def get(self, path: str, **params) -> Reply:
        return self.request("GET", path, params=params or None)

    def post_json(self, path: str, payload) -> Reply:
        return self.request("POST", path, json.dumps(payload).encode(),
                            {"Content-Type": "application/json"})

    def all_pages(self, path: str, limit: int = 500) -> list[dict]:
        """Every row of a paginated organiser list (limit/offset)."""
        rows: list[dict] = []
        offset = 0
        while True:
            reply = self.get(path, limit=limit, offset=offset)
            if reply.status != 200:
                raise RuntimeError(f"GET {path}: {reply.status} {reply.body[:300]!r}")
            page = reply.json()
            results = page["results"] if isinstance(page, dict) else page
            rows.extend(results)
            if not isinstance(page, dict) or not page.get("next") or not results:
                return rows
            offset += len(results)


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p99 and max, in the values' unit (nearest-rank), 0 for no values."""
    if not values:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered) + 0.5) - 1))]

    return {"p50": round(rank(0.50), 2), "p99": round(rank(0.99), 2),
            "max": round(ordered[-1], 2)}
