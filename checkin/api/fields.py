"""The door API's one parser for what devices send: JSON bodies, text fields, integers, and
the door's own fields (direction, scan time, local verdict, a cursor, an offline upload's items).

Everything a device sends is checked here, once, before any of it reaches the scan, the
invalid-scan batch or the database. A value that fails is named in the 400's ``fields``.

Text is refused, not cleaned, when it holds characters no scanner or person types into that
field: control characters (NUL above all: PostgreSQL refuses it in text, and one such row used
to poison the invalid-scan batch of a web process for good), lone surrogates (JSON's ``\\ud800``
escapes: not encodable, so not storable), private-use and unassigned code points, and — in a
code — invisible format characters (zero-width spaces, bidi overrides, BOM). A nonce is the
client's opaque id (a UUID): printable ASCII only, so that two nonces that look alike are
alike. A search query keeps the format characters real names use (ZWJ/ZWNJ) but not the bidi
controls, which only disguise text.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Container, Mapping

from checkin.models import Direction
from checkin.scanning import clock, nonces
from checkin.services import OfflineScan
from core import instants

MAX_BODY = 64 * 1024
MAX_UPLOAD_BODY = 2 * 1024 * 1024
MAX_CODE = 512
MAX_NONCE = 64
MAX_QUERY = 200  # longer is refused; the search itself uses the first 100
# A JSON integer longer than this is no id of ours (bigint: 19 digits); parsing it costs
# quadratic time past a few thousand digits, and Python refuses more than 4,300.
_MAX_INT_DIGITS = 20

_ASCII_BAD = re.compile(r"[\x00-\x1f\x7f]")
_NONCE = re.compile(r"[\x21-\x7e]+")
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Unicode general categories refused in every text field: controls, surrogates, private use,
# unassigned (noncharacters such as U+FFFF are unassigned too).
_NEVER = frozenset(("Cc", "Cs", "Co", "Cn"))
_NEVER_IN_CODE = _NEVER | {"Cf", "Zl", "Zp"}

NUL_MESSAGE = "Must not contain NUL characters."
CONTROL_MESSAGE = "Must not contain control characters."


class _HugeInt:
    """A JSON integer too long to be an id; refused by ``positive_int`` and ``text`` alike."""

    __slots__ = ()


_HUGE = _HugeInt()


def _parse_int(digits: str) -> int | _HugeInt:
    return int(digits) if len(digits) <= _MAX_INT_DIGITS else _HUGE


def parse_json(body: bytes, limit: int = MAX_BODY) -> tuple[object, dict[str, list[str]] | None]:
    """(data, None) or (None, the ``fields`` of a 400 naming ``body``).

    Deeply nested arrays or objects (a 64 KiB body can nest 32,000 deep) exceed Python's
    recursion limit while decoding: a 400 like any other malformed body, not a 500.
    """
    if len(body) > limit:
        return None, {"body": [f"The body is larger than {limit} bytes."]}
    try:
        return json.loads(body, parse_int=_parse_int), None
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None, {"body": ["The body is not valid JSON (or nests too deeply)."]}


def text_problem(value: str, *, code: bool = False) -> str | None:
    """Why ``value`` is not acceptable text, or None. ``code``: also no format characters."""
    if "\x00" in value:  # the one PostgreSQL cannot store at all
        return NUL_MESSAGE
    if value.isascii():
        return CONTROL_MESSAGE if _ASCII_BAD.search(value) else None
    refused = _NEVER_IN_CODE if code else _NEVER
    for char in value:
        category = unicodedata.category(char)
        if category in refused:
            if category == "Cs":
                return "Must not contain lone surrogates (invalid Unicode)."
            if category == "Cc":
                return CONTROL_MESSAGE
            return "Must not contain invisible, private-use or unassigned characters."
        if char in _BIDI:
            return "Must not contain bidirectional control characters."
    return None


def positive_int(data: Mapping, name: str, errors: dict, required: bool = True) -> int | None:
    value = data.get(name)
    if value is None:
        if required:
            errors[name] = ["This field is required."]
        return None
    if type(value) is not int or not 0 < value < 2**63:
        errors[name] = ["A positive integer is required."]
        return None
    return value


def query_int(params: Mapping, name: str, errors: dict) -> int | None:
    """A positive integer from the query string: ASCII digits only (``int()`` would take
    Arabic-Indic or full-width digits, signs, underscores and surrounding spaces)."""
    raw = params.get(name)
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) == 0 or \
            int(raw) >= 2**63:
        errors[name] = ["A positive integer is required."]
        return None
    return int(raw)


def text(data: Mapping, name: str, errors: dict, max_length: int, required: bool = False,
         strip: bool = False, code: bool = False) -> str | None:
    """A string field: present (if ``required``), not blank, at most ``max_length`` long, and
    free of the characters described in this module's docstring."""
    value = data.get(name)
    if value is None:
        if required:
            errors[name] = ["This field is required."]
        return None
    if not isinstance(value, str):
        errors[name] = ["A string is required."]
        return None
    if strip:
        value = value.strip()
    if not value:
        errors[name] = ["This field may not be blank."]
        return None
    if len(value) > max_length:
        errors[name] = [f"At most {max_length} characters."]
        return None
    problem = text_problem(value, code=code)
    if problem is not None:
        errors[name] = [problem]
        return None
    return value


def nonce(data: Mapping, errors: dict, required: bool = False, name: str = "nonce") -> str | None:
    """The client's id for a request: 1-64 printable ASCII characters (a UUID in practice)."""
    value = data.get(name)
    if value is None:
        if required:
            errors[name] = ["This field is required."]
        return None
    if not isinstance(value, str):
        errors[name] = ["A string is required."]
        return None
    if not value:
        errors[name] = ["This field may not be blank."]
        return None
    if len(value) > MAX_NONCE:
        errors[name] = [f"At most {MAX_NONCE} characters."]
        return None
    if not _NONCE.fullmatch(value):
        errors[name] = ["Only printable ASCII characters, no spaces (a UUID)."]
        return None
    return value


def query_text(params: Mapping, name: str, errors: dict, max_length: int) -> str:
    """A free-text query parameter (a search): "" when absent; bounded and checked."""
    value = params.get(name, "")
    if len(value) > max_length:
        errors[name] = [f"At most {max_length} characters."]
        return ""
    problem = text_problem(value)
    if problem is not None:
        errors[name] = [problem]
        return ""
    return value


# --- the door's own fields (each returns the value or appends to ``errors``) --------------------

_DIRECTIONS = (Direction.ENTRY.value, Direction.EXIT.value)


def read_direction(data: Mapping, errors: dict, name: str = "type") -> str:
    value = data.get(name)
    if value is None:
        return Direction.ENTRY.value
    if value not in _DIRECTIONS:
        errors[name] = ['Must be "entry" or "exit".']
        return Direction.ENTRY.value
    return value


def read_claim(data: Mapping, name: str, errors: dict, required: bool = False
               ) -> clock.Claim | None:
    """A device's scan time: any ISO 8601 date-time is a claim (judged by
    ``checkin.scanning.clock``: one outside the trusted window is flagged, not refused, so a
    wrong clock still admits); a text that is no date-time at all is a 400 naming the field."""
    value = data.get(name)
    if value is None:
        if required:
            errors[name] = ["This field is required."]
        return None
    claim = clock.parse(value)
    if claim is None:
        errors[name] = ["An ISO 8601 date-time is required."]
    return claim


def instant(data: Mapping, name: str, errors: dict, required: bool = False) -> dt.datetime | None:
    """A date-time the server acts on (a cursor): read as a claim, then held to
    ``core.instants`` (a cursor is not judged by a window, it must be a storable time)."""
    claim = read_claim(data, name, errors, required)
    if claim is None:
        return None
    if claim.at is None or not instants.in_range(claim.at):
        errors[name] = [f"The date must be {instants.RANGE_TEXT}."]
        return None
    return claim.at


def read_local_ok(data: Mapping, errors: dict) -> bool:
    """The device's own verdict on an offline scan (``local_status``): True unless "rejected"."""
    value = data.get("local_status")
    if value is None:
        return True
    if value not in ("ok", "rejected"):
        errors["local_status"] = ['Must be "ok" or "rejected".']
    return value != "rejected"


def request_key(nonce: str | None, kind: str, value: str | int, list_id: int, direction: str
                ) -> str | None:
    """What the request's nonce stands for (``checkin.scanning.nonces``); None without one."""
    return None if nonce is None else nonces.request_key(kind, value, list_id, direction)


def offline_scans(items: list, allowed_lists: Container[int], errors: dict
                  ) -> tuple[list[OfflineScan], int | None]:
    """An upload's items as scans; each problem goes into ``errors`` as ``scans[i].field``.

    Returns (scans, None), or (scans so far, list id) at the first well-formed item on a list
    the device may not use (a 403 before any 400 of later items)."""
    scans: list[OfflineScan] = []
    for index, item in enumerate(items):
        item_errors: dict[str, list[str]] = {}
        if not isinstance(item, dict):
            errors[f"scans[{index}]"] = ["A JSON object is required."]
            continue
        code = text(item, "code", item_errors, MAX_CODE, strip=True, code=True)
        ticket = positive_int(item, "ticket", item_errors, required=False)
        if code is None and ticket is None and not item_errors:
            item_errors["code"] = ["Either code or ticket is required."]
        list_id = positive_int(item, "list", item_errors)
        direction = read_direction(item, item_errors)
        item_nonce = nonce(item, item_errors, required=True)
        scanned_at = read_claim(item, "scanned_at", item_errors, required=True)
        local_ok = read_local_ok(item, item_errors)
        for name, messages in item_errors.items():
            errors[f"scans[{index}].{name}"] = messages
        if item_errors:
            continue
        if list_id not in allowed_lists:
            return scans, list_id
        scans.append(
            OfflineScan(
                list=list_id, nonce=item_nonce, scanned_at=scanned_at, code=code, ticket=ticket,
                direction=direction, local_ok=local_ok,
                request_key=request_key(item_nonce, *(("code", code) if code is not None
                                                      else ("ticket", ticket)), list_id,
                                        direction),
            )
        )
    return scans, None
