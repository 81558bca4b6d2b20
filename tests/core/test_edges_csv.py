"""Issue 10, CSV injection: one neutraliser (core.csv_cells) for every CSV Varco writes,
applied to every text cell, and undone by the importer so an export re-imports unchanged.

Hostile values are written straight into the rows (whatever validation lets in today, old
rows may hold anything): an e-mail address such as ``=1+1@x.org`` is valid, and a device's
name or gate is typed by an organiser.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from checkin import attendance
from checkin.models import Device
from core import csv_cells
from tests.support.checkin import Door, make_device, make_list
from tests.support.factories import make_event
from tickets import services
from tickets.models import Attendee, TicketType

pytestmark = pytest.mark.django_db

# Every way a cell can start that some spreadsheet runs as a formula (OWASP, full-width too).
DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")

HOSTILE = [
    # (name, email, organisation)
    ("\t=HYPERLINK(\"http://x\")", "=1+1@x.org", "\r@SUM(A1)"),
    ("\uff1dcmd|' /C calc'!A0", "+sum@x.org", "-2+3"),
    ("'=already quoted", "-dash@x.org", "\uff20mention"),
]


@pytest.fixture(autouse=True)
def _fresh_attendance(settings):
    settings.VARCO_ATTENDANCE_TICK_MS = 0
    attendance.reset()
    yield
    attendance.reset()


@pytest.fixture
def live(organiser):
    now = timezone.now()
    event = make_event(organiser, slug="live-csv", start=now - dt.timedelta(hours=2),
                       end=now + dt.timedelta(hours=6))
    kind = TicketType.objects.create(event=event, name="-Ridotto")
    tickets = [
        services.register(event, services.Registration(f"Persona {i}", f"p{i}@example.org",
                                                       "Coop", ticket_type_id=kind.pk))
        for i in range(len(HOSTILE) * 2)
    ]
    # Half of them come in (check-ins), the other half do not (no-shows).
    hall = make_list(event, "Sala", allow_reentry=True)
    device, token = make_device(event, [hall], name="+Porta", gate="=Cancello")
    for ticket in tickets[: len(HOSTILE)]:
        Door(token, hall).scan(services.ticket_code(ticket))
    for i, (name, email, organisation) in enumerate(HOSTILE * 2):
        Attendee.objects.filter(pk=tickets[i].attendee_id).update(
            name=name, email=email.replace("@x", f"{i}@x"), organisation=organisation)
    assert Device.objects.filter(pk=device.pk, gate="=Cancello").exists()
    return event


def _rows(response) -> list[list[str]]:
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def _formulas(rows: list[list[str]]) -> list[str]:
    return [cell for row in rows for cell in row if cell.startswith(DANGEROUS)]


@pytest.mark.parametrize("export", ["checkins.csv", "no-shows.csv"])
def test_attendance_exports_neutralise_every_text_cell(api, live, export):
    rows = _rows(api.get(f"/api/v1/events/{live.pk}/attendance/{export}"))
    assert len(rows) == 1 + len(HOSTILE)
    assert _formulas(rows) == []
    cells = {cell for row in rows for cell in row}
    # e-mail (written raw before), tab/CR starts, full-width, the type, gate and device names
    assert {"'=1+10@x.org", "'\r@SUM(A1)", "'-Ridotto"} <= cells or {
        "'=1+13@x.org", "'\r@SUM(A1)", "'-Ridotto"} <= cells
    if export == "checkins.csv":
        assert {"'=Cancello", "'+Porta"} <= cells


def test_attendee_export_neutralises_and_round_trips(api, organiser, live):
    text_rows = _rows(api.get(f"/api/v1/events/{live.pk}/attendees/export/"))
    assert _formulas(text_rows) == []
    buffer = io.StringIO()
    csv.writer(buffer).writerows(text_rows)
    other = make_event(organiser, slug="copy")
    TicketType.objects.create(event=other, name="-Ridotto")
    response = api.generic("POST", f"/api/v1/events/{other.pk}/attendees/import/",
                           buffer.getvalue(), content_type="text/csv")
    assert response.status_code == 201, response.content
    fields = ("name", "email", "organisation")
    # the importer strips surrounding white space (a leading tab or CR) as it always has
    original = sorted(tuple(v.strip() for v in a) for a in
                      Attendee.objects.filter(event=live).values_list(*fields))
    copied = sorted(Attendee.objects.filter(event=other).values_list(*fields))
    assert copied == original
    assert ("'=already quoted",) in [(n,) for n, _, _ in copied]


@pytest.mark.parametrize("value", [
    "=1+1@x.org", "+x", "-x", "@x", "\tx", "\rx", "\uff1dx", "\uff0bx", "\uff0dx", "\uff20x",
    "'=x", "''+x", "'plain", "plain", "", "'", "12", "a=b",
])
def test_neutralise_round_trip(value):
    written = csv_cells.neutralise(value)
    assert not written.startswith(DANGEROUS)
    assert csv_cells.unneutralise(written) == value
