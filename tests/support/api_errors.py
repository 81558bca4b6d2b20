"""Assertions on the API's one JSON error shape (see core/api/exceptions.py)."""

from __future__ import annotations


def assert_error(response, status: int, *, field: str | None = None,
                 code: str | None = None) -> dict:
    """The response is a JSON ``status`` error naming ``field`` (and ``code``); return it."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) >= {"error", "detail", "fields"}, body
    assert isinstance(body["error"], str) and body["error"], body
    assert isinstance(body["detail"], str) and body["detail"], body
    assert isinstance(body["fields"], dict), body
    if field is not None:
        assert field in body["fields"], body
        assert all(isinstance(m, str) and m for m in body["fields"][field]), body
    if code is not None:
        assert body["error"] == code, body
    return body
