"""The explicit list of what the audit log records: one code per organiser action.

Every ``audit.services.record`` call names one of these codes (an unknown code is a
programming error, refused at once), and the console shows the label. A new action that
changes data gets a line here first; ``tests/audit/test_actions.py`` checks each is recorded.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

ACTIONS: dict[str, str] = {
    # events and their settings
    "event.created": _("Event created"),
    "event.changed": _("Event changed"),
    "event.deleted": _("Event deleted"),
    "event.registration_opened": _("Registration opened"),
    "event.registration_closed": _("Registration closed"),
    "event.key_rotated": _("Signing key rotated"),
    "ticket_type.created": _("Ticket type created"),
    "ticket_type.changed": _("Ticket type changed"),
    "ticket_type.deleted": _("Ticket type deleted"),
    # attendees and their tickets
    "attendee.added": _("Attendee added by the organiser"),
    "attendee.changed": _("Attendee changed"),
    "attendee.deleted": _("Attendee deleted"),
    "attendees.imported": _("Attendees imported"),
    "ticket.revoked": _("Ticket revoked"),
    "ticket.reissued": _("Ticket reissued (new code)"),
    "ticket.resent": _("Ticket e-mail sent again"),
    "tickets.sent": _("Unsent tickets sent"),
    # the door
    "list.created": pgettext_lazy("check-in list", "List created"),
    "list.changed": pgettext_lazy("check-in list", "List changed"),
    "list.deleted": pgettext_lazy("check-in list", "List deleted"),
    "device.created": _("Door device added"),
    "device.changed": _("Door device changed"),
    "device.token_rotated": _("Door device re-paired (new token)"),
    "device.revoked": _("Door device revoked"),
    # name badges
    "badge_layout.created": _("Badge layout created"),
    "badge_layout.changed": _("Badge layout changed"),
    "badge_colour.set": _("Badge colour set"),
    # print on arrival
    "print_station.created": _("Print station added"),
    "print_station.changed": _("Print station changed"),
    "print_station.token_rotated": _("Print station re-paired (new token)"),
    "print_station.revoked": _("Print station revoked"),
    "list_printing.set": _("Badge printing set for a list"),
    "list_printing.removed": _("Badge printing removed from a list"),
    "print_job.reprinted": _("Badge printed again"),
    "print_job.resolved": _("Badge in doubt resolved"),
}


def label(code: str) -> str:
    return str(ACTIONS.get(code, code))
