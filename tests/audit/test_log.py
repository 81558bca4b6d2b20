"""The audit log (issue 12, item 6): every organiser action that changes data is recorded with
who, when and what; visible per event and per attendee, to that organiser only; kept when the
object is deleted; immutable on PostgreSQL."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import DatabaseError, transaction
from django.test import Client

from audit import services as audit_services
from audit.actions import ACTIONS
from audit.context import Actor, acting_as
from audit.models import AuditEntry
from badges import services as badge_services
from badges.jobs import claims as print_claims
from badges.jobs import queue as print_queue
from badges.jobs import stations
from badges.models import PrintJob
from checkin import services as checkin_services
from core.errors import ServiceError
from tests.support.backends import ON_POSTGRES
from tests.support.checkin import make_device, make_list
from tests.support.factories import make_event
from tickets import attendee_csv, onboarding, services
from tickets.delivery import queue

pytestmark = pytest.mark.django_db


def actions(**filters) -> list[str]:
    return list(AuditEntry.objects.filter(**filters).order_by("id").values_list("action",
                                                                                flat=True))


def mark() -> int:
    """The last entry's id: what a test does is logged after it (fixtures log too)."""
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


def last(action: str) -> AuditEntry:
    return AuditEntry.objects.filter(action=action).latest("id")


def test_every_action_of_the_list_is_recorded_by_its_service(organiser, event, ticket_type,
                                                              register, tmp_path):
    """One day of organiser work through the services; the log holds each action of
    ``audit.actions.ACTIONS`` — a new action without a recording call fails here."""
    other = services.create_event(organiser, name="Secondo", slug="secondo",
                                  start=event.start, end=event.end)
    services.update_event(other, {"venue": "Sala B"})
    services.set_registration_open([other], False)
    services.set_registration_open([other], True)
    services.rotate_event_key(other)
    extra = services.save_ticket_type(event, {"name": "Relatore"})
    services.save_ticket_type(event, {"name": "Relatrice"}, extra)
    services.delete_ticket_type(extra)
    added = services.register(event, services.Registration(
        "Anna Neri", "anna@example.org", "Coop", "it", ticket_type_id=ticket_type.pk))
    services.update_attendee(added.attendee, {"organisation": "Coop Sole"})
    queue.resend(added)
    services.reissue_ticket(added)
    services.revoke_ticket(added, reason="duplicate registration")
    public = services.register(event, services.Registration(
        "Bruno Blu", "bruno@example.org", "", "it"), public=True)
    services.delete_attendee(public.attendee)
    attendee_csv.import_attendees(event, "name,email\nCarla Gialli,carla@example.org\n"
                                  "Dario Rosa,dario@example.org\n")
    queue.queue_unsent(event)
    door = make_list(event)
    checkin_services.update_list(door, name="Ingresso nord")
    device, _ = make_device(event, [door])
    checkin_services.update_device(device, gate="Nord")
    checkin_services.rotate_device_token(device)
    checkin_services.revoke_device(device)
    spare = make_list(event, "Da cancellare")
    checkin_services.delete_list(spare)
    services.delete_event(other)
    layout = badge_services.create_layout(event, name="Badge")
    badge_services.update_layout(layout, preset="ql-62")
    badge_services.set_colour(ticket_type, "#b3261e")
    station, _ = stations.create_station(event, "Stampante", ["Nord"])
    stations.update_station(station, gates=["Nord", "Sud"])
    stations.rotate_token(station)
    stations.set_list_printing(door, layout, station)
    lost = services.register(event, services.Registration(
        "Elena Viola", "elena@example.org", "", "it", ticket_type_id=ticket_type.pk))
    job = print_queue.reprint(lost, "lost badge", station)
    PrintJob.objects.filter(pk=job.pk).update(state="in_doubt", handed_at=job.created_at,
                                              claim_token="0" * 32, claimed_at=job.created_at)
    print_claims.resolve_in_doubt(job, True)
    stations.set_list_printing(door, None)
    stations.revoke_station(station)
    assert set(actions()) == set(ACTIONS)


def test_a_public_registration_is_not_an_organiser_action(event, ticket_type):
    start = mark()
    services.register(event, services.Registration("Eva Verdi", "eva@example.org", "", "it"),
                      public=True)
    assert actions(id__gt=start) == []


def test_an_edit_records_what_changed_from_what_to_what(event):
    services.update_event(event, {"venue": "Sala Grande", "name": event.name})
    entry = last("event.changed")
    assert entry.data["changes"] == {"venue": ["Teatro Elfo Puccini", "Sala Grande"]}
    assert (entry.event_id, entry.organiser_id) == (event.pk, event.organiser_id)
    services.update_event(event, {"venue": "Sala Grande"})  # nothing changed: nothing logged
    assert actions(action="event.changed") == ["event.changed"]


def test_the_import_is_one_entry_with_its_counts(event, ticket_type):
    start = mark()
    attendee_csv.import_attendees(event, "name,email\n" + "".join(
        f"P{i},p{i}@example.org\n" for i in range(5)))
    assert actions(id__gt=start) == ["attendees.imported"]
    assert last("attendees.imported").data == {"created": 5, "skipped": 0, "rejected": 0}


def test_a_refused_change_leaves_no_entry(event, ticket_type, register):
    ticket = register()
    start = mark()
    services.revoke_ticket(ticket)
    with pytest.raises(ServiceError):
        services.reissue_ticket(ticket)
    assert actions(id__gt=start) == ["ticket.revoked"]
    services.revoke_ticket(ticket)  # already revoked: nothing happened, nothing logged
    assert actions(id__gt=start) == ["ticket.revoked"]


def test_entries_outlive_the_attendee_and_keep_their_label(event, ticket_type, register):
    ticket = register(name="Zoë Lamberti", email="zoe@example.org")
    attendee_id = ticket.attendee_id
    services.revoke_ticket(ticket, reason="asked by e-mail")
    services.delete_attendee(ticket.attendee)
    assert actions(attendee_id=attendee_id) == ["attendee.added", "ticket.revoked",
                                                "attendee.deleted"]
    deleted = last("attendee.deleted")
    assert deleted.object_label == "Zoë Lamberti <zoe@example.org>"
    assert last("ticket.revoked").data == {"version": 2, "reason": "asked by e-mail"}


def test_an_unknown_action_is_a_programming_error(organiser):
    with pytest.raises(ValueError, match=r"audit\.actions\.ACTIONS"):
        audit_services.record("ticket.eaten", organiser_id=organiser.pk)


def test_the_actor_is_the_api_token_user(api, staff, event, ticket_type, register):
    ticket = register()
    response = api.post(f"/api/v1/events/{event.pk}/tickets/{ticket.pk}/revoke/")
    assert response.status_code == 200
    entry = last("ticket.revoked")
    assert (entry.actor_kind, entry.actor_label, entry.actor_user_id, entry.via) == (
        "user", "staff", staff.pk, "api")


def test_the_actor_is_the_admin_user(staff, event):
    client = Client()
    client.force_login(staff)
    response = client.post("/admin/tickets/event/", {
        "action": "close_registration", "_selected_action": [event.pk]})
    assert response.status_code == 302
    entry = last("event.registration_closed")
    assert (entry.actor_label, entry.via) == ("staff", "admin")


def test_a_command_is_named_as_the_actor(event, ticket_type, tmp_path, monkeypatch):
    path = tmp_path / "guests.csv"
    path.write_text("name,email\nOspite Uno,ospite@example.org\n")
    monkeypatch.setattr("sys.argv", ["manage.py", "import_attendees"])
    call_command("import_attendees", "--event", event.slug, str(path), stdout=None)
    entry = last("attendees.imported")
    assert (entry.actor_kind, entry.actor_label, entry.via) == (
        "system", "manage.py import_attendees", "command")


def test_acting_as_names_someone_explicitly(event):
    with acting_as(Actor("user", "door-lead", 7, "door")):
        services.update_event(event, {"venue": "Sala C"})
    entry = last("event.changed")
    assert (entry.actor_label, entry.actor_user_id, entry.via) == ("door-lead", 7, "door")


# --- who sees it -------------------------------------------------------------------------


@pytest.fixture
def two_teams(organiser, event, ticket_type, register):
    ticket = register()
    services.revoke_ticket(ticket)
    rival = services.create_organiser("Rivale", "rivale")
    rival_event = make_event(rival, slug="rivale-2017")
    services.update_event(rival_event, {"venue": "Altrove"})
    rival_staff, _, rival_token = onboarding.create_staff_user(rival, "rival", "r@example.org",
                                                               "pw")
    return ticket, rival_event, rival_staff, rival_token


def test_the_api_lists_the_events_log_per_attendee_to_its_organiser_only(api, event,
                                                                        two_teams):
    ticket, rival_event, _, rival_token = two_teams
    body = api.get(f"/api/v1/events/{event.pk}/audit/").json()
    assert [e["action"] for e in body["results"]] == ["ticket.revoked", "attendee.added",
                                                      "event.created"]
    assert body["results"][0]["object"] == f"{ticket.reference} ({ticket.attendee.name})"
    per_attendee = api.get(f"/api/v1/events/{event.pk}/audit/?attendee={ticket.attendee_id}")
    assert [e["action"] for e in per_attendee.json()["results"]] == ["ticket.revoked",
                                                                     "attendee.added"]
    assert api.get(f"/api/v1/events/{rival_event.pk}/audit/").status_code == 404
    api.credentials(HTTP_AUTHORIZATION=f"Token {rival_token}")
    assert api.get(f"/api/v1/events/{event.pk}/audit/").status_code == 404
    rival = api.get(f"/api/v1/events/{rival_event.pk}/audit/").json()["results"]
    assert [e["action"] for e in rival] == ["event.changed", "event.created"]


@pytest.mark.parametrize("query", ["attendee=x", "attendee=0", "attendee=99999999999999999999"])
def test_a_bad_attendee_filter_is_a_400_naming_it(api, event, query):
    response = api.get(f"/api/v1/events/{event.pk}/audit/?{query}")
    assert response.status_code == 400
    assert "attendee" in response.json()["fields"]


def test_the_console_shows_the_log_per_event_and_attendee_to_its_organiser_only(
        staff, event, two_teams):
    ticket, _, rival_staff, _ = two_teams
    client = Client()
    client.force_login(staff)
    page = client.get("/admin/audit/auditentry/").content.decode()
    assert "Ticket revoked" in page or "Biglietto revocato" in page
    assert "Altrove" not in page and "Rivale" not in page
    history = client.get(f"/admin/tickets/attendee/{ticket.attendee_id}/history/")
    assert history.status_code == 302 and f"attendee_id={ticket.attendee_id}" in history.url
    assert ticket.reference in client.get(history.url).content.decode()
    event_history = client.get(f"/admin/tickets/event/{event.pk}/history/")
    assert f"event_id={event.pk}" in event_history.url
    rival_client = Client()
    rival_client.force_login(rival_staff)
    rival_page = rival_client.get(history.url).content.decode()
    assert ticket.reference not in rival_page
    assert rival_client.get("/admin/audit/auditentry/").status_code == 200
    # read-only for everyone
    entry = AuditEntry.objects.first()
    assert client.post(f"/admin/audit/auditentry/{entry.pk}/delete/", {"post": "yes"}
                       ).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.postgres
def test_the_database_refuses_to_rewrite_the_log(event):
    assert ON_POSTGRES
    services.update_event(event, {"venue": "Sala D"})
    entry = last("event.changed")
    for change in (lambda: AuditEntry.objects.filter(pk=entry.pk).update(actor_label="x"),
                   lambda: AuditEntry.objects.filter(pk=entry.pk).delete()):
        with pytest.raises(DatabaseError, match="cannot be changed or deleted"), \
                transaction.atomic():
            change()
    assert AuditEntry.objects.get(pk=entry.pk).actor_label == entry.actor_label
