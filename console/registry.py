"""The console's ModelAdmins in place of the apps' own, on the console's site.

Run by ``VarcoAdminConfig.ready`` after autodiscover. Each console class subclasses the app's
ModelAdmin, so the app's rules (scoping, services) are kept and a change to them (another
branch's search, a new field) reaches the console without touching this room.
"""

from __future__ import annotations

from django.contrib.admin import AdminSite

from checkin.models import CheckinList, Device
from console.attendees import ConsoleAttendeeAdmin
from console.events import (
    ConsoleCheckinListAdmin,
    ConsoleDeviceAdmin,
    ConsoleEventAdmin,
    ConsoleTicketTypeAdmin,
)
from tickets.models import Attendee, Event, TicketType

REPLACED = {Event: ConsoleEventAdmin, TicketType: ConsoleTicketTypeAdmin,
            Attendee: ConsoleAttendeeAdmin, CheckinList: ConsoleCheckinListAdmin,
            Device: ConsoleDeviceAdmin}


def install(site: AdminSite) -> None:
    for model, model_admin in REPLACED.items():
        if site.is_registered(model):
            site.unregister(model)
        site.register(model, model_admin)
