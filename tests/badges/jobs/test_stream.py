"""Waiting for work without busy-looping: a long-polling claim and the browser station's
event stream wake when a scan queues a badge (in this process: the in-process wake-up; with
Redis also through pub/sub), and both are bounded (waiter slots, ``wait`` ≤ 25 s)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from badges.jobs import claims, stream, wakeup
from tests.support.api_errors import assert_error
from tests.support.checkin import Door
from tickets import services

pytestmark = pytest.mark.django_db(transaction=True)


def _in_thread(work) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def target() -> None:
        try:
            out["result"] = work()
        except BaseException as exc:  # reported by the test
            out["error"] = exc
        finally:
            out["at"] = time.monotonic()
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    return thread, out


def _scan(printing, register) -> float:
    """Admit a new attendee at gate A; when the scan started. (A first scan at gate B warms
    the process's caches: the figure is the badge's path, not the first scan's loading.)"""
    warm = register(name="Primo Ingresso", email="primo@example.org")
    Door(printing.token_b, printing.checkin_list).scan(services.ticket_code(warm))
    ticket = register(name="Giulia Rossi")
    door = Door(printing.token_a, printing.checkin_list)
    code = services.ticket_code(ticket)
    started = time.monotonic()
    assert door.scan(code)["status"] == "ok"
    print(f"\nscan answered in {(time.monotonic() - started) * 1000:.1f} ms")
    return started


def test_a_waiting_claim_gets_the_badge_of_a_scan(printing, register, settings):
    settings.VARCO_PRINT_POLL_SECONDS = 10  # only the wake-up can be in time
    thread, out = _in_thread(lambda: claims.claim_waiting(printing.station_a, 20))
    time.sleep(0.3)
    assert thread.is_alive()  # waiting, nothing queued yet
    scanned = _scan(printing, register)
    thread.join(timeout=20)
    assert "error" not in out, out.get("error")
    assert out["result"] is not None and out["result"].job.ticket.attendee.name == "Giulia Rossi"
    latency = out["at"] - scanned
    print(f"\nclaim woken {latency * 1000:.1f} ms after the scan started")
    assert latency < 1.0


def test_a_waiting_claim_ends_empty_after_wait(printing):
    started = time.monotonic()
    assert claims.claim_waiting(printing.station_a, 0.5) is None
    assert 0.45 <= time.monotonic() - started < 5


def test_the_stream_announces_a_queued_badge(printing, register, settings):
    settings.VARCO_PRINT_POLL_SECONDS = 10  # only the wake-up can be in time
    settings.VARCO_LIVE_STREAM_SECONDS = 30
    body = stream.open_stream(printing.station_a)
    events: list[tuple[float, bytes]] = []

    def read() -> None:
        for chunk in body:
            events.append((time.monotonic(), chunk))
            if chunk.startswith(b"event: job"):
                break

    thread, out = _in_thread(read)
    time.sleep(0.3)
    assert [chunk for _, chunk in events] == [b"retry: 1000\n\n"]
    scanned = _scan(printing, register)
    thread.join(timeout=20)
    body.close()
    assert "error" not in out, out.get("error")
    at, chunk = events[-1]
    assert chunk.startswith(b"event: job\n") and b'"queued":1' in chunk
    print(f"\njob event {(at - scanned) * 1000:.1f} ms after the scan started")
    assert at - scanned < 1.0
    assert wakeup.slots.open == 0  # the slot was given back


def test_the_stream_announces_badges_already_queued(printing, register):
    _scan(printing, register)
    body = stream.open_stream(printing.station_a)
    try:
        chunks = iter(body)
        assert next(chunks) == b"retry: 1000\n\n"
        assert next(chunks).startswith(b"event: job\n")
    finally:
        body.close()


def test_waiters_are_bounded(printing, settings, register):
    settings.VARCO_PRINT_WAITERS_PER_PROCESS = 1
    held = stream.open_stream(printing.station_b)
    try:
        started = time.monotonic()
        assert claims.claim_waiting(printing.station_a, 20) is None  # at once, no slot
        assert time.monotonic() - started < 5
        client = printing.station_client()
        assert_error(client.get("/api/v1/badges/station/stream/"), 503, code="busy")
    finally:
        held.close()
    assert wakeup.slots.open == 0
