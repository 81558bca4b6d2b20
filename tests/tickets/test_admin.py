"""The Django admin as an organiser's back office: scoped to the staff user's team."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.support.factories import make_event
from tickets import onboarding, services
from tickets.models import Attendee, Event, EventKey, Organiser, Ticket, TicketType

pytestmark = pytest.mark.django_db

ADMIN = "/admin/tickets"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(organiser, staff, event, ticket_type, register):
    """Team A (the fixture organiser) and team B, each with an event and attendees."""
    mine = [
        register(name="Mario Bianchi", email="mario@example.org", organisation="ACLI Milano"),
        register(name="Anna Verdi", email="anna@example.org", organisation="Caritas Ambrosiana"),
    ]
    team_b = services.create_organiser("Zeta Eventi", "zeta")
    onboarding.create_staff_user(team_b, "zeta-staff", "z@example.org", "pw")
    event_b = make_event(team_b, slug="zeta-summit", name="Zeta Summit")
    type_b = TicketType.objects.create(event=event_b, name="Zeta pass")
    theirs = [services.register(event_b, services.Registration(
        "Segreto Rossi", "segreto@zeta.org", "Zeta Corp"))]
    return {"event": event, "type": ticket_type, "mine": mine, "team_b": team_b,
            "event_b": event_b, "type_b": type_b, "theirs": theirs}


@pytest.fixture
def browser(staff) -> Client:
    # These tests read the English interface (the console is Italian by default).
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(staff)
    return client


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


SECRETS = ("Zeta", "zeta", "Segreto", "segreto")


def assert_no_secrets(html: str, url: str) -> None:
    for secret in SECRETS:
        assert secret not in html, (url, secret)


@pytest.mark.parametrize("model", ["event", "attendee", "ticket", "tickettype", "eventkey",
                                   "organiser"])
def test_changelists_show_only_own_team(browser, world, model):
    url = f"{ADMIN}/{model}/"
    html = page(browser, url)
    assert_no_secrets(html, url)  # neither rows nor filter choices name the other team
    if model in ("attendee", "ticket"):
        assert "Mario Bianchi" in html and "Anna Verdi" in html
    if model == "event":
        assert world["event"].name in html


def test_other_teams_objects_cannot_be_opened(browser, world):
    ticket_b = world["theirs"][0]
    for url in [
        f"{ADMIN}/event/{world['event_b'].pk}/change/",
        f"{ADMIN}/event/{world['event_b'].pk}/delete/",
        f"{ADMIN}/event/{world['event_b'].pk}/history/",
        f"{ADMIN}/attendee/{ticket_b.attendee_id}/change/",
        f"{ADMIN}/ticket/{ticket_b.pk}/change/",
        f"{ADMIN}/tickettype/{world['type_b'].pk}/change/",
        f"{ADMIN}/organiser/{world['team_b'].pk}/change/",
        f"{ADMIN}/eventkey/{EventKey.objects.get(event=world['event_b']).pk}/change/",
    ]:
        response = browser.get(url)
        assert response.status_code in (302, 404), (url, response.status_code)
        if response.status_code == 302:
            assert response["Location"] == "/admin/", url
    # a changed POST on another team's object changes nothing
    browser.post(f"{ADMIN}/event/{world['event_b'].pk}/change/", {"name": "Hacked"})
    assert Event.objects.get(pk=world["event_b"].pk).name == "Zeta Summit"


def test_filtering_by_another_teams_event_shows_nothing(browser, world):
    html = page(browser, f"{ADMIN}/attendee/?event__id__exact={world['event_b'].pk}")
    assert_no_secrets(html, "filter")


def test_search(browser, world):
    html = page(browser, f"{ADMIN}/attendee/?q=bianchi")
    assert "Mario Bianchi" in html and "Anna Verdi" not in html
    reference = world["mine"][1].reference
    html = page(browser, f"{ADMIN}/attendee/?q={reference}")
    assert "Anna Verdi" in html and "Mario Bianchi" not in html
    html = page(browser, f"{ADMIN}/ticket/?q=caritas")
    assert "Anna Verdi" in html and "Mario Bianchi" not in html
    for model in ("attendee", "ticket"):
        html = page(browser, f"{ADMIN}/{model}/?q=segreto")
        assert "Segreto Rossi" not in html and "segreto@zeta.org" not in html


def test_filters(browser, world):
    services.revoke_ticket(world["mine"][0])
    html = page(browser, f"{ADMIN}/ticket/?status__exact=revoked")
    assert "Mario Bianchi" in html and "Anna Verdi" not in html
    html = page(browser, f"{ADMIN}/ticket/?event__id__exact={world['event'].pk}")
    assert "Mario Bianchi" in html and "Anna Verdi" in html
    html = page(browser, f"{ADMIN}/attendee/?language__exact=en")
    assert "Mario Bianchi" not in html


def bulk(client: Client, model: str, action: str, ids: list[int]):
    return client.post(f"{ADMIN}/{model}/", {"action": action, "_selected_action": ids,
                                            "index": 0}, follow=True)


def test_bulk_revoke_and_reissue(browser, world):
    a, b = world["mine"]
    other = world["theirs"][0]
    response = bulk(browser, "ticket", "reissue", [a.pk, b.pk, other.pk])
    assert response.status_code == 200
    assert [t.version for t in Ticket.objects.filter(pk__in=[a.pk, b.pk])] == [2, 2]
    response = bulk(browser, "ticket", "revoke", [a.pk, other.pk])
    assert "1 ticket revoked" in response.content.decode()
    a.refresh_from_db()
    other.refresh_from_db()
    assert (a.status, a.version) == ("revoked", 3)
    assert (other.status, other.version) == ("valid", 1)  # not theirs to touch
    world["type"].refresh_from_db()
    assert world["type"].issued_count == 1
    # reissuing a revoked ticket is refused with a message, the others go through
    response = bulk(browser, "ticket", "reissue", [a.pk, b.pk])
    html = response.content.decode()
    assert "1 ticket reissued" in html and "revoked ticket cannot be reissued" in html
    b.refresh_from_db()
    assert b.version == 3


def test_event_actions(browser, world):
    event = world["event"]
    key = EventKey.objects.get(event=event, active=True)
    bulk(browser, "event", "close_registration", [event.pk, world["event_b"].pk])
    assert not Event.objects.get(pk=event.pk).registration_open
    assert Event.objects.get(pk=world["event_b"].pk).registration_open
    bulk(browser, "event", "rotate_key", [event.pk])
    assert EventKey.objects.get(event=event, active=True).pk != key.pk
    assert EventKey.objects.filter(event=event).count() == 2


def test_tickets_are_read_only_but_revocable(browser, world):
    ticket = world["mine"][0]
    html = page(browser, f"{ADMIN}/ticket/{ticket.pk}/change/")
    assert 'name="_save"' not in html
    browser.post(f"{ADMIN}/ticket/{ticket.pk}/change/", {"status": "revoked"})
    assert Ticket.objects.get(pk=ticket.pk).status == "valid"
    assert browser.get(f"{ADMIN}/ticket/{ticket.pk}/delete/").status_code == 403


def test_view_only_staff_cannot_revoke(world):
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(*__import__("django.contrib.auth.models", fromlist=["x"])
                                .Permission.objects.filter(codename="view_ticket"))
    Organiser.objects.get(pk=world["event"].organiser_id).members.add(viewer)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(viewer)
    html = page(client, f"{ADMIN}/ticket/")
    assert "Mario Bianchi" in html and 'value="revoke"' not in html
    bulk(client, "ticket", "revoke", [world["mine"][0].pk])
    assert Ticket.objects.get(pk=world["mine"][0].pk).status == "valid"


def test_adding_an_attendee_issues_a_ticket(browser, world):
    event = world["event"]
    speaker = TicketType.objects.create(event=event, name="Relatore", public=False)
    url = f"{ADMIN}/attendee/add/"
    html = page(browser, url)
    assert "Zeta pass" not in html and "Zeta Summit" not in html  # no other team's choices
    response = browser.post(url, {
        "event": event.pk, "name": "Luca Neri", "email": "Luca@Example.org",
        "organisation": "Comune di Lecco", "language": "it", "ticket_type": speaker.pk,
        "tickets-TOTAL_FORMS": 0, "tickets-INITIAL_FORMS": 0,
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    attendee = Attendee.objects.get(email="luca@example.org")
    (ticket,) = attendee.tickets.all()
    assert ticket.ticket_type == speaker and ticket.serial == 3
    event.refresh_from_db()
    assert event.issued_count == 3


@pytest.mark.parametrize(
    ("change", "field_text"),
    [
        ({"email": "MARIO@example.org"}, "already exists"),
        ({"email": "nope"}, "email"),
        ({"language": "xx"}, "language"),
        ({"ticket_type": "other-event"}, "ticket_type"),
        ({"name": "A\nB"}, "name"),
        ({"event": "full"}, "full"),
    ],
)
def test_adding_an_attendee_validates(browser, world, change, field_text):
    event = world["event"]
    data = {"event": event.pk, "name": "Luca Neri", "email": "luca@example.org",
            "organisation": "", "language": "it", "ticket_type": "",
            "tickets-TOTAL_FORMS": 0, "tickets-INITIAL_FORMS": 0}
    data.update(change)
    if change.get("ticket_type") == "other-event":
        data["ticket_type"] = TicketType.objects.create(
            event=make_event(event.organiser, slug="other-mine"), name="Altro").pk
    if change.get("event") == "full":
        Event.objects.filter(pk=event.pk).update(capacity=2)
        data["event"] = event.pk
    before = Attendee.objects.count()
    response = browser.post(f"{ADMIN}/attendee/add/", data)
    assert response.status_code == 200  # the form again, with the error
    assert "errornote" in response.content.decode() or "errorlist" in response.content.decode()
    assert Attendee.objects.count() == before


def test_deleting_an_attendee_frees_the_place(browser, world):
    attendee = world["mine"][0].attendee
    response = browser.post(f"{ADMIN}/attendee/{attendee.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Attendee.objects.filter(pk=attendee.pk).exists()
    event = Event.objects.get(pk=world["event"].pk)
    world["type"].refresh_from_db()
    assert (event.issued_count, world["type"].issued_count) == (1, 1)
    # in bulk too
    browser.post(f"{ADMIN}/attendee/", {"action": "delete_selected", "post": "yes",
                                        "_selected_action": [world["mine"][1].attendee_id]})
    assert Event.objects.get(pk=world["event"].pk).issued_count == 0


def test_event_form_refuses_capacity_below_issued(browser, world):
    event = world["event"]
    url = f"{ADMIN}/event/{event.pk}/change/"
    data = {
        "organiser": event.organiser_id, "name": event.name, "slug": event.slug,
        "description": "", "venue": event.venue, "address": event.address,
        "timezone": "Europe/Rome", "start_0": "2017-09-22", "start_1": "09:30:00",
        "end_0": "2017-09-22", "end_1": "17:00:00", "languages": ["it", "en"],
        "default_language": "it",
        "capacity": 1, "registration_open": "on",
        "ticket_types-TOTAL_FORMS": 1, "ticket_types-INITIAL_FORMS": 1,
        "ticket_types-MIN_NUM_FORMS": 0, "ticket_types-MAX_NUM_FORMS": 1000,
        "ticket_types-0-id": world["type"].pk, "ticket_types-0-event": event.pk,
        "ticket_types-0-name": "Ingresso", "ticket_types-0-name_it": "",
        "ticket_types-0-name_en": "",
        "ticket_types-0-price": "0", "ticket_types-0-capacity": "",
        "ticket_types-0-public": "on", "ticket_types-0-position": 0,
    }
    response = browser.post(url, data)
    assert response.status_code == 200 and "already issued" in response.content.decode()
    data["capacity"] = 2
    data["ticket_types-0-capacity"] = 1  # the type has 2 issued as well
    response = browser.post(url, data)
    assert response.status_code == 200 and "already issued" in response.content.decode()
    data["ticket_types-0-capacity"] = 5
    data["venue"] = "Altrove"
    response = browser.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    event.refresh_from_db()
    assert (event.capacity, event.venue, event.issued_count) == (2, "Altrove", 2)


def test_event_with_tickets_cannot_be_deleted(browser, world, organiser):
    event = world["event"]
    assert browser.get(f"{ADMIN}/event/{event.pk}/delete/").status_code == 403
    html = page(browser, f"{ADMIN}/event/")
    assert 'value="delete_selected"' not in html
    empty = make_event(organiser, slug="empty")
    response = browser.post(f"{ADMIN}/event/{empty.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Event.objects.filter(pk=empty.pk).exists()


def test_staff_cannot_change_team_membership_or_create_teams(browser, world, organiser):
    html = page(browser, f"{ADMIN}/organiser/{organiser.pk}/change/")
    assert "zeta-staff" not in html  # the user list is not offered
    assert browser.get(f"{ADMIN}/organiser/add/").status_code == 403
    assert browser.get(f"{ADMIN}/organiser/{organiser.pk}/delete/").status_code == 403


def test_signing_keys_cannot_be_deleted(browser, world):
    key = EventKey.objects.get(event=world["event"])
    assert browser.get(f"{ADMIN}/eventkey/{key.pk}/delete/").status_code == 403
    html = page(browser, f"{ADMIN}/eventkey/{key.pk}/change/")
    assert key.private_key not in html


def test_superuser_sees_everything(world):
    root = User.objects.create_superuser("root", "root@example.org", "pw")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(root)
    html = page(client, f"{ADMIN}/attendee/")
    assert "Segreto Rossi" in html and "Mario Bianchi" in html
    assert "Zeta Summit" in page(client, f"{ADMIN}/event/")
    page(client, f"{ADMIN}/event/{world['event_b'].pk}/change/")
    assert "zeta-staff" in page(client, f"{ADMIN}/organiser/{world['team_b'].pk}/change/")


def test_admin_pages_all_render(browser, world):
    """Every changelist, add and change page of the app renders for a staff member."""
    ticket = world["mine"][0]
    for url in [
        "/admin/", f"{ADMIN}/", f"{ADMIN}/event/add/", f"{ADMIN}/tickettype/add/",
        f"{ADMIN}/event/{world['event'].pk}/change/",
        f"{ADMIN}/tickettype/{world['type'].pk}/change/",
        f"{ADMIN}/attendee/{ticket.attendee_id}/change/",
        f"{ADMIN}/ticket/{ticket.pk}/change/",
    ]:
        assert_no_secrets(page(browser, url), url)


def test_adding_an_attendee_who_loses_the_last_place_to_a_concurrent_registration(
        browser, world, monkeypatch):
    """The form's checks pass, then another registration takes the last place before the
    admin saves: the database's guard refuses it, and the form comes back with the error
    (no error page, nothing saved). Simulated by a first check that saw the place free."""
    from tickets.admin import AttendeeAddForm

    event = world["event"]
    Event.objects.filter(pk=event.pk).update(capacity=2)  # taken by world's two attendees
    checked = AttendeeAddForm.clean

    def clean_with_a_stale_count(form):
        monkeypatch.setattr(AttendeeAddForm, "clean", checked)  # the retry checks afresh
        form.cleaned_data["event"].issued_count = 1
        return checked(form)

    monkeypatch.setattr(AttendeeAddForm, "clean", clean_with_a_stale_count)
    response = browser.post(f"{ADMIN}/attendee/add/", {
        "event": event.pk, "name": "Luca Neri", "email": "luca@example.org",
        "organisation": "", "language": "it", "ticket_type": "",
        "tickets-TOTAL_FORMS": 0, "tickets-INITIAL_FORMS": 0,
    })
    assert response.status_code == 200
    html = response.content.decode()
    assert "This event is full." in html and "Nothing was saved." in html
    assert not Attendee.objects.filter(email="luca@example.org").exists()
    event.refresh_from_db()
    assert event.issued_count == 2
