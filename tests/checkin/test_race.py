"""No double entry under real concurrency: PostgreSQL, one connection per thread."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from checkin.models import Presence, ScanLog
from tests.support.checkin import Door, make_device, make_list
from tests.support.threads import run_in_threads
from tickets import services

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]



def test_fifty_devices_scanning_one_ticket_at_once_admit_it_once(event, register):
    door_list = make_list(event)
    doors = [Door(make_device(event, [door_list], name=f"D{i}")[1], door_list) for i in range(50)]
    code = services.ticket_code(register())

    answers = run_in_threads(50, lambda i: doors[i].scan(code))

    statuses = sorted(a["status"] for a in answers)
    assert statuses.count("ok") == 1
    assert statuses.count("rejected") == 49
    assert {a["reason"] for a in answers if a["status"] == "rejected"} == {"already_checked_in"}
    first = next(a for a in answers if a["status"] == "ok")["checked_in_at"]
    assert all(a["first_checked_in_at"] == first for a in answers if a["status"] == "rejected")
    assert ScanLog.objects.count() == 50
    assert ScanLog.objects.filter(result="ok").count() == 1
    presence = Presence.objects.get()
    assert (presence.entries, presence.inside) == (1, True)


def test_a_retry_racing_its_original_is_recorded_once(event, register):
    door_list = make_list(event, allow_reentry=True)  # re-entry: only the nonce protects
    _, token = make_device(event, [door_list])
    doors = [Door(token, door_list) for _ in range(20)]
    code = services.ticket_code(register())
    nonce = str(uuid.uuid4())

    answers = run_in_threads(20, lambda i: doors[i].scan(code, nonce=nonce))

    assert {a["status"] for a in answers} == {"ok"}
    assert len({a["checked_in_at"] for a in answers}) == 1
    assert ScanLog.objects.count() == 1
    assert Presence.objects.get().entries == 1


def test_many_tickets_scanned_in_parallel_twice_each(event, register):
    door_list = make_list(event)
    _, token_a = make_device(event, [door_list], name="A")
    _, token_b = make_device(event, [door_list], name="B")
    codes = [services.ticket_code(register(email=f"p{i}@example.org")) for i in range(20)]
    doors = [Door(token_a, door_list), Door(token_b, door_list)]

    answers = run_in_threads(40, lambda i: doors[i % 2].scan(codes[i // 2]))

    for index in range(20):
        pair = sorted([answers[2 * index]["status"], answers[2 * index + 1]["status"]])
        assert pair == ["ok", "rejected"], index
    assert Presence.objects.count() == 20


def test_a_dropped_database_connection_gives_503_then_the_retry_lands_once(event, register):
    import psycopg
    from django.conf import settings as django_settings

    from tests.support.checkin import SCAN_URL, WsgiClient

    door_list = make_list(event)
    _, token = make_device(event, [door_list])
    door = Door(token, door_list, WsgiClient())
    assert door.scan(services.ticket_code(register(email="a@example.org")))["status"] == "ok"
    code = services.ticket_code(register(email="b@example.org"))
    backend_pid = connection.connection.info.backend_pid
    params = django_settings.DATABASES["default"]
    with psycopg.connect(host=params["HOST"], port=params["PORT"] or 5432, user=params["USER"],
                         password=params["PASSWORD"], dbname=params["NAME"],
                         autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend_pid])

    body = {"code": code, "list": door_list.pk, "nonce": "retry-me"}
    first = door.post(SCAN_URL, body)
    assert first.status_code == 503  # never a false "ok"
    assert first.json()["error"] == "unavailable" and first["Retry-After"] == "1"
    second = door.post(SCAN_URL, body)
    assert second.status_code == 200 and second.json()["status"] == "ok"
    assert door.post(SCAN_URL, body).json() == second.json()
    assert ScanLog.objects.filter(nonce="retry-me").count() == 1


def test_a_connection_dropped_before_the_device_look_up_is_503_not_500(event, register):
    """Found by the database drill (tests/system/test_drills.py): on a device-cache miss the token
    look-up met the dead connection and answered 500, and the connection stayed broken for
    the next scans of that thread (the fast path bypasses Django's request signals)."""
    import psycopg
    from django.conf import settings as django_settings

    from checkin.devices import device_cache
    from tests.support.checkin import SCAN_URL, WsgiClient

    door_list = make_list(event)
    _, token = make_device(event, [door_list])
    door = Door(token, door_list, WsgiClient())
    assert door.scan(services.ticket_code(register(email="a@example.org")))["status"] == "ok"
    code = services.ticket_code(register(email="b@example.org"))
    device_cache.clear()
    params = django_settings.DATABASES["default"]
    with psycopg.connect(host=params["HOST"], port=params["PORT"] or 5432, user=params["USER"],
                         password=params["PASSWORD"], dbname=params["NAME"],
                         autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])

    body = {"code": code, "list": door_list.pk, "nonce": "after-drop"}
    first = door.post(SCAN_URL, body)
    assert first.status_code == 503 and first.json()["error"] == "unavailable"
    second = door.post(SCAN_URL, body)
    assert second.status_code == 200 and second.json()["status"] == "ok"
    assert ScanLog.objects.filter(nonce="after-drop").count() == 1


def test_the_scan_statement_is_prepared_once_per_connection(event, register):
    """Planning the statement costs several times executing it: it must be prepared."""
    from tests.support.checkin import WsgiClient

    door_list = make_list(event)
    _, token = make_device(event, [door_list])
    door = Door(token, door_list, WsgiClient())
    with connection.cursor() as cursor:  # statistics of empty tables, as before an event
        cursor.execute("VACUUM ANALYZE checkin_presence, checkin_scanlog")
    for index in range(3):
        door.scan(services.ticket_code(register(email=f"p{index}@example.org")))
    with connection.cursor() as cursor:
        cursor.execute("SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                       "WHERE statement LIKE 'WITH p AS (%%' AND NOT from_sql")
        [(generic, custom)] = cursor.fetchall()
        assert (generic, custom) == (3, 0)  # planned once, never re-planned per scan
        # ...and planned for a big event although these tables were nearly empty then:
        # every lookup of the presence and of the log is by index, never a sequential scan.
        cursor.execute("SELECT name FROM pg_prepared_statements "
                       "WHERE statement LIKE 'WITH p AS (%%' AND NOT from_sql")
        name = cursor.fetchone()[0]
        cursor.execute(
            f'EXPLAIN EXECUTE "{name}"'
            "('n', 1, NULL, 1, 1, 1, NULL, 1, NULL, 'entry', false, false, now(), now(), "
            "'scan', true, NULL, NULL)"  # $17 request key, $18 untrusted claim: none
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan on checkin_presence" not in plan
    assert "Seq Scan on checkin_scanlog" not in plan
