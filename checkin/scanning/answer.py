"""What a scan is asked and what it answers: the input after the request was parsed, the
answer (its JSON is the scan endpoint's contract), and the ways a scan fails before deciding."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from checkin.devices import ListRule
from checkin.models import Direction, Source
from checkin.scanning import clock

UTC = dt.UTC


def iso(value: dt.datetime | None) -> str | None:
    """A time as the check-in APIs write it (door, attendance): ISO 8601 in UTC, ``Z``."""
    if value is None:
        return None
    if value.tzinfo is not UTC:  # psycopg already gives UTC (Django's connection time zone)
        value = value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


class ScanUnavailable(Exception):
    """The database could not be reached; nothing is known to be recorded. Retry."""


class TooManyInvalid(Exception):
    """The device is over its allowance of invalid codes; this one was not logged."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"retry in {wait:.1f} s")
        self.wait = wait


@dataclass(slots=True)
class ScanAnswer:
    status: str
    reason: str | None
    attendee: dict | None = None
    checked_in_at: dt.datetime | None = None
    first_checked_in_at: dt.datetime | None = None
    ticket_id: int | None = None
    log_id: int | None = None
    conflict: bool = False
    replay: bool = False
    # For a replay: the key of the request that first used the nonce (None: not known).
    replay_key: str | None = None

    def as_json(self) -> dict:
        """The scan endpoint's answer (the contract other clients depend on)."""
        return {
            "status": self.status,
            "reason": self.reason,
            "attendee": self.attendee,
            "checked_in_at": iso(self.checked_in_at),
            "first_checked_in_at": iso(self.first_checked_in_at),
        }


@dataclass(slots=True)
class ScanInput:
    """One scan after the request was parsed and the device/list authorised."""

    rule: ListRule
    device_id: int | None
    direction: str = Direction.ENTRY
    nonce: str | None = None
    # Given for scans made offline (the device's clock, a claim); None for live scans.
    scanned_at: clock.Claim | None = None
    source: str = Source.SCAN
    # The device's own verdict for an offline scan: True if it let the person in.
    local_ok: bool = True
    user_id: int | None = None
    # Live scans from a device: invalid codes count against its flood allowance (flood.py).
    limit_invalid: bool = False
    device_name: str = ""
    # Part of an offline upload (/sync/): its own, larger allowance of invalid codes.
    upload: bool = False
    # See ``request_key``; None for requests without a nonce.
    request_key: str | None = None



def attendee(name: str | None, organisation: str | None, ticket_type: str | None) -> dict | None:
    if name is None:
        return None
    return {"name": name, "organisation": organisation or "", "ticket_type": ticket_type}
