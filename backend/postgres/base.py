"""Django's PostgreSQL backend, with two changes for the hot paths (scans, registrations).

**The health check is skipped for a busy connection.** ``CONN_HEALTH_CHECKS`` makes Django send
``SELECT 1`` before the first query of every request that reuses a persistent connection, so
that a connection the server dropped (a restart, an idle timeout) is replaced instead of failing
the request. Under load that is one more round trip per request for a connection that answered
a moment ago: measured, 7% of a web thread's time during a registration rush
(docs/benchmarks.md, "Registration"). Here a connection that ran a query less than
``HEALTH_CHECK_AFTER_IDLE_S`` ago is trusted as it is; an idle one is still checked. A server
that dies within that second fails the request that uses the connection, as it would had it
died during the request, and Django then closes the connection (``errors_occurred``), so the
next request opens a new one.

**Hot statements are prepared once per connection** (``fetch_prepared``, used through
``core.statements``; the scan statement too, ``checkin.scanning.postgres``). Django binds
parameters on the client and sends every query as new text, which the server parses and plans
each time: planning is most of a small statement's database CPU (the scan statement: 1.3 ms to
plan, 0.3 ms to run; a registration's statements ~0.6 of ~2.5 ms). With
``VARCO_DB_PREPARED`` (off by default behind a pooler in transaction mode, which cannot keep
them before PgBouncer 1.21) each connection is opened able to prepare statements, but only
those asked for by ``prepare=True``: Django's own queries stay as they are.

**A pooler that loses them stops them, not the requests.** Behind PgBouncer in transaction
mode (before 1.21, or without ``max_prepared_statements``) each transaction may run on another
server connection, where the statement was never prepared ("prepared statement does not exist")
or a neighbour's has its name ("already exists"). ``DB_TRANSACTION_POOLING`` turns preparing
off; a deployment that forgot it would otherwise fail every scan and registration. On the first
such error (``core.statements.LOST_PREPARED``) the process stops preparing (``stop_preparing``:
this connection and every one opened after), logs once what to set, and the statement is run
again unprepared when it ran on its own (autocommit: the failed try changed nothing); inside
a transaction the error stands for that one request. tests/core/test_prepared_lost.py.

Selected by backend/settings.py for every ``postgres://`` DATABASE_URL.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import psycopg
from django.db import ProgrammingError
from django.db.backends.postgresql import base

from core.statements import LOST_PREPARED, preparing, stop_preparing

HEALTH_CHECK_AFTER_IDLE_S = 1.0
# psycopg prepares a statement only when asked (prepare=True) once the connection's threshold
# is not None; Django opens connections with None. Django's own queries are bound client side,
# which psycopg never prepares, so a threshold never reached enables exactly our explicit ones.
EXPLICIT_ONLY = 2**31
# The statements run by ``fetch_prepared``, encoded once (a handful of fixed texts).
_ENCODED: dict[str, bytes] = {}


class DatabaseWrapper(base.DatabaseWrapper):
    _last_used = float("-inf")

    def init_connection_state(self) -> None:
        super().init_connection_state()
        if self.connection is None or not preparing():
            return
        self.connection.prepare_threshold = EXPLICIT_ONLY
        # Always the generic plan: PostgreSQL's default may settle on planning each execution
        # again (custom plans), which is the cost preparing saves (the scan statement: 1.3 ms
        # of database CPU per scan instead of 0.3). Only prepared statements are affected.
        self.connection.execute("SET plan_cache_mode = force_generic_plan")
        if not self.get_autocommit():
            self.connection.commit()

    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and not self.health_check_done
            and time.monotonic() - self._last_used < HEALTH_CHECK_AFTER_IDLE_S
        ):
            self.health_check_done = True
        super().close_if_health_check_failed()

    def _cursor(self, name=None):
        cursor = super()._cursor(name)
        self._last_used = time.monotonic()
        return cursor

    def fetch_prepared(self, sql: str, params: Sequence) -> tuple | None:
        """The first row of ``sql`` (``%s`` placeholders), its parameters bound by the server and
        the statement prepared once per connection (with ``VARCO_DB_PREPARED``); in the current
        transaction, or autocommitted outside one, as with ``cursor()``. Errors come out as
        Django's (``IntegrityError``, ``DataError``…)."""
        # The bookkeeping ``cursor()`` does: health check, connection, thread, transaction.
        self.close_if_health_check_failed()
        self.ensure_connection()
        self.validate_thread_sharing()
        self.validate_no_broken_transaction()
        raw = self.connection
        # The same bytes object every time: psycopg then finds its converted query and its
        # prepared statement by a hash already computed, instead of encoding and hashing a
        # kilobyte of SQL at each call.
        query = _ENCODED.get(sql)
        if query is None:
            query = _ENCODED.setdefault(sql, sql.encode())
        try:
            row = self._fetch(raw, query, params)
        except ProgrammingError as exc:
            if not isinstance(exc.__cause__, LOST_PREPARED):
                raise
            if not stop_preparing(raw, exc.__cause__):
                raise  # the transaction is aborted: this request fails, the next ones do not
            row = self._fetch(raw, query, params)  # now unprepared
        self._last_used = time.monotonic()
        return row

    def _fetch(self, raw: psycopg.Connection, query: bytes, params: Sequence) -> tuple | None:
        with self.wrap_database_errors, psycopg.Cursor(raw) as cursor:
            cursor.execute(query, params, prepare=raw.prepare_threshold is not None)
            return cursor.fetchone()
