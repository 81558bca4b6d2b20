"""Pagination of the API's lists: ``?limit=`` and ``?offset=``, both bounded.

DRF passes them to the database as they come: a ``limit`` or ``offset`` beyond a 64-bit
integer made PostgreSQL fail ("bigint out of range", a 500) and SQLite refuse the query.
``limit`` is capped at ``max_limit`` (the CSV export serves whole lists) and ``offset`` at a
value past any table, which simply gives an empty page.
"""

from __future__ import annotations

from rest_framework import pagination

MAX_OFFSET = 2**31 - 1


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    max_limit = 1000

    def get_offset(self, request) -> int:
        return min(super().get_offset(request), MAX_OFFSET)
