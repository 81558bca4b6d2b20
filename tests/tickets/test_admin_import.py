"""Importing attendees in the console with a preview (issue 12, item 5): the upload writes
nothing and shows the rows and the errors; the confirmation imports exactly that file,
all-or-nothing, and the audit log names who did it."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEntry
from tests.support.factories import make_event
from tickets import onboarding, services
from tickets.models import Attendee

pytestmark = pytest.mark.django_db

BAD = ("name;email;organisation\nAnna Neri;anna@example.org;Coop\n"
       "Bruno Blu;not-an-address;\nCarla Gialli;carla@example.org;Caritas\n")
GOOD = BAD.replace("not-an-address", "bruno@example.org")


@pytest.fixture
def console(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def upload(console: Client, event, text: str, **extra):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return console.post(f"/admin/tickets/event/{event.pk}/import/", {
        "file": SimpleUploadedFile("people.csv", text.encode(), "text/csv"), **extra})


def test_the_event_page_links_to_the_import(console, event):
    page = console.get(f"/admin/tickets/event/{event.pk}/change/").content.decode()
    assert f"/admin/tickets/event/{event.pk}/import/" in page


def test_a_file_with_a_bad_row_is_previewed_with_line_column_reason_and_not_imported(
        console, event, ticket_type):
    response = upload(console, event, BAD)
    assert response.status_code == 200
    page = response.content.decode()
    errors = page.split('id="import-errors"')[1].split("</table>")[0]
    assert "<td>3</td><td>e-mail</td>" in errors  # line 3, the e-mail column (in Italian)
    assert 'name="confirm"' not in page  # all-or-nothing: nothing to confirm
    assert "Anna Neri" in page  # the good rows are shown too
    assert Attendee.objects.count() == 0


def test_the_fixed_file_is_previewed_then_imported_exactly(console, event, ticket_type):
    page = upload(console, event, GOOD).content.decode()
    assert Attendee.objects.count() == 0  # a preview writes nothing
    rows = page.split('id="import-rows"')[1].split("</table>")[0]
    for name in ("Anna Neri", "Bruno Blu", "Carla Gialli"):
        assert name in rows
    digest = page.split('name="digest" value="')[1].split('"')[0]
    response = console.post(f"/admin/tickets/event/{event.pk}/import/",
                            {"confirm": "1", "digest": digest})
    assert response.status_code == 302
    assert sorted(Attendee.objects.values_list("name", flat=True)) == [
        "Anna Neri", "Bruno Blu", "Carla Gialli"]
    entry = AuditEntry.objects.get(action="attendees.imported")
    assert (entry.actor_label, entry.via, entry.data["created"]) == ("staff", "admin", 3)


def test_a_confirmation_for_another_preview_imports_nothing(console, event, ticket_type):
    upload(console, event, GOOD)
    response = console.post(f"/admin/tickets/event/{event.pk}/import/",
                            {"confirm": "1", "digest": "0" * 64})
    assert response.status_code == 302
    assert Attendee.objects.count() == 0


def test_a_place_taken_since_the_preview_means_nothing_is_imported(console, organiser,
                                                                    staff):
    small = make_event(organiser, slug="piccolo", capacity=3)
    services.save_ticket_type(small, {"name": "Ingresso"})
    page = upload(console, small, GOOD).content.decode()
    digest = page.split('name="digest" value="')[1].split('"')[0]
    services.register(small, services.Registration("Prima", "prima@example.org", "", "it"))
    response = console.post(f"/admin/tickets/event/{small.pk}/import/",
                            {"confirm": "1", "digest": digest}, follow=True)
    assert "Nothing was imported" in response.content.decode() or \
        "Non è stato importato nulla" in response.content.decode()
    assert Attendee.objects.filter(event=small).count() == 1


def test_an_unreadable_file_is_named_on_the_form(console, event):
    """In the console's language (Italian by default), the problem and the file's header."""
    page = upload(console, event, "just one line without the columns\n").content.decode()
    assert "Colonne mancanti: name, email." in page
    assert "just one line without the columns" in page
    assert Attendee.objects.count() == 0


def test_another_teams_event_cannot_be_imported_into(event, ticket_type):
    rival = services.create_organiser("Rivale", "rivale")
    rival_staff, _, _ = onboarding.create_staff_user(rival, "rival", "r@example.org", "pw")
    client = Client()
    client.force_login(rival_staff)
    response = upload(client, event, GOOD)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert Attendee.objects.count() == 0
