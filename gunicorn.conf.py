"""gunicorn settings shared by `make run`, the benchmarks and docker-compose.

Every value can be overridden from the environment (GUNICORN_*), e.g. GUNICORN_WORKERS=4.
Threaded workers (gunicorn's gthread, with its keep-alive stall fixed: backend/gunicorn_worker.py),
one process per core, 8 threads each: a scan spends about half its
time waiting on PostgreSQL (statement + commit), so threads keep both cores busy while the
processes avoid fighting over one GIL; keep-alive lets door devices reuse connections. Measured
against 3x4, 2x4, 4x4 and 2x16 on 2 cores (docs/benchmarks.md, "Check-in").
"""

import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

# Prometheus's multiprocess mode (core/metrics.py, GET /metrics): every worker writes its
# values to files in this directory, and a scrape of any worker sums them. Set before the app
# is imported (preload_app below), since prometheus_client picks its storage at import. A
# directory the operator names is emptied first (values of a previous run must not be summed
# in); one made here is removed at exit.
_METRICS_DIR_MADE = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _METRICS_DIR_MADE:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="varco-metrics-")
else:
    for _stale in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        _stale.unlink()

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "backend.gunicorn_worker.ThreadWorker")
threads = int(os.environ.get("GUNICORN_THREADS", 8))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 30))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 10
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 0))
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Load the app once before forking: less memory, and start-up errors surface immediately.
preload_app = True


def worker_exit(server, worker) -> None:
    """Write the invalid scans still in this worker's 1-second batch before it exits
    (SIGTERM, graceful restart, max_requests); see checkin/scanning/invalid_log.py for the
    window. Publish the e-mail tasks of the registrations it committed in the last moment
    (tickets/delivery/publisher.py; the sweep would, later)."""
    from checkin.scanning import invalid_log
    from tickets.delivery import queue

    invalid_log.flush_at_exit()
    queue.flush_pending()


def on_starting(server) -> None:
    """Refuse a network-facing start without real keys from the environment (backend/keys.py)."""
    from backend.keys import network_start_refusal

    refusal = network_start_refusal(server.cfg.address, dict(os.environ))
    if refusal:
        raise RuntimeError(refusal)  # gunicorn prints "Error: …" and exits with status 1


def child_exit(server, worker) -> None:
    """A worker gone: its live-stream gauge no longer counts (its counters still do)."""
    # Imported here, not at the top: prometheus_client must be imported after
    # PROMETHEUS_MULTIPROC_DIR is set above (and by the app, in the preloaded master).
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    if _METRICS_DIR_MADE:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
