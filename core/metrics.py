"""The operators' metrics (Prometheus, ``prometheus_client``): what the processes count as they
work. ``GET /metrics`` (backend/metrics.py) adds what is read from the database at scrape time
and serves both; docs/shared-state.md lists every metric.

Under gunicorn the workers are separate processes: gunicorn.conf.py sets
``PROMETHEUS_MULTIPROC_DIR`` (before the app is imported, which fixes prometheus_client's
storage) to a directory of its own, and each worker writes its values to memory-mapped files
there; a scrape of any worker sums every worker of that host (counters and histograms over all
processes, dead ones included; the live-stream gauge over live processes). One host, one
endpoint: the hosts are told apart by the scraper's ``instance`` label, and summed by whoever
scrapes them. Without the variable (``runserver``, the tests, a management command) the values
live in the process.

Cost: an increment is a lock and a write to a mapped page, a few microseconds; the scan path
records two (a counter and a histogram observation), measured in docs/shared-state.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from prometheus_client import Counter, Gauge, Histogram

# Seconds from the request's arrival at the WSGI app to its answer, for the scan endpoint.
SCAN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SLOW_SECONDS = 1.0

scans = Counter(
    "varco_scans", "Scans answered by the scan endpoint, by HTTP status, result and reason "
    "(reason empty for an admitted scan; status 429 a refused flood, 503 a lost database).",
    ["status", "result", "reason"],
)
scan_seconds = Histogram(
    "varco_scan_seconds", "Time to answer POST /api/v1/checkin/scan/, in the web process.",
    buckets=SCAN_BUCKETS,
)
slow_requests = Counter(
    "varco_slow_requests", f"Requests answered in more than {SLOW_SECONDS:g} s (streams not "
    "counted), by kind: scan (the door's endpoint) or other.", ["kind"],
)
live_streams = Gauge(
    "varco_live_streams_open", "Dashboard live streams (Server-Sent Events) open now.",
    multiprocess_mode="livesum",
)


def record_scan(status: int, result: str, reason: str, seconds: float) -> None:
    """One answer of the scan endpoint (both ways in: checkin.fastpath and the Django view)."""
    scans.labels(str(status), result, reason).inc()
    scan_seconds.observe(seconds)
    if seconds > SLOW_SECONDS:
        slow_requests.labels("scan").inc()


class SlowRequestMiddleware:
    """Counts Django's requests slower than ``SLOW_SECONDS`` (the scan's fast path counts its
    own). A streaming response is counted when it starts, not over its life."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        if time.perf_counter() - started > SLOW_SECONDS:
            slow_requests.labels("other").inc()
        return response
