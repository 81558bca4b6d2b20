"""The door devices' API in the OpenAPI schema (/api/schema/).

The door endpoints (checkin/api/door.py) are plain Django views, kept off DRF for speed, so
drf-spectacular cannot see them. ``add_door_api`` is a postprocessing hook
(``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``) that adds their paths, request bodies,
answers and the device ``Token`` security scheme, written from the contract in
docs/checkin.md. The request schemas state the views' checks (types, bounds, enums,
required fields) so that schemathesis generates both bodies the views accept and bodies they
must refuse; ``tests/checkin/test_edges_door_schema.py`` checks that every door URL is here and that
bodies valid by these schemas are accepted. Keep them in step with checkin/api/fields.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from checkin.api import fields
from checkin.models import Direction, Reason
from tickets.models import Ticket

Schema = dict[str, Any]

PREFIX = "/api/v1/checkin"
SECURITY_SCHEME = "deviceToken"
_REF = "#/components/schemas/"
MAX_ID = 2**63 - 1
STATUSES = ["ok", "rejected"]

_ID: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_TIME: Schema = {"type": "string", "format": "date-time", "nullable": True}
_DIRECTION: Schema = {
    "type": "string", "enum": [Direction.ENTRY.value, Direction.EXIT.value], "nullable": True,
    "description": '"entry" (the default when absent or null) or "exit"',
}
_NONCE: Schema = {
    "type": "string", "minLength": 1, "maxLength": fields.MAX_NONCE, "pattern": "^[!-~]+$",
    "description": "the client's id for this scan (a UUID: printable ASCII, no spaces); a "
    "retry with the same nonce returns the first answer and records nothing new",
}
# Ticket codes are printable ASCII; the view also takes other text without control, format,
# private-use or unassigned characters (checkin/api/fields.py), and refuses the rest.
_CODE: Schema = {
    "type": "string", "minLength": 1, "maxLength": fields.MAX_CODE,
    "pattern": "^[ -~]*[!-~][ -~]*$",
    "description": "the QR text (surrounding whitespace is ignored)",
}
_LOCAL_STATUS: Schema = {
    "type": "string", "enum": ["ok", "rejected"], "nullable": True,
    "description": "offline scans: whether the device let the person in (default ok)",
}


def _ref(name: str) -> Schema:
    return {"$ref": _REF + name}


def _nullable(schema: Schema) -> Schema:
    return {**schema, "nullable": True}


def _object(properties: dict[str, Schema], required: Sequence[str] = (), **extra) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = list(required)
    return schema


COMPONENTS: dict[str, Schema] = {
    "DoorError": _object(
        {
            "error": {"type": "string", "description": "machine-readable code, e.g. `invalid`"},
            "detail": {"type": "string"},
            "fields": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
                "description": "each input at fault (a field, `body`, or `scans[i].field`); "
                "empty when no single input is at fault",
            },
        },
        ["error", "detail", "fields"],
    ),
    "DoorScanRequest": _object(
        {
            "code": _CODE, "list": _ID, "type": _DIRECTION, "nonce": _nullable(_NONCE),
            "scanned_at": {**_TIME, "description": "when an offline scan was made (no offset: "
                           "UTC); makes the scan an offline one"},
            "local_status": _LOCAL_STATUS,
        },
        ["code", "list"],
    ),
    "DoorAttendee": _object(
        {"name": {"type": "string"}, "organisation": {"type": "string"},
         "ticket_type": {"type": "string"}},
        ["name", "organisation", "ticket_type"],
    ),
    "DoorScanAnswer": _object(
        {
            "status": {"type": "string", "enum": STATUSES},
            "reason": {"type": "string", "enum": [r.value for r in Reason], "nullable": True},
            "attendee": {**_ref("DoorAttendee"), "nullable": True},
            "checked_in_at": _TIME,
            "first_checked_in_at": _TIME,
        },
        ["status", "reason", "attendee", "checked_in_at", "first_checked_in_at"],
    ),
    "DoorManualRequest": _object(
        {"ticket": _ID, "list": _ID, "type": _DIRECTION, "nonce": _nullable(_NONCE)},
        ["ticket", "list"],
    ),
    "DoorAnnulRequest": _object({"nonce": _NONCE}, ["nonce"]),
    "DoorAnnulAnswer": _object(
        {
            "status": {"type": "string", "enum": ["annulled"]},
            "nonce": {"type": "string"},
            "ticket": {"type": "integer", "nullable": True},
            "annulled_at": {"type": "string", "format": "date-time"},
        },
        ["status", "nonce", "ticket", "annulled_at"],
    ),
    "DoorOfflineScan": _object(
        {
            "code": _CODE,
            "ticket": {**_ID, "description": "instead of code (a manual check-in)"},
            "list": _ID, "type": _DIRECTION, "nonce": _NONCE,
            "scanned_at": {"type": "string", "format": "date-time"},
            "local_status": _LOCAL_STATUS,
        },
        ["list", "nonce", "scanned_at"],
        anyOf=[{"required": ["code"]}, {"required": ["ticket"]}],
        description="`code` or `ticket` is required",
    ),
    "DoorSyncRequest": _object(
        {"scans": {"type": "array", "items": _ref("DoorOfflineScan"),
                   "maxItems": 500}},
        ["scans"],
    ),
    "DoorSyncAnswer": _object(
        {
            # One item per uploaded scan: its answer, or (a nonce this device already used
            # for a different scan) the error in its place; the other scans are recorded.
            "results": {"type": "array", "items": {"oneOf": [
                {"allOf": [
                    _ref("DoorScanAnswer"),
                    _object({"nonce": {"type": "string"}, "conflict": {"type": "boolean"}},
                            ["nonce", "conflict"]),
                ]},
                {"allOf": [
                    _ref("DoorError"),
                    _object({"nonce": {"type": "string"}}, ["nonce"]),
                ]},
            ]}},
            "invalid_not_logged": {
                "type": "integer", "minimum": 0,
                "description": "invalid codes past the device's upload allowance: answered "
                "`invalid`, counted, not logged row by row",
            },
        },
        ["results"],
    ),
    "DoorDevice": _object(
        {"id": {"type": "integer"}, "name": {"type": "string"}, "gate": {"type": "string"}},
        ["id", "name", "gate"],
    ),
    "DoorEvent": _object(
        {
            "id": {"type": "integer"}, "name": {"type": "string"}, "venue": {"type": "string"},
            "timezone": {"type": "string"},
            "languages": {"type": "array", "items": {"type": "string"}},
            "start": _TIME, "end": _TIME,
        },
        ["id", "name", "venue", "timezone", "languages", "start", "end"],
    ),
    "DoorList": _object(
        {
            "id": {"type": "integer"}, "name": {"type": "string"},
            "ticket_types": {"type": "array", "items": {"type": "integer"}, "nullable": True,
                             "description": "admitted ticket types; null: all"},
            "allow_reentry": {"type": "boolean"}, "allow_exit": {"type": "boolean"},
            "opens_at": _TIME, "closes_at": _TIME,
        },
        ["id", "name", "ticket_types", "allow_reentry", "allow_exit", "opens_at", "closes_at"],
    ),
    "DoorWhoami": _object(
        {"device": _ref("DoorDevice"), "event": _ref("DoorEvent"),
         "lists": {"type": "array", "items": _ref("DoorList")}},
        ["device", "event", "lists"],
    ),
    "DoorSnapshot": _object(
        {
            "generated_at": {"type": "string", "format": "date-time"},
            "cursor": {"type": "string", "format": "date-time",
                       "description": "pass to the changes feed as `since`"},
            "event": _ref("DoorEvent"), "device": _ref("DoorDevice"),
            "lists": {"type": "array", "items": _ref("DoorList")},
            "keys": {"type": "array", "items": _object(
                {"id": {"type": "integer"}, "event": {"type": "integer"},
                 "public_key": {"type": "string"}}, ["id", "event", "public_key"])},
            "ticket_types": {"type": "object", "additionalProperties": {"type": "string"}},
            "ticket_type_names": {
                "type": "object",
                "additionalProperties": {"type": "object",
                                         "additionalProperties": {"type": "string"}},
                "description": "ticket type id -> {language: name} (translations of "
                               "`ticket_types`)"},
            "ticket_fields": {"type": "array", "items": {"type": "string"}},
            "tickets": {"type": "array", "items": {"type": "array"},
                        "description": "rows in the order of `ticket_fields`"},
            "revoked": {"type": "array", "items": {"type": "array", "items": {
                "type": "integer"}}, "description": "[ticket id, version]"},
            "presence_fields": {"type": "array", "items": {"type": "string"}},
            "presence": {"type": "array", "items": {"type": "array"}},
            "invalid_code_limit": _object(
                {"rate": {"type": "number", "minimum": 0},
                 "burst": {"type": "number", "minimum": 1}},
                ["rate", "burst"],
                description="the device's allowance of invalid codes (per second sustained, "
                "at once; rate 0 = no limit), which the door page applies offline"),
        },
        ["generated_at", "cursor", "event", "device", "lists", "keys", "ticket_types",
         "ticket_type_names", "ticket_fields", "tickets", "revoked", "presence_fields", "presence",
         "invalid_code_limit"],
    ),
    "DoorChanges": _object(
        {
            "cursor": {"type": "string", "format": "date-time"},
            "more": {"type": "boolean"},
            "scans": {"type": "array", "items": _object(
                {
                    "id": {"type": "integer"}, "list": {"type": "integer"},
                    "ticket": {"type": "integer", "nullable": True},
                    "device": {"type": "integer", "nullable": True},
                    "own": {"type": "boolean"}, "type": {"type": "string"},
                    "source": {"type": "string"}, "scanned_at": _TIME,
                    "received_at": {"type": "string", "format": "date-time"},
                    "annuls": {"type": "integer", "nullable": True},
                },
                ["id", "list", "ticket", "device", "own", "type", "source", "scanned_at",
                 "received_at", "annuls"],
            )},
            "presence_fields": {"type": "array", "items": {"type": "string"}},
            "presence": {"type": "array", "items": {"type": "array"}},
            "ticket_fields": {"type": "array", "items": {"type": "string"}},
            "tickets": {"type": "array", "items": {"type": "array"}},
        },
        ["cursor", "more", "scans", "presence_fields", "presence", "ticket_fields", "tickets"],
    ),
    "DoorSearchAnswer": _object(
        {"results": {"type": "array", "items": _object(
            {
                "ticket": {"type": "integer"}, "reference": {"type": "string"},
                "status": {"type": "string", "enum": [s.value for s in Ticket.Status]},
                "name": {"type": "string"}, "organisation": {"type": "string"},
                "ticket_type": {"type": "string"}, "checked_in": {"type": "boolean"},
                "inside": {"type": "boolean"}, "first_checked_in_at": _TIME,
            },
            ["ticket", "reference", "status", "name", "organisation", "ticket_type",
             "checked_in", "inside", "first_checked_in_at"],
        )}},
        ["results"],
    ),
    "DoorPong": _object({"status": {"type": "string", "enum": ["ok"]}}, ["status"]),
}

_REFUSALS = {
    "400": "Invalid input; `fields` names each input at fault (`body` for the body as a whole).",
    "401": "No device token, or an invalid or revoked one.",
    "403": "A check-in list this device may not use (`fields.list`).",
    "404": "No scan of this device with this nonce.",
    "409": "This device already used the nonce for a different request (`nonce_reused`).",
    "413": "The request body is larger than this endpoint accepts.",
    "429": "Too many invalid codes from this device; retry after `Retry-After` seconds.",
    "503": "The database is unavailable; retry (with the same nonce).",
}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(
    operation_id: str, summary: str, answer: str, refusals: list[str], *,
    body: str | None = None, parameters: list[Schema] = (), public: bool = False,
) -> Schema:
    responses = {"200": _json(_ref(answer), "OK")}
    if operation_id in LINKS:
        responses["200"]["links"] = LINKS[operation_id]
    # 400 on every operation: a NUL in any query parameter is refused before the view runs
    # (core.query_params), besides the body checks of the operations that take one.
    codes = set(refusals) | ({"413"} if body else set()) | {"400"}
    if not public:
        codes |= {"401", "503"}
    for code in sorted(codes):
        responses[code] = _json(_ref("DoorError"), _REFUSALS[code])
    operation: Schema = {
        "operationId": operation_id, "summary": summary, "tags": ["checkin-door"],
        "responses": responses,
        "security": [] if public else [{SECURITY_SCHEME: []}],
    }
    if parameters:
        operation["parameters"] = list(parameters)
    if body:
        operation["requestBody"] = {
            "required": True, "content": {"application/json": {"schema": _ref(body)}},
        }
    return operation


def _query(name: str, schema: Schema, description: str, required: bool = False) -> Schema:
    return {"name": name, "in": "query", "required": required, "schema": schema,
            "description": description}


# OpenAPI links: how one answer feeds the next call (documentation for clients, and the
# transitions schemathesis' stateful phase follows: scan then undo it, snapshot then changes).
LINKS: dict[str, dict[str, Schema]] = {
    "checkin_scan": {"AnnulThisScan": {
        "operationId": "checkin_annul", "requestBody": {"nonce": "$request.body#/nonce"},
    }},
    "checkin_sync": {"AnnulTheFirstUpload": {
        "operationId": "checkin_annul",
        "requestBody": {"nonce": "$response.body#/results/0/nonce"},
    }},
    "checkin_snapshot": {"ChangesSinceSnapshot": {
        "operationId": "checkin_changes", "parameters": {"since": "$response.body#/cursor"},
    }},
    "checkin_changes": {"MoreChanges": {
        "operationId": "checkin_changes", "parameters": {"since": "$response.body#/cursor"},
    }},
    "checkin_search": {"CheckInTheFirstResult": {
        "operationId": "checkin_manual",
        "requestBody": {"ticket": "$response.body#/results/0/ticket",
                        "list": "$request.query.list"},
    }},
    "checkin_device": {
        "SearchOnTheFirstList": {
            "operationId": "checkin_search",
            "parameters": {"list": "$response.body#/lists/0/id"},
        },
        # merged into a generated body: a scan on a list this device may use
        "ScanOnTheFirstList": {
            "operationId": "checkin_scan", "requestBody": {"list": "$response.body#/lists/0/id"},
        },
    },
}


def door_paths() -> dict[str, Schema]:
    ping = {
        "operationId": "checkin_ping", "tags": ["checkin-door"], "security": [],
        "summary": "Connectivity probe: constant JSON, no authentication, no database.",
        "responses": {"200": _json(_ref("DoorPong"), "OK")},
    }
    return {
        f"{PREFIX}/scan/": {"post": _operation(
            "checkin_scan", "Scan a ticket's code (see docs/checkin.md for the contract).",
            "DoorScanAnswer", ["403", "409", "429"], body="DoorScanRequest",
        )},
        f"{PREFIX}/annul/": {"post": _operation(
            "checkin_annul", "Undo this device's accepted scan of the last 15 minutes.",
            "DoorAnnulAnswer", ["404"], body="DoorAnnulRequest",
        )},
        f"{PREFIX}/manual/": {"post": _operation(
            "checkin_manual", "Manual check-in of a ticket found by search.",
            "DoorScanAnswer", ["403", "409"], body="DoorManualRequest",
        )},
        f"{PREFIX}/sync/": {"post": _operation(
            "checkin_sync", "Upload scans made offline (at most 500), oldest first.",
            "DoorSyncAnswer", ["403"], body="DoorSyncRequest",
        )},
        f"{PREFIX}/snapshot/": {"get": _operation(
            "checkin_snapshot", "Everything the device needs to scan offline.",
            "DoorSnapshot", [],
        )},
        f"{PREFIX}/changes/": {"get": _operation(
            "checkin_changes", "Scans and ticket changes since a cursor.", "DoorChanges",
            ["400"], parameters=[_query(
                "since", {"type": "string", "format": "date-time"},
                "the `cursor` of the snapshot or of the previous answer", required=True,
            )],
        )},
        f"{PREFIX}/search/": {"get": _operation(
            "checkin_search", "Attendees by name, organisation or ticket reference.",
            "DoorSearchAnswer", ["400", "403"], parameters=[
                _query("q", {"type": "string", "maxLength": fields.MAX_QUERY},
                       "at least 2 characters (fewer: no results)"),
                _query("list", _ID, "a check-in list of this device: presence on it only"),
            ],
        )},
        f"{PREFIX}/device/": {"get": _operation(
            "checkin_device", "This device, its event and its lists.", "DoorWhoami", [],
        )},
        f"{PREFIX}/ping/": {
            method: {**ping, "operationId": f"checkin_ping_{method}"}
            for method in ("get", "head", "post")
        },
    }


def add_door_api(result: Schema, generator, request, public: bool) -> Schema:
    """drf-spectacular postprocessing hook: the door API's paths, components and security."""
    result.setdefault("paths", {}).update(door_paths())
    components = result.setdefault("components", {})
    components.setdefault("schemas", {}).update(COMPONENTS)
    components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
        "type": "apiKey", "in": "header", "name": "Authorization",
        "description": "A door device's token with the prefix `Token`: "
        "`Authorization: Token vd_…` (shown once when the device is created or its token "
        "rotated). Organisers' tokens are not accepted here.",
    }
    tags = result.setdefault("tags", [])
    if not any(tag.get("name") == "checkin-door" for tag in tags):
        tags.append({"name": "checkin-door", "description": "The door devices' API "
                     "(docs/checkin.md)."})
    return result
