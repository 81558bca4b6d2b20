"""A pooler that loses prepared statements (PgBouncer in transaction mode, deployed without
DB_TRANSACTION_POOLING) turns preparing off for the process; scans and registrations go on
(core.statements, backend/postgres/base.py).

The pooler is simulated faithfully: the session's prepared statements dropped on the server
behind psycopg's back (a ``DEALLOCATE ALL`` psycopg does not see, run from PL/pgSQL) is what a
server connection that never saw them looks like to the client ("prepared statement does not
exist"). Without the fallback each of these requests is a 500."""

from __future__ import annotations

import logging

import pytest
from django.db import connection

from core import statements
from tests.support.checkin import Door, make_device, make_list
from tickets import services

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def preparing_again():
    """Each test starts preparing, on a fresh connection, and leaves the process so."""
    statements.resume_preparing()
    connection.close()
    yield
    statements.resume_preparing()
    connection.close()


def lose_prepared_statements() -> None:
    connection.connection.execute("DO $$ BEGIN EXECUTE 'DEALLOCATE ALL'; END $$")


def register(event, email):
    return services.register(event, services.Registration(name="Giulia Rossi", email=email),
                             public=True)


def test_a_registration_after_the_pooler_lost_its_statement(event, ticket_type, caplog):
    register(event, "a@example.org")
    assert connection.connection.prepare_threshold is not None  # preparing, as configured
    assert connection.connection.execute("SELECT count(*) FROM pg_prepared_statements"
                                         ).fetchone()[0] > 0
    lose_prepared_statements()
    with caplog.at_level(logging.ERROR, logger="core.statements"):
        ticket = register(event, "b@example.org")  # not a 500: run again, unprepared
    assert ticket.pk and ticket.attendee.email == "b@example.org"
    [said] = [r for r in caplog.records if r.name == "core.statements"]
    assert "DB_TRANSACTION_POOLING" in said.getMessage()
    assert connection.connection.prepare_threshold is None
    # the process stays so: a new connection does not prepare, and says nothing more
    connection.close()
    caplog.clear()
    register(event, "c@example.org")
    assert connection.connection.prepare_threshold is None
    assert connection.connection.execute("SELECT count(*) FROM pg_prepared_statements"
                                         ).fetchone()[0] == 0
    assert not [r for r in caplog.records if r.name == "core.statements"]
    assert event.tickets.count() == 3


def test_a_scan_after_the_pooler_lost_its_statement(event, ticket_type, register):
    checkin_list = make_list(event)
    _, token = make_device(event, lists=[checkin_list])
    door = Door(token, checkin_list)
    first, second = register(email="a@example.org"), register(email="b@example.org")
    assert door.scan(services.ticket_code(first))["status"] == "ok"
    lose_prepared_statements()
    answer = door.scan(services.ticket_code(second))  # 200, not a 500
    assert (answer["status"], answer["attendee"]["name"]) == ("ok", "Giulia Rossi")
    assert not statements.preparing()
    assert door.scan(services.ticket_code(second))["reason"] == "already_checked_in"


def test_inside_a_transaction_the_lost_statement_fails_that_request_only():
    from django.db import ProgrammingError, transaction

    sql = "SELECT %s::int + 1"
    assert statements.fetch_one(sql, [1]) == (2,)  # prepared
    with pytest.raises(ProgrammingError), transaction.atomic():
        lose_prepared_statements()
        statements.fetch_one(sql, [1])  # not run again: the transaction is aborted
    assert not statements.preparing()
    assert statements.fetch_one(sql, [2]) == (3,)  # the next one runs, unprepared
