"""Django's PostgreSQL backend, with the connection health check skipped for a busy connection.

``CONN_HEALTH_CHECKS`` makes Django send ``SELECT 1`` before the first query of every request
that reuses a persistent connection, so that a connection the server dropped (a restart, an
idle timeout) is replaced instead of failing the request. Under load that is one more round
trip per request for a connection that answered a moment ago: measured, 7% of a web thread's
time during a registration rush (docs/benchmarks.md, "Registration"). Here a connection that
ran a query less than ``HEALTH_CHECK_AFTER_IDLE_S`` ago is trusted as it is; an idle one is
still checked. A server that dies within that second fails the request that uses the
connection, as it would had it died during the request, and Django then closes the connection
(``errors_occurred``), so the next request opens a new one.

Selected by backend/settings.py for every ``postgres://`` DATABASE_URL.
"""

from __future__ import annotations

import time

from django.db.backends.postgresql import base

HEALTH_CHECK_AFTER_IDLE_S = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
    _last_used = float("-inf")

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
