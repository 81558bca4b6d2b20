"""Shared state between web processes: what each piece costs per call, in-process against Redis,
next to a Redis PING (the round trip's floor) measured in the same run (docs/shared-state.md).

    REDIS_URL=redis://127.0.0.1:6379/15 python benchmarks/bench_shared_state.py [--calls 5000]

It uses (and empties the keys it writes in) the Redis database of REDIS_URL; no SQL database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _setup_django() -> None:
    # prometheus_client's multiprocess mode, as under gunicorn (gunicorn.conf.py): chosen at
    # its import, so before Django imports core.metrics.
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="bench-metrics-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    os.environ.setdefault("DATABASE_URL", "sqlite:///:memory:")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import django

    django.setup()


def _per_call(fn, calls: int, rounds: int = 5) -> tuple[float, float]:
    """Median and max over rounds of the mean µs per call."""
    means = []
    for _ in range(rounds):
        started = time.perf_counter()
        for index in range(calls):
            fn(index)
        means.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(means), max(means)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        sys.exit("set REDIS_URL=redis://… (a database this may write to)")
    _setup_django()
    from django.conf import settings
    from django.test.utils import override_settings

    from checkin.scanning import flood
    from core.shared_redis import shared

    client = shared.client()
    rows = []
    rows.append(("redis PING (floor)", *_per_call(lambda i: client.ping(), args.calls)))
    with override_settings(VARCO_SCAN_INVALID_RATE=1_000_000, VARCO_SCAN_INVALID_BURST=10**9):
        shared_limiter = flood.InvalidCodeLimiter(kind="bench")
        rows.append(("flood take, Redis", *_per_call(lambda i: shared_limiter.take(i % 200),
                                                     args.calls)))
        shared_limiter.reset()
        with override_settings(REDIS_URL=""):
            local = flood.InvalidCodeLimiter(kind="bench")
            rows.append(("flood take, in process", *_per_call(lambda i: local.take(i % 200),
                                                              args.calls)))
    from checkin.attendance import leases
    from core import metrics

    rows.append(("metrics: one scan recorded", *_per_call(
        lambda i: metrics.record_scan(200, "ok", "", 0.002), args.calls)))
    with override_settings(VARCO_LIVE_STREAMS_TOTAL=10**9):
        owners = (("organiser", 1), ("user", 1))

        def take_and_give_back(_: int) -> None:
            lease = leases.Lease(owners)
            lease.take(owners)
            lease.give_back()

        rows.append(("stream lease: take + give back", *_per_call(take_and_give_back,
                                                                  args.calls // 5)))
        lease = leases.Lease(owners)
        lease.take(owners)

        def renew(_: int) -> None:
            lease.renewed_at = 0.0
            lease.renew()

        rows.append(("stream lease: renew", *_per_call(renew, args.calls // 5)))
        lease.give_back()
    print(f"Redis {settings.REDIS_URL}, {args.calls} calls x 5 rounds; µs per call")
    print(f"{'what':34} {'median':>8} {'max':>8}")
    for name, median, worst in rows:
        print(f"{name:34} {median:8.1f} {worst:8.1f}")


if __name__ == "__main__":
    main()
