"""Print stations: pairing (a token shown once, stored as SHA-256), gates, output, revocation;
which lists print badges; and the station token's authentication.

A station token starts with ``vp_`` and is looked up in ``PrintStation`` only; a door
device's token (``vd_``, ``checkin.devices``) and an organiser's (``vo_``) are never accepted
here, and a station token is never accepted by the door API (its prefix and table are not
the device's), so a printer's secret cannot scan and a scanner's cannot claim a badge.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from audit import services as audit
from badges.jobs import queue
from badges.models import (
    BadgeLayout,
    JobState,
    ListPrinting,
    OutputKind,
    PrintJob,
    PrintStation,
    PrintStationGate,
)
from checkin.devices import hash_token, token_from_header
from checkin.models import CheckinList
from core.errors import ServiceError
from tickets.models import Event

TOKEN_PREFIX = "vp_"
MAX_GATES = 20
MAX_GATE = 100
MAX_NAME = 100
# A station's last_seen_at is written at most this often (each API call would otherwise be a
# write on the station's row).
SEEN_EVERY = dt.timedelta(seconds=10)

_QUEUE = re.compile(r"^[A-Za-z0-9_.\-]{1,127}$")  # CUPS: no spaces, "/", "#"
_HOST = re.compile(r"^[A-Za-z0-9.\-:\[\]]{1,253}$")  # a host name, IPv4 or [IPv6]
_SHORT = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")  # brother_ql's model and label names
DEFAULT_QL = {"port": 9100, "model": "QL-820NWB", "label": "62"}


def new_token() -> str:
    """A new station token: ``vp_`` + 32 URL-safe characters (192 random bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Output:
    """How a station prints (validated): the agent reads it from whoami."""

    kind: str = OutputKind.BROWSER
    queue: str = ""
    host: str = ""
    port: int | None = None
    model: str = ""
    label: str = ""

    def fields(self) -> dict:
        return {"output_kind": self.kind, "cups_queue": self.queue, "printer_host": self.host,
                "printer_port": self.port, "printer_model": self.model,
                "printer_label": self.label}


def output_of(station: PrintStation) -> dict:
    """The station's output as the API shows it (only the keys its kind uses)."""
    if station.output_kind == OutputKind.CUPS:
        return {"kind": station.output_kind, "queue": station.cups_queue}
    if station.output_kind == OutputKind.BROTHER_QL:
        return {"kind": station.output_kind, "host": station.printer_host,
                "port": station.printer_port, "model": station.printer_model,
                "label": station.printer_label}
    return {"kind": station.output_kind}


def read_output(data: object) -> Output:
    """An output from untrusted input (``{"kind", ...}``), or ServiceError on ``output``."""
    if data is None:
        return Output()
    if not isinstance(data, dict):
        raise ServiceError("output", "An object with a 'kind' is required.")
    kind = data.get("kind", OutputKind.BROWSER)
    allowed = {OutputKind.BROWSER: {"kind"}, OutputKind.CUPS: {"kind", "queue"},
               OutputKind.BROTHER_QL: {"kind", "host", "port", "model", "label"}}
    if kind not in allowed:
        raise ServiceError("output", f"Unknown kind; one of: {', '.join(OutputKind.values)}.")
    unknown = set(data) - allowed[kind]
    if unknown:
        raise ServiceError("output", f"Not used by '{kind}': {', '.join(sorted(unknown))}.")
    if kind == OutputKind.CUPS:
        queue = data.get("queue")
        if not isinstance(queue, str) or not _QUEUE.match(queue):
            raise ServiceError("output", "A CUPS queue name (letters, digits, _ . -) is "
                                         "required.")
        return Output(kind, queue=queue)
    if kind == OutputKind.BROTHER_QL:
        host, port = data.get("host"), data.get("port", DEFAULT_QL["port"])
        model = data.get("model", DEFAULT_QL["model"])
        label = data.get("label", DEFAULT_QL["label"])
        if not isinstance(host, str) or not _HOST.match(host):
            raise ServiceError("output", "The printer's host name or address is required.")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ServiceError("output", "The port is a number from 1 to 65535.")
        for name, value in (("model", model), ("label", label)):
            if not isinstance(value, str) or not _SHORT.match(value):
                raise ServiceError("output", f"The {name} is a short name (e.g. "
                                             f"{DEFAULT_QL[name]}).")
        return Output(kind, host=host, port=port, model=model, label=label)
    return Output()


def clean_gates(gates: object) -> list[str]:
    """Gate names from untrusted input: 1 to 20 distinct non-empty texts of at most 100."""
    if not isinstance(gates, list | tuple) or not gates:
        raise ServiceError("gates", "At least one gate (the 'gate' of the door devices).")
    if len(gates) > MAX_GATES:
        raise ServiceError("gates", f"At most {MAX_GATES} gates.")
    cleaned: list[str] = []
    for gate in gates:
        if not isinstance(gate, str) or not gate.strip() or len(gate.strip()) > MAX_GATE:
            raise ServiceError("gates", f"Each gate is a text of 1 to {MAX_GATE} characters.")
        if "\x00" in gate:
            raise ServiceError("gates", "A gate may not contain NUL.")
        if gate.strip() not in cleaned:
            cleaned.append(gate.strip())
    return cleaned


def _clean_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
        raise ServiceError("name", f"A name of 1 to {MAX_NAME} characters is required.")
    if "\x00" in name:
        raise ServiceError("name", "A name may not contain NUL.")
    return name.strip()


def _record(action: str, station: PrintStation, **data) -> None:
    audit.record(action, organiser_id=station.event.organiser_id, event_id=station.event_id,
                 target=station, data=data)


def _set_gates(station: PrintStation, gates: list[str]) -> None:
    """Replace the station's gates; a gate another station serves is a ServiceError."""
    taken = (PrintStationGate.objects.filter(event_id=station.event_id, gate__in=gates)
             .exclude(station=station).select_related("station").first())
    if taken is not None:
        raise ServiceError("gates", f"Gate '{taken.gate}' is already served by the print "
                                    f"station '{taken.station.name}'.")
    PrintStationGate.objects.filter(station=station).exclude(gate__in=gates).delete()
    have = set(PrintStationGate.objects.filter(station=station).values_list("gate", flat=True))
    try:
        with transaction.atomic():  # a savepoint: the race's IntegrityError stays ours
            PrintStationGate.objects.bulk_create(
                [PrintStationGate(event_id=station.event_id, station=station, gate=gate)
                 for gate in gates if gate not in have])
    except IntegrityError:
        raise ServiceError("gates", "One of these gates was just given to another print "
                                    "station.") from None


@transaction.atomic
def create_station(event: Event, name: object, gates: object, output: Output | None = None,
                   created_by=None) -> tuple[PrintStation, str]:
    """Pair a new station; return it and its token (shown once, stored hashed)."""
    name, gates = _clean_name(name), clean_gates(gates)
    if PrintStation.objects.filter(event=event, name=name).exists():
        raise ServiceError("name", "This event already has a print station of this name.")
    token = new_token()
    station = PrintStation.objects.create(
        event=event, name=name, token_hash=hash_token(token), token_hint=token[-4:],
        created_by=created_by, **(output or Output()).fields())
    _set_gates(station, gates)
    _record("print_station.created", station, gates=gates, output=output_of(station))
    return station, token


@transaction.atomic
def update_station(station: PrintStation, *, name: object = None, gates: object = None,
                   output: Output | None = None) -> PrintStation:
    before = {"name": station.name, "gates": gate_names(station), "output": output_of(station)}
    if name is not None:
        station.name = _clean_name(name)
        if PrintStation.objects.filter(event_id=station.event_id, name=station.name).exclude(
                pk=station.pk).exists():
            raise ServiceError("name", "This event already has a print station of this name.")
    if output is not None:
        for field, value in output.fields().items():
            setattr(station, field, value)
    station.save()
    if gates is not None:
        _set_gates(station, clean_gates(gates))
    after = {"name": station.name, "gates": gate_names(station), "output": output_of(station)}
    changed = audit.changes(before, after)
    if changed:
        _record("print_station.changed", station, changes=changed)
    return station


@transaction.atomic
def rotate_token(station: PrintStation) -> str:
    """A new token (re-pairing); the old one stops working at once."""
    token = new_token()
    PrintStation.objects.filter(pk=station.pk).update(token_hash=hash_token(token),
                                                      token_hint=token[-4:])
    station.refresh_from_db()
    _record("print_station.token_rotated", station)
    return token


@transaction.atomic
def revoke_station(station: PrintStation) -> PrintStation:
    """The token stops working; the station's gates are free again, lists stop defaulting to
    it, and its queued or claimed badges are cancelled (they would never print). Badges in
    doubt stay, for staff to resolve."""
    now = timezone.now()
    if PrintStation.objects.filter(pk=station.pk, revoked_at__isnull=True).update(
            revoked_at=now):
        PrintStationGate.objects.filter(station=station).delete()
        ListPrinting.objects.filter(default_station=station).update(default_station=None)
        cancelled = PrintJob.objects.filter(
            station=station, state__in=[JobState.QUEUED, JobState.CLAIMED]).update(
            state=JobState.CANCELLED, last_error="The print station was revoked.",
            updated_at=now)
        _record("print_station.revoked", station, cancelled_jobs=cancelled)
    station.refresh_from_db()
    return station


def gate_names(station: PrintStation) -> list[str]:
    return sorted(PrintStationGate.objects.filter(station=station).values_list("gate",
                                                                                flat=True))


@transaction.atomic
def set_list_printing(checkin_list: CheckinList, layout: BadgeLayout | None,
                      default_station: PrintStation | None = None) -> ListPrinting | None:
    """Print badges on ``layout`` at ``checkin_list`` (None: stop printing there)."""
    event = checkin_list.event
    organiser = event.organiser_id
    # Now (this thread reads its own change) and after the commit (the other threads).
    queue.printing_lists.clear()
    transaction.on_commit(queue.printing_lists.clear)
    if layout is None:
        deleted, _ = ListPrinting.objects.filter(checkin_list=checkin_list).delete()
        if deleted:
            audit.record("list_printing.removed", organiser_id=organiser, event_id=event.pk,
                         target=checkin_list)
        return None
    if layout.event_id != event.pk:
        raise ServiceError("layout", "The layout belongs to another event.")
    if default_station is not None and (default_station.event_id != event.pk
                                        or default_station.is_revoked):
        raise ServiceError("default_station", "Not a print station of this event.")
    row, _ = ListPrinting.objects.update_or_create(
        checkin_list=checkin_list,
        defaults={"layout": layout, "default_station": default_station})
    audit.record("list_printing.set", organiser_id=organiser, event_id=event.pk,
                 target=checkin_list,
                 data={"layout": layout.name,
                       "default_station": default_station.name if default_station else None})
    return row


def authenticate(header: str | None) -> PrintStation | None:
    """The live station an ``Authorization: Token vp_…`` header names, else None. One indexed
    query per call (no cache: a revoked station stops at once, and stations call rarely)."""
    token = token_from_header(header)
    if token is None or not token.startswith(TOKEN_PREFIX):
        return None
    station = (PrintStation.objects.filter(token_hash=hash_token(token), revoked_at__isnull=True)
               .select_related("event").first())
    if station is not None:
        now = timezone.now()
        if station.last_seen_at is None or now - station.last_seen_at > SEEN_EVERY:
            PrintStation.objects.filter(pk=station.pk).filter(
                Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=now - SEEN_EVERY)
            ).update(last_seen_at=now)
            station.last_seen_at = now
    return station

