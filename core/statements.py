"""Hot statements run once per request: prepared once per connection where the backend can.

One owner for the choice between the PostgreSQL backend's prepared statements
(``backend.postgres``: ``fetch_prepared``, on with ``VARCO_DB_PREPARED``) and Django's cursor
(SQLite, or a backend without them): callers write their SQL once, with ``%s`` placeholders,
and get the first row back either way, with Django's database errors.

Also the owner of "does this process still prepare": a pooler in transaction mode that loses
prepared statements turns them off for the process (``stop_preparing``; why and how, in
backend/postgres/base.py), for the backend's ``fetch_prepared`` and the scan statement alike.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, Model

log = logging.getLogger(__name__)

# What a pooler that does not keep prepared statements answers to one (see the module's text).
LOST_PREPARED = (psycopg.errors.InvalidSqlStatementName,
                 psycopg.errors.DuplicatePreparedStatement)
# Process-wide: False once a pooler lost a prepared statement (stop_preparing).
_preparing = {"on": True}


def stop_preparing(raw: psycopg.Connection, exc: BaseException) -> bool:
    """After ``LOST_PREPARED`` on ``raw``: no statement is prepared any more in this process.
    Returns whether the failed statement may simply run again: on its own (autocommit) the
    failed try changed nothing; inside a transaction, that transaction is aborted."""
    raw.prepare_threshold = None  # psycopg then prepares nothing, prepare=True included
    if _preparing["on"]:
        _preparing["on"] = False
        log.error("The database connection lost a prepared statement (%s): a pooler in "
                  "transaction mode? Statements are no longer prepared in this process; set "
                  "DB_TRANSACTION_POOLING=true (or VARCO_DB_PREPARED=false) for this "
                  "deployment.", exc)
    return raw.autocommit


def preparing() -> bool:
    """Whether this process still prepares statements (settings and what the pooler allows)."""
    return settings.VARCO_DB_PREPARED and _preparing["on"]


def resume_preparing() -> None:
    """Forget a pooler's refusal (tests, after a simulated one)."""
    _preparing["on"] = True


def field_values(obj: Model, fields: list[Field]) -> list:
    """Each field's value of ``obj`` as ``save()`` sends it for an INSERT (``pre_save``, then
    the database's preparation), for a statement made once per process."""
    # The thread's connection itself, not Django's ``connection`` proxy: each field's
    # preparation reads it several times, a thread-local look-up each through the proxy
    # (~5% of a registration's web CPU, profiled; docs/benchmarks.md).
    db = connections[DEFAULT_DB_ALIAS]
    return [f.get_db_prep_save(f.pre_save(obj, True), db) for f in fields]


def fetch_one(sql: str, params: Sequence) -> tuple | None:
    """The first row of ``sql`` run with ``params`` on the default connection."""
    fetch_prepared = getattr(connection, "fetch_prepared", None)  # backend.postgres only
    if fetch_prepared is not None:
        return fetch_prepared(sql, params)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()
