"""Issue 12, item 6, through the console itself: every organiser action done in the console
(event and ticket-type edits, opening and closing registration, key rotation, sending,
resending, revoking, reissuing, adding attendees, importing, door devices and lists) is in the
audit log with who (the console's user, "via" the admin), when and what; the event's log and
the attendee's history show it; another organiser sees none of it — not in the list, not
through a filter, not at an entry's own address, not in the filters' choices.
(The services' side of each action, the API and immutability: tests/audit/test_log.py.)"""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.html import escape

from audit.actions import ACTIONS
from audit.models import AuditEntry
from tests.support.console import form_data, make_console_world
from tests.support.factories import make_event
from tickets import onboarding, services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

# Every action the console can do, and the code it must leave in the log.
CONSOLE_ACTIONS = {
    "event.changed", "ticket_type.changed", "event.registration_closed",
    "event.registration_opened", "event.key_rotated", "tickets.sent", "device.created",
    "device.token_rotated", "device.revoked", "list.created", "attendee.added",
    "attendee.changed", "attendees.imported", "ticket.resent", "ticket.reissued",
    "ticket.revoked",
}


@pytest.fixture
def world(settings, organiser, event):
    settings.VARCO_SEND_ON_ISSUE = False
    return make_console_world(organiser, event)


@pytest.fixture
def rival(db):
    team = services.create_organiser("Rivale", "rivale")
    rival_event = make_event(team, slug="rivale-2017", name="Convegno Rivale")
    services.update_event(rival_event, {"venue": "Altrove"})
    user, _, _ = onboarding.create_staff_user(team, "rival", "r@example.org", "pw")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def _last_id() -> int:
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


class Console:
    """The organiser's browser: each step must leave ``code`` in the log, written by them."""

    def __init__(self, staff, event) -> None:
        self.client = Client(HTTP_ACCEPT_LANGUAGE="en")
        self.client.force_login(staff)
        self.staff, self.event = staff, event
        self.logged: list[AuditEntry] = []

    def post(self, url: str, data: dict, code: str) -> str:
        before = _last_id()
        response = self.client.post(url, data, follow=True)
        assert response.status_code == 200, (url, response.status_code)
        html = response.content.decode()
        new = list(AuditEntry.objects.filter(id__gt=before, action=code))
        assert new, (code, url, list(AuditEntry.objects.filter(id__gt=before)
                                     .values_list("action", flat=True)), html[-3000:])
        for entry in new:
            assert (entry.actor_kind, entry.actor_user_id, entry.actor_label, entry.via) == (
                "user", self.staff.pk, "staff", "admin"), code
            assert (entry.organiser_id, entry.event_id) == (self.event.organiser_id,
                                                            self.event.pk), code
        self.logged += new
        return html

    def edit(self, url: str, code: str, **changes: str) -> None:
        """Open the form, change ``changes``, save it as a browser would."""
        html = self.client.get(url).content.decode()
        self.post(url, {**form_data(html, **changes), "_save": "Save"}, code)


def test_every_console_action_is_logged_with_who_and_hidden_from_another_organiser(
        world, staff, rival, django_capture_on_commit_callbacks):
    event = world.event
    marco = world.tickets[1]
    console = Console(staff, event)
    home = f"/admin/events/{event.pk}"
    console.edit(f"/admin/tickets/event/{event.pk}/change/", "event.changed",
                 venue="Sala Verdi")
    console.edit(f"/admin/tickets/tickettype/{world.ticket_type.pk}/change/",
                 "ticket_type.changed", capacity="250")
    console.post(f"{home}/registration/", {"open": "0"}, "event.registration_closed")
    console.post(f"{home}/registration/", {"open": "1"}, "event.registration_opened")
    console.post("/admin/tickets/event/", {"action": "rotate_key",
                                           "_selected_action": [event.pk]}, "event.key_rotated")
    with django_capture_on_commit_callbacks(execute=True):
        console.post(f"{home}/send/", {}, "tickets.sent")
    console.post(f"{home}/devices/add/", {"name": "Telefono 2", "gate": "B"}, "device.created")
    device = console.logged[-1].object_id
    console.post("/admin/checkin/device/", {"action": "rotate_token",
                                            "_selected_action": [device]},
                 "device.token_rotated")
    console.post("/admin/checkin/device/", {"action": "revoke", "_selected_action": [device]},
                 "device.revoked")
    add_list = console.client.get("/admin/checkin/checkinlist/add/").content.decode()
    console.post("/admin/checkin/checkinlist/add/", {
        **form_data(add_list, event=str(event.pk), name="Sala workshop", position="1"),
        "_save": "Save"}, "list.created")
    add_attendee = console.client.get("/admin/tickets/attendee/add/").content.decode()
    console.post("/admin/tickets/attendee/add/", {
        **form_data(add_attendee, event=str(event.pk), name="Lucia Neri",
                    email="lucia@example.org", language="it"),
        "_save": "Save"}, "attendee.added")
    console.edit(f"/admin/tickets/attendee/{marco.attendee_id}/change/", "attendee.changed",
                 organisation="Coop La Luna")
    importer = f"/admin/tickets/event/{event.pk}/import/"
    preview = console.client.post(importer, {"file": SimpleUploadedFile(
        "iscritti.csv", b"name,email\nAnna Verdi,anna@example.org\n", "text/csv")})
    digest = re.search(r'name="digest" value="([0-9a-f]{64})"', preview.content.decode())[1]
    console.post(importer, {"confirm": "1", "digest": digest}, "attendees.imported")
    console.post("/admin/tickets/attendee/", {"action": "resend_tickets",
                                              "_selected_action": [marco.attendee_id]},
                 "ticket.resent")
    console.post("/admin/tickets/ticket/", {"action": "reissue", "_selected_action": [marco.pk]},
                 "ticket.reissued")
    console.post("/admin/tickets/attendee/", {"action": "revoke_tickets",
                                              "_selected_action": [marco.attendee_id]},
                 "ticket.revoked")
    assert {entry.action for entry in console.logged} == CONSOLE_ACTIONS

    # The organiser reads each of them: on the event's log, and Marco's on his history.
    log = console.client.get(f"/admin/audit/auditentry/?event_id={event.pk}").content.decode()
    for code in CONSOLE_ACTIONS:
        assert str(ACTIONS[code]) in log, code
    history = console.client.get(f"/admin/tickets/attendee/{marco.attendee_id}/history/",
                                 follow=True).content.decode()
    for code in ("attendee.changed", "ticket.resent", "ticket.reissued", "ticket.revoked"):
        assert str(ACTIONS[code]) in history, code
    for entry in console.logged:
        page = console.client.get(f"/admin/audit/auditentry/{entry.pk}/change/")
        assert page.status_code == 200 and escape(entry.object_label) in page.content.decode()

    # Another organiser: their own log works, and holds nothing of this event's.
    own = rival.get("/admin/audit/auditentry/").content.decode()
    assert "Altrove" in own
    for url in ("/admin/audit/auditentry/", f"/admin/audit/auditentry/?event_id={event.pk}",
                f"/admin/audit/auditentry/?attendee_id={marco.attendee_id}",
                f"/admin/tickets/attendee/{marco.attendee_id}/history/"):
        response = rival.get(url, follow=True)
        html = response.content.decode()
        for entry in console.logged:
            assert escape(entry.object_label) not in html, (url, entry.action)
            assert entry.object_label not in html, (url, entry.action)
        assert "Sala Verdi" not in html and "Telefono 2" not in html, url
        assert Ticket.objects.get(pk=marco.pk).reference not in html, url
    for entry in console.logged:
        response = rival.get(f"/admin/audit/auditentry/{entry.pk}/change/")
        assert response.status_code == 302 and response.url == "/admin/", entry.action
