"""The permission matrix: every endpoint and page, as every kind of caller.

``MATRIX`` has a row per (method, route) — a route may have several rows for variants (a
tampered link, a list of another event) — and says what each role gets. The first test
checks the matrix against the URL resolver and the OpenAPI schema, so a new endpoint or
method without a row fails here until someone decides who may call it.

Roles (see docs/permissions.md):

- ``anonymous``: no credentials.
- ``attendee``: holds only the signed link of their own ticket (``/t/<token>/``); to anything
  else they are anonymous, and the link works for whoever has it.
- ``device``: a door device of the event (``Authorization: Token vd_…``, scoped to its lists).
- ``device_other``: a door device of another organiser's event.
- ``staff``: a member of the event's organiser team (session and API token).
- ``other_staff``: a member of another organiser's team (session and API token).
- ``admin``: a superuser, member of no team.

Every request targets event A (organiser A). Event B belongs to organiser B. Each event has a
marker attendee whose name and e-mail must never appear in an answer to a role that may not
see that event's attendees: the check runs on every response body.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished
from django.db import close_old_connections, transaction
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from tests.support.checkin import make_device, make_list
from tests.support.factories import make_event
from tickets import links, onboarding, services
from tickets.models import TicketType

ROLES = ("anonymous", "attendee", "device", "device_other", "staff", "other_staff", "admin")
USERS = ("staff", "other_staff", "admin")
NOT_USERS = ("anonymous", "attendee", "device", "device_other")
DEVICES = ("device", "device_other")

# Markers: attendees whose names and e-mails only the roles that may see the event's attendees
# may ever receive.
MARKER_A = ("Zebedeo Segreto", "zebedeo.segreto@example.org")
MARKER_B = ("Ottavia Nascosta", "ottavia.nascosta@example.org")
SEES_A = {"device", "staff", "admin"}
SEES_B = {"device_other", "other_staff", "admin"}


@dataclasses.dataclass
class World:
    event_a: Any
    event_b: Any
    empty_event_a: Any  # no tickets: the one staff may delete
    type_a: Any
    spare_type_a: Any  # no tickets: deletable
    holder: Any  # the attendee whose ticket link the "attendee" role holds
    marker_a: Any  # Ticket
    marker_b: Any
    list_a: Any
    spare_list_a: Any  # no scans: deletable
    list_b: Any
    device_a: Any
    device_b: Any
    scan_id: int
    seed_nonce: str
    clients: dict[str, APIClient]

    def own_list(self, role: str) -> int:
        """The list a device uses: its own (device B's cross-event probes use its own list)."""
        return (self.list_b if role == "device_other" else self.list_a).pk


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Set before the ``staff`` fixture hashes its password: this module creates three users
    per test and checks permissions, not password hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(settings, organiser, staff, event, ticket_type, register) -> World:
    settings.VARCO_SEND_ON_ISSUE = False
    spare = TicketType.objects.create(event=event, name="Ridotto")
    holder = register("Giulia Rossi", "giulia@example.org")
    marker_a = register(*MARKER_A, organisation="Ente Marcatore A")
    empty = make_event(organiser, slug="vuoto-2018")

    org_b = services.create_organiser("Altra Fondazione", "altra-fondazione")
    other, _, other_token = onboarding.create_staff_user(org_b, "other", "o@example.org", "pw")
    event_b = make_event(org_b, slug="altro-2018")
    type_b = TicketType.objects.create(event=event_b, name="Ingresso B")
    marker_b = services.register(
        event_b, services.Registration(*MARKER_B, "Ente Marcatore B", "it",
                                       ticket_type_id=type_b.pk)
    )
    admin = get_user_model().objects.create_superuser("root", "root@example.org", "pw")
    admin_token = onboarding.issue_api_token(admin)

    list_a, list_b = make_list(event), make_list(event_b)
    device_a, device_a_token = make_device(event, lists=[list_a])
    device_b, device_b_token = make_device(event_b, lists=[list_b], name="Porta B")

    clients = {role: APIClient() for role in ROLES}
    clients["device"].credentials(HTTP_AUTHORIZATION=f"Token {device_a_token}")
    clients["device_other"].credentials(HTTP_AUTHORIZATION=f"Token {device_b_token}")
    users = (("staff", staff, staff.api_token), ("other_staff", other, other_token),
             ("admin", admin, admin_token))
    for role, user, token in users:
        clients[role].credentials(HTTP_AUTHORIZATION=f"Token {token}")
        clients[role].force_login(user)

    # One accepted scan of marker A by device A: a scan-log row, a presence, a nonce to undo.
    nonce = str(uuid.uuid4())
    answer = clients["device"].post(
        "/api/v1/checkin/scan/",
        {"code": services.ticket_code(marker_a), "list": list_a.pk, "nonce": nonce},
        format="json",
    )
    assert answer.status_code == 200 and answer.json()["status"] == "ok", answer.content
    from checkin.models import ScanLog

    return World(
        event_a=event, event_b=event_b, empty_event_a=empty, type_a=ticket_type,
        spare_type_a=spare, holder=holder, marker_a=marker_a, marker_b=marker_b,
        list_a=list_a, spare_list_a=make_list(event, "Uscita laterale"), list_b=list_b,
        device_a=device_a, device_b=device_b,
        scan_id=ScanLog.objects.get(nonce=nonce).pk, seed_nonce=nonce, clients=clients,
    )


# --- the matrix --------------------------------------------------------------------------------

Expect = dict[str, int]


def organiser_api(ok: int) -> Expect:
    """Event-scoped organiser API: users of the team (and superusers) only; 404 for others."""
    return {**dict.fromkeys(NOT_USERS, 401), "other_staff": 404, "staff": ok, "admin": ok}


def user_api(ok: int, other: int | None = None) -> Expect:
    """Any authenticated organiser; answers are scoped to their own teams."""
    return {**dict.fromkeys(NOT_USERS, 401), "other_staff": ok if other is None else other,
            "staff": ok, "admin": ok}


def door(ok: int, other_device: int) -> Expect:
    """Door-device endpoints: device tokens only (an organiser's token is refused)."""
    return {**dict.fromkeys(ROLES, 401), "device": ok, "device_other": other_device}


def everyone(status: int) -> Expect:
    return dict.fromkeys(ROLES, status)


def public_docs() -> Expect:
    return everyone(200) | dict.fromkeys(DEVICES, 401)


def admin_page(staff: int, other: int, admin: int = 200) -> Expect:
    return {**dict.fromkeys(NOT_USERS, 302), "staff": staff, "other_staff": other, "admin": admin}


def dashboard_page() -> Expect:
    """Session pages: a login redirect without a session, 404 for another organiser."""
    return {**dict.fromkeys(NOT_USERS, 302), "other_staff": 404, "staff": 200, "admin": 200}


def live_feed() -> Expect:
    return {**dict.fromkeys(NOT_USERS, 401), "other_staff": 404, "staff": 200, "admin": 200}


Url = Callable[[World], str]
Body = Callable[[World, str], Any] | None


@dataclasses.dataclass(frozen=True)
class Row:
    method: str
    route: str  # as in the OpenAPI schema: /api/v1/events/{event_pk}/attendees/{id}/
    url: Url
    expect: Expect
    body: Body = None
    form: bool = False  # an HTML form post rather than JSON
    content_type: str | None = None
    variant: str = ""

    @property
    def id(self) -> str:
        return f"{self.method} {self.route}" + (f" [{self.variant}]" if self.variant else "")


def ev(w: World) -> str:
    return f"/api/v1/events/{w.event_a.pk}"


def event_body(w: World, role: str, slug: str = "nuovo-2019") -> dict:
    return {
        "organiser": w.event_a.organiser_id, "name": "Nuovo", "slug": f"{slug}-{role}",
        "venue": "Teatro", "address": "Via Roma 1, Milano", "timezone": "Europe/Rome",
        "start": "2019-05-01T09:00:00+02:00", "end": "2019-05-01T17:00:00+02:00",
    }


def scan_body(w: World, role: str) -> dict:
    return {"code": services.ticket_code(w.marker_a), "list": w.own_list(role),
            "nonce": str(uuid.uuid4())}


def foreign_list_scan(w: World, role: str) -> dict:
    return scan_body(w, role) | {"list": w.list_a.pk}


def manual_body(w: World, role: str) -> dict:
    return {"ticket": w.marker_a.pk, "list": w.own_list(role)}


def sync_body(w: World, role: str) -> dict:
    return {"scans": [{"ticket": w.marker_a.pk, "list": w.own_list(role),
                       "nonce": str(uuid.uuid4()), "scanned_at": "2017-09-22T08:00:00Z"}]}


def attendee_body(w: World, role: str) -> dict:
    return {"name": "Nuova Persona", "email": f"nuova-{role}@example.org"}


ORGANISER_API = [
    Row("GET", "/api/v1/organisers/", lambda w: "/api/v1/organisers/", user_api(200)),
    Row("GET", "/api/v1/organisers/{id}/",
        lambda w: f"/api/v1/organisers/{w.event_a.organiser_id}/", organiser_api(200)),
    Row("GET", "/api/v1/events/", lambda w: "/api/v1/events/", user_api(200)),
    # Another team's member cannot create an event for this team: the organiser is not theirs.
    Row("POST", "/api/v1/events/", lambda w: "/api/v1/events/", user_api(201, other=400),
        body=event_body),
    Row("GET", "/api/v1/events/{id}/", lambda w: ev(w) + "/", organiser_api(200)),
    Row("PUT", "/api/v1/events/{id}/", lambda w: ev(w) + "/", organiser_api(200),
        body=lambda w, r: event_body(w, r, "rinominato")),
    Row("PATCH", "/api/v1/events/{id}/", lambda w: ev(w) + "/", organiser_api(200),
        body=lambda w, r: {"venue": "Altro teatro"}),
    Row("DELETE", "/api/v1/events/{id}/", lambda w: f"/api/v1/events/{w.empty_event_a.pk}/",
        organiser_api(204)),
    Row("GET", "/api/v1/events/{event_pk}/ticket-types/", lambda w: ev(w) + "/ticket-types/",
        organiser_api(200)),
    Row("POST", "/api/v1/events/{event_pk}/ticket-types/", lambda w: ev(w) + "/ticket-types/",
        organiser_api(201), body=lambda w, r: {"name": f"Tipo {r}"}),
    *[Row(method, "/api/v1/events/{event_pk}/ticket-types/{id}/",
          lambda w: f"{ev(w)}/ticket-types/{w.spare_type_a.pk}/", organiser_api(ok),
          body=(lambda w, r: {"name": "Ridotto 2"}) if method in ("PUT", "PATCH") else None)
      for method, ok in (("GET", 200), ("PUT", 200), ("PATCH", 200), ("DELETE", 204))],
    Row("GET", "/api/v1/events/{event_pk}/attendees/", lambda w: ev(w) + "/attendees/",
        organiser_api(200)),
    Row("POST", "/api/v1/events/{event_pk}/attendees/", lambda w: ev(w) + "/attendees/",
        organiser_api(201), body=attendee_body),
    *[Row(method, "/api/v1/events/{event_pk}/attendees/{id}/",
          lambda w: f"{ev(w)}/attendees/{w.marker_a.attendee_id}/", organiser_api(ok),
          body=body)
      for method, ok, body in (
          ("GET", 200, None),
          ("PUT", 200, lambda w, r: {"name": MARKER_A[0], "email": MARKER_A[1],
                                     "organisation": "Nuovo ente", "language": "it"}),
          ("PATCH", 200, lambda w, r: {"organisation": "Nuovo ente"}),
          ("DELETE", 204, None))],
    Row("GET", "/api/v1/events/{event_pk}/attendees/export/",
        lambda w: ev(w) + "/attendees/export/", organiser_api(200)),
    Row("GET", "/api/v1/events/{event_pk}/badges.pdf",
        lambda w: ev(w) + "/badges.pdf", organiser_api(200)),
    Row("POST", "/api/v1/events/{event_pk}/attendees/import/",
        lambda w: ev(w) + "/attendees/import/", organiser_api(201),
        body=lambda w, r: f"name,email\nImportata,importata-{r}@example.org\n".encode(),
        content_type="text/csv"),
    Row("GET", "/api/v1/events/{event_pk}/tickets/", lambda w: ev(w) + "/tickets/",
        organiser_api(200)),
    Row("GET", "/api/v1/events/{event_pk}/tickets/{id}/",
        lambda w: f"{ev(w)}/tickets/{w.marker_a.pk}/", organiser_api(200)),
    *[Row("POST", f"/api/v1/events/{{event_pk}}/tickets/{{id}}/{action}/",
          lambda w, action=action: f"{ev(w)}/tickets/{w.marker_a.pk}/{action}/",
          organiser_api(ok))
      for action, ok in (("revoke", 200), ("reissue", 200), ("resend", 202))],
    Row("GET", "/api/v1/events/{event_pk}/audit/", lambda w: ev(w) + "/audit/",
        organiser_api(200)),
    Row("GET", "/api/v1/events/{event_pk}/checkin-lists/", lambda w: ev(w) + "/checkin-lists/",
        organiser_api(200)),
    Row("POST", "/api/v1/events/{event_pk}/checkin-lists/", lambda w: ev(w) + "/checkin-lists/",
        organiser_api(201), body=lambda w, r: {"name": f"Uscita {r}"}),
    *[Row(method, "/api/v1/events/{event_pk}/checkin-lists/{id}/",
          lambda w: f"{ev(w)}/checkin-lists/{w.spare_list_a.pk}/", organiser_api(ok),
          body=(lambda w, r: {"name": "Ingresso 2"}) if method in ("PUT", "PATCH") else None)
      for method, ok in (("GET", 200), ("PUT", 200), ("PATCH", 200), ("DELETE", 204))],
    Row("POST", "/api/v1/events/{event_pk}/checkin-lists/{id}/check-in/",
        lambda w: f"{ev(w)}/checkin-lists/{w.list_a.pk}/check-in/", organiser_api(200),
        body=lambda w, r: {"ticket": w.holder.pk}),
    Row("GET", "/api/v1/events/{event_pk}/devices/", lambda w: ev(w) + "/devices/",
        organiser_api(200)),
    Row("POST", "/api/v1/events/{event_pk}/devices/", lambda w: ev(w) + "/devices/",
        organiser_api(201), body=lambda w, r: {"name": f"Porta {r}", "gate": "C"}),
    *[Row(method, "/api/v1/events/{event_pk}/devices/{id}/",
          lambda w: f"{ev(w)}/devices/{w.device_a.pk}/", organiser_api(200),
          body=(lambda w, r: {"name": "Porta A2", "gate": "A"}) if method != "GET" else None)
      for method in ("GET", "PUT", "PATCH")],
    *[Row("POST", f"/api/v1/events/{{event_pk}}/devices/{{id}}/{action}/",
          lambda w, action=action: f"{ev(w)}/devices/{w.device_a.pk}/{action}/",
          organiser_api(200))
      for action in ("revoke", "rotate-token")],
    Row("GET", "/api/v1/events/{event_pk}/scans/", lambda w: ev(w) + "/scans/",
        organiser_api(200)),
    Row("GET", "/api/v1/events/{event_pk}/scans/{id}/",
        lambda w: f"{ev(w)}/scans/{w.scan_id}/", organiser_api(200)),
    *[Row("GET", f"/api/v1/events/{{event_id}}/attendance/{suffix}",
          lambda w, suffix=suffix: f"{ev(w)}/attendance/{suffix}", organiser_api(200))
      for suffix in ("", "checkins.csv", "no-shows.csv", "arrivals.svg")],
    # Public: no authentication at all (a token, even a device's, is ignored).
    Row("GET", "/api/v1/public/events/{slug}/",
        lambda w: f"/api/v1/public/events/{w.event_a.slug}/", everyone(200)),
    Row("POST", "/api/v1/public/events/{slug}/register/",
        lambda w: f"/api/v1/public/events/{w.event_a.slug}/register/", everyone(201),
        body=attendee_body),
]


def evb(w: World) -> str:
    return f"/api/v1/events/{w.event_b.pk}"


def cross_event() -> Expect:
    """Event A's object under event B's URL: the team of B may not reach it that way either."""
    return {**dict.fromkeys(NOT_USERS, 401), "staff": 404, "other_staff": 404, "admin": 404}


# The other team probes event A's objects through its own event's URLs (ids are guessable).
CROSS_EVENT = [
    *[Row(method, route, url, cross_event(), body=body, variant="A's object under B's event")
      for method, route, url, body in (
          ("GET", "/api/v1/events/{event_pk}/attendees/{id}/",
           lambda w: f"{evb(w)}/attendees/{w.marker_a.attendee_id}/", None),
          ("PATCH", "/api/v1/events/{event_pk}/attendees/{id}/",
           lambda w: f"{evb(w)}/attendees/{w.marker_a.attendee_id}/",
           lambda w, r: {"organisation": "Presa"}),
          ("DELETE", "/api/v1/events/{event_pk}/attendees/{id}/",
           lambda w: f"{evb(w)}/attendees/{w.marker_a.attendee_id}/", None),
          ("GET", "/api/v1/events/{event_pk}/tickets/{id}/",
           lambda w: f"{evb(w)}/tickets/{w.marker_a.pk}/", None),
          ("POST", "/api/v1/events/{event_pk}/tickets/{id}/revoke/",
           lambda w: f"{evb(w)}/tickets/{w.marker_a.pk}/revoke/", None),
          ("GET", "/api/v1/events/{event_pk}/ticket-types/{id}/",
           lambda w: f"{evb(w)}/ticket-types/{w.type_a.pk}/", None),
          ("GET", "/api/v1/events/{event_pk}/checkin-lists/{id}/",
           lambda w: f"{evb(w)}/checkin-lists/{w.list_a.pk}/", None),
          ("GET", "/api/v1/events/{event_pk}/devices/{id}/",
           lambda w: f"{evb(w)}/devices/{w.device_a.pk}/", None),
          ("POST", "/api/v1/events/{event_pk}/devices/{id}/rotate-token/",
           lambda w: f"{evb(w)}/devices/{w.device_a.pk}/rotate-token/", None),
          ("GET", "/api/v1/events/{event_pk}/scans/{id}/",
           lambda w: f"{evb(w)}/scans/{w.scan_id}/", None),
      )],
    # B's own list, A's ticket: refused without naming the attendee.
    Row("POST", "/api/v1/events/{event_pk}/checkin-lists/{id}/check-in/",
        lambda w: f"{evb(w)}/checkin-lists/{w.list_b.pk}/check-in/",
        {**dict.fromkeys(NOT_USERS, 401), "staff": 404, "other_staff": 200, "admin": 200},
        body=lambda w, r: {"ticket": w.marker_a.pk}, variant="A's ticket on B's list"),
    # B's new list or device cannot take A's ticket types or lists.
    Row("POST", "/api/v1/events/{event_pk}/checkin-lists/",
        lambda w: f"{evb(w)}/checkin-lists/",
        {**dict.fromkeys(NOT_USERS, 401), "staff": 404, "other_staff": 400, "admin": 400},
        body=lambda w, r: {"name": "Furba", "ticket_types": [w.type_a.pk]},
        variant="A's ticket type"),
    Row("POST", "/api/v1/events/{event_pk}/devices/", lambda w: f"{evb(w)}/devices/",
        {**dict.fromkeys(NOT_USERS, 401), "staff": 404, "other_staff": 400, "admin": 400},
        body=lambda w, r: {"name": "Furbo", "lists": [w.list_a.pk]}, variant="A's list"),
    Row("POST", "/api/v1/events/{event_pk}/attendees/", lambda w: f"{evb(w)}/attendees/",
        {**dict.fromkeys(NOT_USERS, 401), "staff": 404, "other_staff": 400, "admin": 400},
        body=lambda w, r: attendee_body(w, r) | {"ticket_type": w.type_a.pk},
        variant="A's ticket type"),
]

DOOR_API = [
    # Device B probes with its own list and event A's ticket: refused, and nothing of A shown.
    Row("POST", "/api/v1/checkin/scan/", lambda w: "/api/v1/checkin/scan/", door(200, 200),
        body=scan_body),
    Row("POST", "/api/v1/checkin/scan/", lambda w: "/api/v1/checkin/scan/", door(200, 403),
        body=foreign_list_scan, variant="event A's list"),
    Row("POST", "/api/v1/checkin/manual/", lambda w: "/api/v1/checkin/manual/", door(200, 200),
        body=manual_body),
    Row("POST", "/api/v1/checkin/manual/", lambda w: "/api/v1/checkin/manual/", door(200, 403),
        body=lambda w, r: manual_body(w, r) | {"list": w.list_a.pk}, variant="event A's list"),
    Row("POST", "/api/v1/checkin/annul/", lambda w: "/api/v1/checkin/annul/", door(200, 404),
        body=lambda w, r: {"nonce": w.seed_nonce}),
    Row("POST", "/api/v1/checkin/sync/", lambda w: "/api/v1/checkin/sync/", door(200, 200),
        body=sync_body),
    Row("POST", "/api/v1/checkin/sync/", lambda w: "/api/v1/checkin/sync/", door(200, 403),
        body=lambda w, r: {"scans": [sync_body(w, r)["scans"][0] | {"list": w.list_a.pk}]},
        variant="event A's list"),
    Row("GET", "/api/v1/checkin/snapshot/", lambda w: "/api/v1/checkin/snapshot/",
        door(200, 200)),
    Row("GET", "/api/v1/checkin/changes/",
        lambda w: "/api/v1/checkin/changes/?since=2017-01-01T00:00:00Z", door(200, 200)),
    Row("GET", "/api/v1/checkin/search/",
        lambda w: f"/api/v1/checkin/search/?q=Zebedeo&list={w.list_a.pk}", door(200, 403)),
    Row("GET", "/api/v1/checkin/search/", lambda w: "/api/v1/checkin/search/?q=Zebedeo",
        door(200, 200), variant="no list"),
    Row("GET", "/api/v1/checkin/device/", lambda w: "/api/v1/checkin/device/", door(200, 200)),
    Row("GET", "/api/v1/checkin/ping/", lambda w: "/api/v1/checkin/ping/", everyone(200)),
    Row("HEAD", "/api/v1/checkin/ping/", lambda w: "/api/v1/checkin/ping/", everyone(200)),
    Row("POST", "/api/v1/checkin/ping/", lambda w: "/api/v1/checkin/ping/", everyone(200)),
]


def ticket_link(w: World, suffix: str = "") -> str:
    return f"/t/{links.ticket_token(w.holder)}/{suffix}"


def tampered_link(w: World) -> str:
    """The marker's ticket id and version with the holder's signature: refused."""
    payload = links.ticket_token(w.marker_a).rsplit(":", 1)[0]
    signature = links.ticket_token(w.holder).rsplit(":", 1)[1]
    return f"/t/{payload}:{signature}/"


PAGES = [
    Row("GET", "/", lambda w: "/", everyone(302)),
    Row("GET", "/healthz", lambda w: "/healthz", everyone(200)),
    # The operators' metrics span every organiser: superusers (or the scraper's token) only.
    Row("GET", "/metrics", lambda w: "/metrics",
        {**dict.fromkeys(NOT_USERS, 401), "staff": 403, "other_staff": 403, "admin": 200}),
    Row("GET", "/favicon.ico", lambda w: "/favicon.ico", everyone(301)),
    # Public, but DRF authenticates a "Token" header when one is sent: a device's is refused.
    Row("GET", "/api/schema/", lambda w: "/api/schema/", public_docs()),
    Row("GET", "/api/docs/", lambda w: "/api/docs/", public_docs()),
    Row("GET", "/scan/", lambda w: "/scan/", everyone(200)),
    Row("GET", "/scan/sw.js", lambda w: "/scan/sw.js", everyone(200)),
    Row("GET", "/print/", lambda w: "/print/", everyone(200)),
    Row("GET", "/scan/manifest.webmanifest", lambda w: "/scan/manifest.webmanifest",
        everyone(200)),
    Row("GET", "/e/{slug}/register/", lambda w: f"/e/{w.event_a.slug}/register/", everyone(200)),
    Row("POST", "/e/{slug}/register/", lambda w: f"/e/{w.event_a.slug}/register/",
        everyone(302), body=lambda w, r: attendee_body(w, r) | {"ticket_type": w.type_a.pk},
        form=True),
    # Only the browser session that just registered sees the confirmation; others go back to
    # the form.
    Row("GET", "/e/{slug}/registered/", lambda w: f"/e/{w.event_a.slug}/registered/",
        everyone(302)),
    # "Send my ticket again": public, the same answer for any address (registered or not).
    Row("GET", "/e/{slug}/resend/", lambda w: f"/e/{w.event_a.slug}/resend/", everyone(200)),
    Row("POST", "/e/{slug}/resend/", lambda w: f"/e/{w.event_a.slug}/resend/", everyone(200),
        body=lambda w, r: {"email": f"nuova-{r}@example.org"}, form=True),
    # The logo printed on every ticket is public; this event has none.
    Row("GET", "/e/{slug}/logo", lambda w: f"/e/{w.event_a.slug}/logo", everyone(404)),
    # The signed link is the attendee's only credential: whoever holds it sees that ticket.
    Row("GET", "/t/{token}/", ticket_link, everyone(200)),
    Row("GET", "/t/{token}/", tampered_link, everyone(404), variant="tampered"),
    Row("GET", "/t/{token}/ticket.pdf", lambda w: ticket_link(w, "ticket.pdf"), everyone(200)),
    Row("GET", "/events/{event_id}/dashboard/",
        lambda w: f"/events/{w.event_a.pk}/dashboard/", dashboard_page()),
    Row("GET", "/events/{event_id}/dashboard/live/",
        lambda w: f"/events/{w.event_a.pk}/dashboard/live/", live_feed()),
    Row("GET", "/events/{event_id}/dashboard/stream/",
        lambda w: f"/events/{w.event_a.pk}/dashboard/stream/", live_feed()),
]

# The admin's URLs are generated per model, so they are not checked against the resolver; these
# rows cover its entry, the organiser-scoped models and a superuser-only one.
ADMIN = [
    Row("GET", "/admin/", lambda w: "/admin/", admin_page(200, 200)),
    *[Row("GET", f"/admin/{model}/", lambda w, model=model: f"/admin/{model}/",
          admin_page(200, 200))
      for model in ("tickets/event", "tickets/attendee", "tickets/ticket", "tickets/delivery",
                    "checkin/scanlog", "checkin/presence", "checkin/device",
                    "badges/badgelayout", "badges/badgecolour")],
    Row("GET", "/admin/tickets/attendee/{id}/change/",
        lambda w: f"/admin/tickets/attendee/{w.marker_a.attendee_id}/change/",
        admin_page(200, 302)),
    Row("GET", "/admin/tickets/event/{id}/change/",
        lambda w: f"/admin/tickets/event/{w.event_a.pk}/change/", admin_page(200, 302)),
    Row("GET", "/admin/auth/user/", lambda w: "/admin/auth/user/", admin_page(403, 403)),
]

def _station(w: World, role: str):
    """A print station of event A, and a layout to print on (inside the row's call)."""
    from badges import services as badge_services  # (only these rows need badges)
    from badges.jobs import stations

    if not w.event_a.badge_layouts.exists():
        badge_services.create_layout(w.event_a, name="Badge")
    station, _token = stations.create_station(w.event_a, f"Stampante {role}", [f"G-{role}"])
    return station


def _in_doubt_job(w: World) -> str:
    """A badge in doubt of event A (made inside the row's rolled-back call); its resolve URL."""
    from badges.jobs import queue  # (as _station)
    from badges.models import PrintJob

    station = _station(w, "doubt")
    job = queue.reprint(w.marker_a, "persa", station)
    PrintJob.objects.filter(pk=job.pk).update(state="in_doubt", handed_at=job.created_at,
                                              claimed_at=job.created_at, claim_token="0" * 32)
    return f"{ev(w)}/print-jobs/{job.pk}/resolve/"


def station_api() -> Expect:
    """Print station endpoints: a print station's token only; no role here holds one (a door
    device's and an organiser's token are refused: tests/badges/api/test_station.py has the
    station's own answers)."""
    return everyone(401)


STATION = "/api/v1/badges/station/"
PRINT_API = [
    Row("GET", "/api/v1/events/{event_pk}/print-jobs/", lambda w: ev(w) + "/print-jobs/",
        organiser_api(200)),
    Row("POST", "/api/v1/events/{event_pk}/print-jobs/reprint/",
        lambda w: ev(w) + "/print-jobs/reprint/", organiser_api(201),
        body=lambda w, r: {"ticket": str(w.marker_a.pk), "reason": "persa",
                           "station": _station(w, r).pk}),
    Row("POST", "/api/v1/events/{event_pk}/print-jobs/{job_id}/resolve/", _in_doubt_job,
        organiser_api(200), body=lambda w, r: {"printed": True}),
    Row("GET", "/api/v1/events/{event_pk}/print-stations/",
        lambda w: ev(w) + "/print-stations/", organiser_api(200)),
    Row("POST", "/api/v1/events/{event_pk}/print-stations/",
        lambda w: ev(w) + "/print-stations/", organiser_api(201),
        body=lambda w, r: {"name": f"Stampante {r}", "gates": [f"Porta {r}"]}),
    Row("GET", STATION, lambda w: STATION, station_api()),
    Row("POST", STATION + "claim/", lambda w: STATION + "claim/", station_api(),
        body=lambda w, r: {}),
    Row("GET", STATION + "jobs/{job_id}/badge.pdf",
        lambda w: STATION + "jobs/1/badge.pdf?claim=" + "0" * 32, station_api()),
    *[Row("POST", STATION + f"jobs/{{job_id}}/{action}/",
          lambda w, action=action: STATION + f"jobs/1/{action}/", station_api(),
          body=lambda w, r: {"claim": "0" * 32})
      for action in ("handed", "printed", "failed", "resolve")],
    Row("GET", STATION + "in-doubt/", lambda w: STATION + "in-doubt/", station_api()),
    Row("GET", STATION + "stream/", lambda w: STATION + "stream/", station_api()),
]

MATRIX = ORGANISER_API + CROSS_EVENT + DOOR_API + PRINT_API + PAGES + ADMIN


# --- the matrix is complete ---------------------------------------------------------------------


def _route(pattern) -> str:
    text = str(pattern.pattern)
    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", text)  # router regexes
    text = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", text)  # path() converters
    return text.replace("^", "").replace("$", "").replace("\\", "")


def resolver_routes(resolver: URLResolver | None = None, prefix: str = "/") -> set[str]:
    """Every route the project serves, except the admin's generated ones."""
    routes: set[str] = set()
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue
            routes |= resolver_routes(entry, prefix + _route(entry))
        elif isinstance(entry, URLPattern):
            routes.add((prefix + _route(entry)).replace("{pk}", "{id}"))
    return routes


def schema_operations() -> set[tuple[str, str]]:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}


def test_matrix_covers_every_route_and_operation():
    routes = {row.route for row in MATRIX if not row.route.startswith("/admin/")}
    assert routes == resolver_routes(), "every URL needs a row in MATRIX (and only real ones)"
    api_rows = {(row.method, row.route) for row in MATRIX if row.route.startswith("/api/v1/")}
    schema = schema_operations()
    assert schema <= api_rows, f"operations without a row: {sorted(schema - api_rows)}"
    # The door devices' API is in the schema too (checkin/api/schema.py).
    assert api_rows <= schema, f"operations outside the schema: {sorted(api_rows - schema)}"
    for row in MATRIX:
        assert set(row.expect) == set(ROLES), row.id


# --- every row as every role --------------------------------------------------------------------


def _call(w: World, row: Row, role: str):
    client = w.clients[role]
    url = row.url(w)
    body = row.body(w, role) if row.body else None
    method = getattr(client, row.method.lower())
    if row.form:
        return method(url, body)
    if row.content_type:
        return method(url, body, content_type=row.content_type)
    if body is not None:
        return method(url, body, format="json")
    return method(url)


def _leaks(role: str, content: bytes) -> list[str]:
    text = content.decode("utf-8", "replace").lower()
    hidden = []
    if role not in SEES_A:
        hidden += MARKER_A
    if role not in SEES_B:
        hidden += MARKER_B
    return [marker for marker in hidden if marker.lower() in text]


def _check(w: World, row: Row, role: str) -> str | None:
    """One call; the reason it is wrong, or None."""
    response = _call(w, row, role)
    try:
        content = b"" if getattr(response, "streaming", False) else response.content
        if response.status_code != row.expect[role]:
            return f"{role}: {response.status_code}, expected {row.expect[role]}: {content[:200]!r}"
        if row.expect[role] == 302 and role in NOT_USERS and row.route.startswith(
            ("/admin/", "/events/")
        ) and not response["Location"].startswith("/admin/login/"):
            return f"{role}: redirected to {response['Location']}, not to the login"
        if leaked := _leaks(role, content):
            return f"{role}: the answer shows {leaked}"
        return None
    finally:
        # A live stream gives its slot back. Closing fires request_finished, whose
        # close_old_connections would drop the test's connection (it is inside a transaction),
        # so it is detached meanwhile, as Django's test client does.
        request_finished.disconnect(close_old_connections)
        try:
            response.close()
        finally:
            request_finished.connect(close_old_connections)


@pytest.mark.parametrize("row", MATRIX, ids=lambda row: row.id)
def test_permission(world: World, row: Row):
    """The row as every role, each call rolled back so that a change one role makes (a
    deletion, a revocation) does not decide the next role's answer."""
    problems = []
    for role in ROLES:
        with transaction.atomic():
            problems.append(_check(world, row, role))
            transaction.set_rollback(True)
    assert [p for p in problems if p] == []


# The leak check must be able to fail: the roles that may see an event's attendees do get the
# markers from these endpoints.
VISIBLE = [
    ("staff", lambda w: f"{ev(w)}/attendees/", MARKER_A),
    ("admin", lambda w: f"{evb(w)}/attendees/", MARKER_B),
    ("staff", lambda w: f"{ev(w)}/attendance/checkins.csv", MARKER_A),
    ("device", lambda w: "/api/v1/checkin/snapshot/", MARKER_A[:1]),
    ("device_other", lambda w: "/api/v1/checkin/snapshot/", MARKER_B[:1]),
    ("other_staff", lambda w: "/admin/tickets/attendee/", MARKER_B),
]


@pytest.mark.parametrize("role, url, marker", VISIBLE, ids=[f"{v[0]}-{i}" for i, v in
                                                            enumerate(VISIBLE)])
def test_markers_show_where_allowed(world: World, role: str, url: Url, marker: tuple):
    response = world.clients[role].get(url(world))
    assert response.status_code == 200
    content = (b"".join(response.streaming_content) if response.streaming
               else response.content)
    text = content.decode().lower()
    assert all(value.lower() in text for value in marker)


# --- the admin shows nothing of another organiser ------------------------------------------------

# Names of organiser B's rows, distinct from anything of A's, which no page of A's may show:
# not in a list, a filter sidebar, a form's choices, an error message or a search result.
NAMES_B = {
    "organiser": "Fondazione Bravo Riservata", "event": "Convegno Bravo Riservato",
    "slug": "bravo-riservato-2018", "type": "Biglietto Bravo Riservato",
    "list": "Lista Bravo Riservata", "device": "Porta Bravo Riservata",
    "gate": "Cancello Bravo Riservato", "staff": "utente-bravo-riservato",
}
HIDDEN_B = (*NAMES_B.values(), *MARKER_B, "Ente Marcatore B")


def _name_b(w: World) -> dict[type, list[int]]:
    """Give B's rows their names, add B's scan log and presence; B's ids by model."""
    from checkin.models import CheckinList, Device, Presence, ScanLog
    from tickets.models import Event, EventKey, Organiser, Ticket

    Organiser.objects.filter(pk=w.event_b.organiser_id).update(name=NAMES_B["organiser"])
    Event.objects.filter(pk=w.event_b.pk).update(name=NAMES_B["event"], slug=NAMES_B["slug"])
    TicketType.objects.filter(event=w.event_b).update(name=NAMES_B["type"])
    CheckinList.objects.filter(pk=w.list_b.pk).update(name=NAMES_B["list"])
    Device.objects.filter(pk=w.device_b.pk).update(name=NAMES_B["device"], gate=NAMES_B["gate"])
    get_user_model().objects.filter(username="other").update(username=NAMES_B["staff"])
    answer = w.clients["device_other"].post(
        "/api/v1/checkin/scan/",
        {"code": services.ticket_code(w.marker_b), "list": w.list_b.pk,
         "nonce": str(uuid.uuid4())}, format="json")
    assert answer.status_code == 200 and answer.json()["status"] == "ok", answer.content
    in_b = {"event": w.event_b}
    return {
        Organiser: [w.event_b.organiser_id], Event: [w.event_b.pk],
        TicketType: list(TicketType.objects.filter(**in_b).values_list("pk", flat=True)),
        Ticket: [w.marker_b.pk], w.marker_b.attendee.__class__: [w.marker_b.attendee_id],
        CheckinList: [w.list_b.pk], Device: [w.device_b.pk],
        ScanLog: list(ScanLog.objects.filter(**in_b).values_list("pk", flat=True)),
        Presence: list(Presence.objects.filter(**in_b).values_list("pk", flat=True)),
        EventKey: list(EventKey.objects.filter(**in_b).values_list("pk", flat=True)),
        get_user_model(): list(get_user_model().objects.filter(
            username=NAMES_B["staff"]).values_list("pk", flat=True)),
    }


def _admin_pages(w: World, ids_b: dict[type, list[int]], user) -> list[str]:
    """Every admin page of every registered model: lists (plain, with counts, searched,
    filtered by B's ids), add forms, A's and B's change/history/delete pages, and the
    autocomplete of every relation."""
    from django.contrib import admin as django_admin
    from django.contrib.admin.utils import get_fields_from_path
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    pages = ["/admin/", "/admin/tickets/", "/admin/checkin/"]
    # The console's event pages (console/site.py), A's and B's: B's must be a 404.
    for event_id in (w.event_a.pk, *ids_b[w.event_a.__class__]):
        pages += [f"/admin/events/{event_id}/", f"/admin/events/{event_id}/figures.json",
                  f"/admin/events/{event_id}/devices/add/", f"/admin/events/{event_id}/badges/",
                  f"/admin/tickets/event/{event_id}/import/",
                  f"/admin/audit/auditentry/?event_id={event_id}"]
    for model, model_admin in django_admin.site._registry.items():
        app, name = model._meta.app_label, model._meta.model_name
        base = f"/admin/{app}/{name}/"
        pages += [base, f"{base}?_facets=1", f"{base}?q=Bravo", f"{base}?q=Ottavia",
                  f"{base}add/", f"{base}?e=1"]
        for item in model_admin.get_list_filter(request):
            path = item[0] if isinstance(item, (list, tuple)) else item
            if not isinstance(path, str):
                continue
            field = get_fields_from_path(model, path)[-1]
            for pk in ids_b.get(field.related_model, []) if field.is_relation else []:
                pages += [f"{base}?{path}__id__exact={pk}",
                          f"{base}?{path}__id__exact={pk}&_facets=1"]
        own = list(model_admin.get_queryset(request).values_list("pk", flat=True)[:2])
        for pk in [*own, *ids_b.get(model, [])]:
            pages += [f"{base}{pk}/change/", f"{base}{pk}/history/", f"{base}{pk}/delete/"]
        for field in model._meta.get_fields():
            if field.is_relation and field.concrete:
                pages.append(f"/admin/autocomplete/?app_label={app}&model_name={name}"
                             f"&field_name={field.name}&term=Bravo")
    return pages


def _posts_with_b_choices(w: World, ids_b: dict[type, list[int]]) -> list[tuple[str, dict]]:
    """Add forms sent with B's rows as choices: the refusal must not name them."""
    from checkin.models import CheckinList

    type_b = ids_b[TicketType][0]
    return [
        ("/admin/checkin/device/add/", {"event": w.event_a.pk, "name": "Nuova", "gate": "N",
                                        "lists": [w.list_b.pk]}),
        ("/admin/checkin/checkinlist/add/", {"event": w.event_a.pk, "name": "Nuova",
                                             "ticket_types": [type_b]}),
        ("/admin/checkin/checkinlist/add/", {"event": w.event_b.pk, "name": "Nuova"}),
        ("/admin/tickets/attendee/add/", {"event": w.event_a.pk, "name": "Nuovo",
                                          "email": "nuovo@example.org", "language": "it",
                                          "ticket_type": type_b}),
        ("/admin/tickets/tickettype/add/", {"event": w.event_b.pk, "name": "Nuovo",
                                            "price": "0", "position": "0"}),
        (f"/admin/checkin/checkinlist/{w.list_a.pk}/change/",
         {"event": w.event_a.pk, "name": w.list_a.name, "ticket_types": [type_b]}),
        ("/admin/tickets/ticket/", {"action": "resend", "_selected_action": [w.marker_b.pk]}),
        ("/admin/checkin/device/", {"action": "revoke",
                                    "_selected_action": [w.device_b.pk]}),
        ("/admin/tickets/attendee/", {"action": "revoke_tickets",
                                      "_selected_action": [w.marker_b.attendee_id]}),
        ("/admin/tickets/attendee/", {"action": "resend_tickets",
                                      "_selected_action": [w.marker_b.attendee_id]}),
        # The event home's actions on B's event: refused (404), nothing done.
        (f"/admin/events/{w.event_b.pk}/send/", {}),
        (f"/admin/events/{w.event_b.pk}/registration/", {"open": "0"}),
        (f"/admin/events/{w.event_b.pk}/devices/add/", {"name": "Intrusa", "gate": ""}),
        (f"/admin/events/{w.event_b.pk}/badges/print/", {"sort": "name"}),
        ("/admin/tickets/attendee/", {"action": "reprint_badges", "apply": "1",
                                      "reason": "Intrusa",
                                      "_selected_action": [w.marker_b.attendee_id]}),
        # The import into B's event: refused, nothing previewed or imported.
        (f"/admin/tickets/event/{w.event_b.pk}/import/", {"file": SimpleUploadedFile(
            "b.csv", b"name,email\nIntrusa,intrusa@example.org\n", "text/csv")}),
    ] + [(f"/admin/checkin/checkinlist/{pk}/delete/", {"post": "yes"})
         for pk in CheckinList.objects.filter(event=w.event_b).values_list("pk", flat=True)]


def _shown(content: bytes) -> list[str]:
    text = content.decode("utf-8", "replace").lower()
    return [name for name in HIDDEN_B if name.lower() in text]


def test_admin_shows_nothing_of_another_organiser(world: World, staff):
    """Every admin page as organiser A's staff, with B's event, types, lists, devices, scans
    and presences present: none of B's names appears, and the counts are A's alone."""
    from django.contrib import admin as django_admin

    w = world
    ids_b = _name_b(w)
    client = w.clients["staff"]
    leaks: list[str] = []
    for url in _admin_pages(w, ids_b, staff):
        response = client.get(url, follow=True)
        assert response.status_code in (200, 400, 403, 404), (url, response.status_code)
        if shown := _shown(response.content):
            leaks.append(f"GET {url}: {shown}")
        changelist = (response.context or {}).get("cl")
        if changelist is not None and "?" not in url:  # "0 of N selected", "N total"
            scoped = django_admin.site._registry[changelist.model].get_queryset(
                response.wsgi_request).count()
            assert changelist.full_result_count == scoped, url
    for url, data in _posts_with_b_choices(w, ids_b):
        with transaction.atomic():
            response = client.post(url, data, follow=True)
            transaction.set_rollback(True)
        assert response.status_code in (200, 403, 404), (url, response.status_code)
        if shown := _shown(response.content):
            leaks.append(f"POST {url}: {shown}")
        if f"/admin/events/{w.event_b.pk}/" in url:
            assert response.status_code == 404, url
        if f"/event/{w.event_b.pk}/import/" in url:  # no preview of B's import either
            assert b"intrusa@example.org" not in response.content, url
    assert leaks == []


def test_the_event_home_counts_only_its_event(world: World, staff):
    """The event home's numbers are A's alone, with B's registrations and scans present."""
    w = world
    _name_b(w)
    figures = w.clients["staff"].get(f"/admin/events/{w.event_a.pk}/figures.json").json()
    assert figures["registrations"] == w.event_a.attendees.count() == 2
    assert (figures["checked_in"], figures["inside"]) == (1, 1)  # marker A, scanned in
    assert figures["devices"] == 1
    assert w.clients["other_staff"].get(
        f"/admin/events/{w.event_a.pk}/figures.json").status_code == 404


def test_the_admin_walk_can_see_a_leak(world: World):
    """The check above can fail: a superuser's pages do show B's names."""
    w = world
    ids_b = _name_b(w)
    admin_user = get_user_model().objects.get(username="root")
    seen = set()
    for url in _admin_pages(w, ids_b, admin_user):
        if "/admin/checkin/" in url and "?" not in url and url.count("/") == 4:
            seen.update(_shown(w.clients["admin"].get(url, follow=True).content))
    assert {NAMES_B["device"], NAMES_B["list"], NAMES_B["event"]} <= seen
