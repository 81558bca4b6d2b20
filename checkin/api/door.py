"""The door devices' API: scan, undo, manual check-in, offline upload, snapshot, changes.

Plain Django views rather than DRF: the scan endpoint is the hot path and DRF's request
wrapping, content negotiation, authentication and throttling classes would cost more than
the scan itself. Errors keep the one JSON shape (``core.errors.error_body``, ``fields`` always
present): ``{"error": code, "detail": message, "fields": {field: [message]}}``.

Answers: 405 (method), then 401 (device token), then 400 (body), then 403 (list not allowed
for this device), then 200 for every well-formed scan, accepted or rejected.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from checkin import scanning, selectors, services
from checkin.api import fields
from checkin.api.fields import (
    MAX_BODY,
    MAX_CODE,
    MAX_UPLOAD_BODY,
    read_claim,
    read_direction,
    read_local_ok,
    request_key,
)
from checkin.devices import DeviceInfo, authenticate
from checkin.models import Source
from checkin.scanning import flood, nonces
from core import metrics
from core.errors import ServiceError, error_body, invalid_body

_SEPARATORS = (",", ":")


def _json(data: dict, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(
        json.dumps(data, separators=_SEPARATORS), content_type="application/json", status=status,
        headers=headers,
    )


def error(status: int, code: str, detail: str, fields: dict | None = None) -> HttpResponse:
    return _json(error_body(code, detail, fields), status)


def invalid(fields: dict[str, list[str]]) -> HttpResponse:
    return _json(invalid_body(fields), 400)


def _not_allowed(request: HttpRequest, allowed: str) -> HttpResponse:
    response = error(405, "method_not_allowed", f'Method "{request.method}" not allowed.')
    response["Allow"] = allowed
    return response


UNAUTHENTICATED = error_body(
    "not_authenticated", "A valid device token is required: 'Authorization: Token …'."
)
UNAUTHENTICATED_HEADERS = {"WWW-Authenticate": "Token"}
UNAVAILABLE = error_body("unavailable", "The database is unavailable; retry with the same nonce.")
UNAVAILABLE_HEADERS = {"Retry-After": "1"}
NONCE_REUSED = error_body(
    "nonce_reused", nonces.NonceReused.message,
    {"nonce": ["Already used by this device for a different scan."]},
)
RATE_LIMITED = error_body(
    "rate_limited",
    "Too many invalid codes from this device: this one was refused without being logged. "
    "Valid tickets are never limited; check the scanner (see Retry-After).",
)


def _unauthenticated() -> HttpResponse:
    return _json(UNAUTHENTICATED, 401, UNAUTHENTICATED_HEADERS)


def forbidden_list_body(list_id: int) -> dict:
    return error_body(
        "permission_denied", f"This device may not use check-in list {list_id}.",
        {"list": ["Not one of this device's check-in lists."]},
    )


def _forbidden_list(list_id: int) -> HttpResponse:
    return _json(forbidden_list_body(list_id), 403)


def _unavailable() -> HttpResponse:
    return _json(UNAVAILABLE, 503, UNAVAILABLE_HEADERS)


def parse_json(body: bytes, limit: int = MAX_BODY) -> tuple[object, dict | None]:
    """(data, None) or (None, a 400 body naming ``body``)."""
    data, problem = fields.parse_json(body, limit)
    return data, (None if problem is None else invalid_body(problem))


def _read_json(request: HttpRequest, limit: int = MAX_BODY) -> tuple[object, HttpResponse | None]:
    data, problem = parse_json(request.read(limit + 1), limit)
    return data, (None if problem is None else _json(problem, 400))


def _read_object(request: HttpRequest) -> tuple[dict, HttpResponse | None]:
    """A JSON object body, or the 400 to answer (malformed, oversized or not an object)."""
    data, problem = _read_json(request)
    if problem is None and not isinstance(data, dict):
        problem = invalid({"body": ["A JSON object is required."]})
    return data, problem


def _device_view(methods: str, handler: Callable[[HttpRequest, DeviceInfo], HttpResponse]):
    """405 for other methods, 401 without a valid device token, 503 if the DB is down."""

    allowed = frozenset(methods.split(", "))

    @csrf_exempt
    def view(request: HttpRequest) -> HttpResponse:
        if request.method not in allowed:
            return _not_allowed(request, methods)
        try:
            device = authenticate(request.META.get("HTTP_AUTHORIZATION"))
            if device is None:
                return _unauthenticated()
            return handler(request, device)
        except (OperationalError, scanning.ScanUnavailable):
            return _unavailable()

    view.__name__ = handler.__name__
    view.__doc__ = handler.__doc__
    return view


# --- connectivity -----------------------------------------------------------------------------


_PONG = b'{"status":"ok"}'


@csrf_exempt
def ping(request: HttpRequest) -> HttpResponse:
    """GET/HEAD: constant JSON, no auth, no database. The door page probes it to tell "online"
    from "offline", and the benchmark uses it as its floor (the cheapest Django view)."""
    if request.method not in ("GET", "HEAD", "POST"):
        return _not_allowed(request, "GET, HEAD, POST")
    response = HttpResponse(_PONG, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


# --- the scan endpoint ------------------------------------------------------------------------


def scan_payload(authorization: str | None, body: bytes) -> tuple[int, dict, dict[str, str]]:
    """POST /api/v1/checkin/scan/ without the web framework: (status, JSON body, headers).

    Shared by the Django view below and by ``checkin.fastpath``, which serves this one URL
    straight from WSGI (see there). See docs/checkin.md for the contract.

    A lost database connection anywhere (also in the device look-up on a cache miss) is a
    503 "retry with the same nonce", never a 500; the connection is closed so that the next
    request reconnects — the fast path bypasses Django's request signals, which would
    otherwise discard an unusable connection, and every later scan on that thread failed.
    """
    started = time.perf_counter()
    try:
        status, data, headers = _scan_payload(authorization, body)
    except (OperationalError, InterfaceError, scanning.ScanUnavailable):
        connection.close()
        status, data, headers = 503, UNAVAILABLE, UNAVAILABLE_HEADERS
    # The operators' metrics (core/metrics.py): an answer's status and reason, or the
    # refusal's error code.
    metrics.record_scan(status, data.get("status") or data.get("error") or "",
                        data.get("reason") or "", time.perf_counter() - started)
    return status, data, headers


def _scan_payload(authorization: str | None, body: bytes) -> tuple[int, dict, dict[str, str]]:
    device = authenticate(authorization)
    if device is None:
        return 401, UNAUTHENTICATED, UNAUTHENTICATED_HEADERS
    data, problem = parse_json(body)
    if problem is not None:
        return 400, problem, {}
    if not isinstance(data, dict):
        return 400, invalid_body({"body": ["A JSON object is required."]}), {}
    errors: dict[str, list[str]] = {}
    code = fields.text(data, "code", errors, MAX_CODE, required=True, strip=True,
                       code=True)
    list_id = fields.positive_int(data, "list", errors)
    direction = read_direction(data, errors)
    nonce = fields.nonce(data, errors)
    scanned_at = read_claim(data, "scanned_at", errors)
    local_ok = read_local_ok(data, errors)
    if errors:
        return 400, invalid_body(errors), {}
    rule = device.lists.get(list_id)
    if rule is None:
        return 403, forbidden_list_body(list_id), {}
    try:
        answer = scanning.scan_code(
            code,
            scanning.ScanInput(
                rule=rule, device_id=device.id, direction=direction, nonce=nonce,
                scanned_at=scanned_at, local_ok=local_ok,
                source=Source.SCAN if scanned_at is None else Source.OFFLINE,
                limit_invalid=True, device_name=device.name,
                request_key=request_key(nonce, "code", code, list_id, direction),
            ),
        )
    except scanning.TooManyInvalid as exc:
        return 429, RATE_LIMITED, {"Retry-After": flood.retry_after(exc.wait)}
    except nonces.NonceReused:
        return 409, NONCE_REUSED, {}
    return 200, answer.as_json(), {}


@csrf_exempt
def scan(request: HttpRequest) -> HttpResponse:
    """POST /api/v1/checkin/scan/ — see docs/checkin.md for the contract."""
    if request.method != "POST":
        return _not_allowed(request, "POST")
    status, body, headers = scan_payload(
        request.META.get("HTTP_AUTHORIZATION"), request.read(MAX_BODY + 1)
    )
    return _json(body, status, headers)


# --- manual check-in and undo -----------------------------------------------------------------


def _manual(request: HttpRequest, device: DeviceInfo) -> HttpResponse:
    """POST {"ticket": id, "list": id, "type"?, "nonce"?}: check in an attendee found by search."""
    data, problem = _read_object(request)
    if problem is not None:
        return problem
    errors: dict[str, list[str]] = {}
    ticket_id = fields.positive_int(data, "ticket", errors)
    list_id = fields.positive_int(data, "list", errors)
    direction = read_direction(data, errors)
    nonce = fields.nonce(data, errors)
    if errors:
        return invalid(errors)
    rule = device.lists.get(list_id)
    if rule is None:
        return _forbidden_list(list_id)
    try:
        answer = services.manual_check_in(
            rule, ticket_id, device_id=device.id, direction=direction, nonce=nonce,
            request_key=request_key(nonce, "ticket", ticket_id, list_id, direction),
        )
    except nonces.NonceReused:
        return _json(NONCE_REUSED, 409)
    return _json(answer.as_json())


manual = _device_view("POST", _manual)


def _annul(request: HttpRequest, device: DeviceInfo) -> HttpResponse:
    """POST {"nonce": "<nonce of the scan to undo>"}: undo this device's scan (≤ 15 min old)."""
    data, problem = _read_object(request)
    if problem is not None:
        return problem
    errors: dict[str, list[str]] = {}
    nonce = fields.nonce(data, errors, required=True)
    if errors:
        return invalid(errors)
    try:
        row = services.annul(device, nonce)
    except ServiceError as exc:
        status = 404 if exc.code == "not_found" else 400
        return error(status, exc.code, exc.message, {exc.field: [exc.message]})
    return _json(
        {
            "status": "annulled",
            "nonce": nonce,
            "ticket": row.ticket_id,
            "annulled_at": scanning.iso(row.received_at),
        }
    )


annul = _device_view("POST", _annul)


# --- offline: upload, snapshot, changes -------------------------------------------------------


def _sync(request: HttpRequest, device: DeviceInfo) -> HttpResponse:
    """POST {"scans": [{code|ticket, list, type?, nonce, scanned_at, local_status?}, ...]}."""
    data, problem = _read_json(request, MAX_UPLOAD_BODY)
    if problem is not None:
        return problem
    items = data.get("scans") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return invalid({"scans": ["A list of scans is required."]})
    if len(items) > services.MAX_UPLOAD:
        return invalid({"scans": [f"At most {services.MAX_UPLOAD} scans per upload."]})
    errors: dict[str, list[str]] = {}
    scans, forbidden = fields.offline_scans(items, device.lists, errors)
    if forbidden is not None:
        return _forbidden_list(forbidden)
    if errors:
        return invalid(errors)
    results, not_logged = services.upload_offline(device, scans)
    services.touch_device(device.id)
    answer: dict = {"results": results}
    if not_logged:
        # The flood allowance (checkin/scanning/flood.py) applies to uploads too: the excess invalid
        # codes were answered "invalid" but counted, not logged one by one.
        answer["invalid_not_logged"] = not_logged
    return _json(answer)


sync = _device_view("POST", _sync)


def _snapshot(request: HttpRequest, device: DeviceInfo) -> HttpResponse:
    """GET: the device's lists, tickets, public keys and presence, for offline use."""
    services.touch_device(device.id)
    return _json(selectors.snapshot(device))


snapshot = _device_view("GET", _snapshot)


def _changes(request: HttpRequest, device: DeviceInfo) -> HttpResponse:
    """GET ?since=<cursor>: scans (by any device) and ticket changes since the cursor."""
    errors: dict[str, list[str]] = {}
    since = fields.instant(request.GET, "since", errors, required=True)
    if errors:
        return invalid(errors)
    return _json(selectors.changes(device, since))


changes = _device_view("GET", _changes)


def _search(request: HttpRequest, device: DeviceInfo) -> HttpResponse:
    """GET ?q=<name, organisation or reference>&list=<id>: attendees for manual check-in."""
    errors: dict[str, list[str]] = {}
    list_id = fields.query_int(request.GET, "list", errors)
    query = fields.query_text(request.GET, "q", errors, fields.MAX_QUERY)
    if errors:
        return invalid(errors)
    if list_id is not None and list_id not in device.lists:
        return _forbidden_list(list_id)
    return _json({"results": selectors.search_tickets(device, query, list_id)})


search = _device_view("GET", _search)


def _whoami(request: HttpRequest, device: DeviceInfo) -> HttpResponse:
    """GET: this device, its event and its lists (the door page calls it after pairing)."""
    return _json(
        {
            "device": {"id": device.id, "name": device.name, "gate": device.gate},
            "event": selectors.event_json(device.event_id),
            "lists": [selectors.list_json(rule) for rule in device.lists.values()],
        }
    )


whoami = _device_view("GET", _whoami)

