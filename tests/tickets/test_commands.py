"""Management commands: seed_demo, create_organiser, import_attendees."""

from __future__ import annotations

import datetime as dt
import io
import json
import zoneinfo

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from tickets.management.commands import import_attendees as import_command
from tickets.models import ApiToken, Attendee, Event, EventKey, Organiser, Ticket, TicketType

pytestmark = pytest.mark.django_db

ROME = zoneinfo.ZoneInfo("Europe/Rome")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run(*args, **kwargs) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err, **kwargs)
    return out.getvalue(), err.getvalue()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count()
            for model in (Organiser, Event, TicketType, Attendee, Ticket, EventKey, User, ApiToken)}


def api_for(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


# --- seed_demo ----------------------------------------------------------------------------


def test_seed_demo_creates_the_demo_event(client):
    out, _ = run("seed_demo")
    event = Event.objects.get(slug="welfare-in-azione-2017")
    assert event.name == "Ma come gira questo Welfare"
    assert event.organiser.name == "Fondazione Cariplo"
    assert (event.venue, event.address) == ("Teatro Elfo Puccini",
                                            "Corso Buenos Aires 33, 20124 Milano")
    assert event.timezone == "Europe/Rome" and event.languages == ["it", "en"]
    assert event.start == dt.datetime(2017, 9, 22, 9, 30, tzinfo=ROME)
    assert event.end == dt.datetime(2017, 9, 22, 17, 0, tzinfo=ROME)
    assert event.start.astimezone(ROME).strftime("%A") == "Friday"
    (ticket_type,) = event.ticket_types.all()
    assert ticket_type.price == 0 and ticket_type.public
    assert event.keys.filter(active=True).count() == 1
    # the printed login works
    assert "organiser" in out and "welfare-2017" in out
    login = client.post("/admin/login/?next=/admin/",
                        {"username": "organiser", "password": "welfare-2017"})
    assert login.status_code == 302 and login["Location"] == "/admin/", login.status_code
    assert client.get("/admin/tickets/event/").status_code == 200


def test_seed_demo_is_idempotent():
    run("seed_demo", attendees=25)
    first = counts()
    out, _ = run("seed_demo", attendees=25)
    assert counts() == first
    assert first["Attendee"] == first["Ticket"] == 25
    assert "(0 new)" in out
    # asking for more adds only the difference, the first 25 are the same people
    emails = set(Attendee.objects.values_list("email", flat=True))
    run("seed_demo", attendees=40)
    assert Attendee.objects.count() == 40
    assert emails < set(Attendee.objects.values_list("email", flat=True))
    event = Event.objects.get()
    assert (event.issued_count, event.last_serial) == (40, 40)


def test_seed_demo_attendees_look_real():
    run("seed_demo", attendees=300)
    attendees = list(Attendee.objects.all())
    assert len(attendees) == 300
    assert len({a.organisation for a in attendees}) >= 250
    assert all(" " in a.name and a.email.endswith("@example.org") for a in attendees)
    assert {a.language for a in attendees} == {"it", "en"}
    assert sum(a.language == "it" for a in attendees) > 250  # Italian first
    assert len({a.email for a in attendees}) == 300


def test_seed_demo_export_writes_organiser_json(tmp_path):
    run("seed_demo", attendees=3, export=str(tmp_path / "demo"))
    data = json.loads((tmp_path / "demo" / "organiser.json").read_text())
    assert set(data) == {"username", "password", "api_token", "event_id", "event_slug"}
    event = Event.objects.get()
    assert (data["event_id"], data["event_slug"]) == (event.pk, "welfare-in-azione-2017")
    assert data["username"] == "organiser"
    assert User.objects.get(username="organiser").check_password(data["password"])
    client = api_for(data["api_token"])
    response = client.get(f"/api/v1/events/{data['event_id']}/attendees/")
    assert response.status_code == 200 and response.json()["count"] == 3
    # a second run exports the same credentials
    run("seed_demo", export=str(tmp_path / "demo"))
    assert json.loads((tmp_path / "demo" / "organiser.json").read_text()) == data


def test_seed_demo_refuses_negative_attendees():
    with pytest.raises(CommandError, match="--attendees"):
        run("seed_demo", attendees=-1)
    assert not Event.objects.exists()


# --- create_organiser ---------------------------------------------------------------------


def test_create_organiser_exports_credentials(tmp_path):
    path = tmp_path / "coop.json"
    out, _ = run("create_organiser", "Cooperativa Il Sole", user="mario",
                 email="mario@example.org", export=str(path))
    data = json.loads(path.read_text())
    assert set(data) == {"username", "password", "api_token"}
    assert data["username"] == "mario" and data["password"] in out
    user = User.objects.get(username="mario")
    assert user.is_staff and not user.is_superuser and user.check_password(data["password"])
    team = Organiser.objects.get(members=user)
    assert team.name == "Cooperativa Il Sole"
    # the token works and sees the team, and only it
    client = api_for(data["api_token"])
    assert [o["name"] for o in client.get("/api/v1/organisers/").json()["results"]] == [
        "Cooperativa Il Sole"
    ]
    response = client.post("/api/v1/events/", {
        "organiser": team.pk, "name": "Festa", "slug": "festa",
        "start": "2018-01-01T10:00:00+01:00", "end": "2018-01-01T12:00:00+01:00",
    }, format="json")
    assert response.status_code == 201, response.content


def test_create_organiser_twice_changes_nothing(tmp_path):
    run("create_organiser", "Coop", user="mario", email="mario@example.org", password="secret1")
    before = counts()
    run("create_organiser", "Coop", user="mario", email="mario@example.org",
        export=str(tmp_path / "again.json"))
    assert counts() == before
    data = json.loads((tmp_path / "again.json").read_text())
    assert data["password"] is None  # an existing user keeps their password
    assert User.objects.get(username="mario").check_password("secret1")


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (["Coop"], {"user": "m", "email": "not-an-email"}, "e-mail"),
        (["Coop"], {"user": "m", "email": ""}, "e-mail"),
        (["   "], {"user": "m", "email": "m@example.org"}, "name"),
    ],
)
def test_create_organiser_refuses_bad_input(args, kwargs, message):
    with pytest.raises(CommandError, match=message):
        run("create_organiser", *args, **kwargs)
    assert not Organiser.objects.exists() and not User.objects.exists()


def test_create_organiser_requires_user_and_email():
    with pytest.raises(CommandError):
        run("create_organiser", "Coop", email="m@example.org")


# --- import_attendees ---------------------------------------------------------------------


@pytest.fixture
def csv_file(tmp_path):
    def write(text: str, encoding: str = "utf-8"):
        path = tmp_path / "list.csv"
        path.write_bytes(text.encode(encoding))
        return str(path)

    return write


class RecordingBar:
    """Stands in for tqdm to see what the command reports as progress."""

    instances: list[RecordingBar] = []

    def __init__(self, *args, **kwargs) -> None:
        self.total = kwargs.get("total")
        self.n = 0
        self.seen: list[tuple[int, int]] = []
        self.closed = False
        RecordingBar.instances.append(self)

    def refresh(self) -> None:
        self.seen.append((self.n, self.total))

    def close(self) -> None:
        self.closed = True


def test_import_attendees_command(event, ticket_type, csv_file, monkeypatch):
    RecordingBar.instances = []
    monkeypatch.setattr(import_command, "tqdm", RecordingBar)
    rows = "".join(f"Persona {i};p{i}@example.org;Coop {i}\n" for i in range(12))
    out, _ = run("import_attendees", csv_file("nome;email;ente\n" + rows, "cp1252"),
                   event=event.slug)
    assert "12 imported, 0 skipped" in out
    assert Attendee.objects.filter(event=event).count() == 12
    (bar,) = RecordingBar.instances
    assert bar.seen[-1] == (12, 12) and bar.closed


def test_import_attendees_reports_errors_by_line_and_fails(event, ticket_type, csv_file):
    path = csv_file("name,email\nA,a@example.org\nB,nope\nC,\n")
    with pytest.raises(CommandError, match="2 bad row"):
        run("import_attendees", path, event=event.slug)
    assert not Attendee.objects.exists()


def test_import_attendees_exit_code_and_stderr(event, ticket_type, csv_file, capsys,
                                               monkeypatch):
    """What manage.py does with the command's failure: message on stderr, exit status 1."""
    from django.core.management import base

    from tickets.management.commands.import_attendees import Command

    # run_from_argv closes every connection when done, the test's own included
    monkeypatch.setattr(base.connections, "close_all", lambda: None)
    path = csv_file("name,email\nA,a@example.org\nB,nope\n")
    with pytest.raises(SystemExit) as exit_info:
        Command().run_from_argv(["manage.py", "import_attendees", path, "--event", event.slug])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "line 3: email: Not a valid e-mail address: 'nope'." in err
    assert "nothing imported" in err
    assert not Attendee.objects.exists()


def test_import_attendees_partial_and_skip_existing(event, ticket_type, csv_file, register):
    register(email="a@example.org")
    path = csv_file("name,email\nA,a@example.org\nB,nope\nC,c@example.org\n")
    out, err = run("import_attendees", path, event=event.slug, partial=True, skip_existing=True)
    assert "1 imported, 1 skipped, 1 bad row(s)" in out
    assert "line 3: email" in err
    assert sorted(Attendee.objects.values_list("email", flat=True)) == [
        "a@example.org", "c@example.org"
    ]


@pytest.mark.parametrize(
    ("kind", "message"),
    [("no event", "no event with slug"), ("no file", "cannot read"),
     ("bad file", "Missing column")],
)
def test_import_attendees_refuses(event, ticket_type, csv_file, tmp_path, kind, message):
    path = csv_file("nome\nA\n")
    slug = event.slug
    if kind == "no event":
        slug = "nope"
    elif kind == "no file":
        path = str(tmp_path / "missing.csv")
    with pytest.raises(CommandError, match=message):
        run("import_attendees", path, event=slug)
