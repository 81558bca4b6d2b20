"""Issue 10, leaks: an admin filter offers only values of the user's own rows, whatever filter
a future change adds (``OrganiserScopedAdmin.get_list_filter``). The full walk of every admin
page is ``test_admin_shows_nothing_of_another_organiser`` in tests/system/test_permissions.py."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory

from tests.support.factories import make_event
from tickets import services
from tickets.admin import OrganiserScopedAdmin
from tickets.models import Attendee, TicketType

pytestmark = pytest.mark.django_db

SECRETS_B = ("Convegno Bravo Riservato", "Teatro Bravo Riservato", "Fondazione Bravo Riservata")


class ProbeAdmin(OrganiserScopedAdmin):
    """Filters as someone might add them: bare names, across relations."""

    list_filter = ["event", "event__venue", "event__organiser", "event__organiser__name",
                   "language", "event__registration_open"]


def _choices(user) -> str:
    request = RequestFactory().get("/admin/tickets/attendee/")
    request.user = user
    changelist = ProbeAdmin(Attendee, admin.site).get_changelist_instance(request)
    return " | ".join(str(choice["display"]) for spec in changelist.filter_specs
                      for choice in spec.choices(changelist))


def test_no_filter_offers_another_organisers_values(staff, organiser, event, register):
    register()
    second = make_event(organiser, slug="seconda", name="Seconda Giornata", venue="Sala Due")
    TicketType.objects.create(event=second, name="Ingresso")
    services.register(second, services.Registration("A", "a@example.org", "", "it"))
    org_b = services.create_organiser(SECRETS_B[2], "bravo")
    event_b = make_event(org_b, slug="bravo", name=SECRETS_B[0], venue=SECRETS_B[1])
    TicketType.objects.create(event=event_b, name="Ingresso")
    services.register(event_b, services.Registration("B", "b@example.org", "", "it"))
    shown = _choices(staff)
    # the filters do offer A's values (a filter with a single value is not shown)
    assert all(value in shown for value in (event.venue, event.name, "Sala Due"))
    assert [secret for secret in SECRETS_B if secret in shown] == []


def test_a_superuser_still_gets_every_value(django_user_model, event, register):
    register()
    org_b = services.create_organiser(SECRETS_B[2], "bravo")
    make_event(org_b, slug="bravo", name=SECRETS_B[0], venue=SECRETS_B[1])
    root = django_user_model.objects.create_superuser("root", "root@example.org", "pw")
    shown = _choices(root)
    assert all(secret in shown for secret in SECRETS_B)
