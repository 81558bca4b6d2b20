"""The calendar entry (.ics) attached to ticket e-mails."""

from __future__ import annotations

import datetime as dt

from icalendar import Calendar
from icalendar import Event as CalendarEvent

from tickets.models import Event


def event_ics(event: Event, description: str, url: str = "") -> bytes:
    """An iCalendar file with one VEVENT. Times are in UTC, which every client converts.

    The UID is the event's, so a resent or reissued ticket updates the same calendar entry
    instead of adding a second one.
    """
    calendar = Calendar()
    calendar.add("prodid", "-//Varco//Tickets//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    entry = CalendarEvent()
    entry.add("uid", f"varco-event-{event.pk}@varco")
    entry.add("dtstamp", dt.datetime.now(dt.UTC))
    entry.add("dtstart", event.start.astimezone(dt.UTC))
    entry.add("dtend", event.end.astimezone(dt.UTC))
    entry.add("summary", event.name)
    location = ", ".join(part for part in (event.venue, event.address) if part)
    if location:
        entry.add("location", location)
    if description:
        entry.add("description", description)
    if url:
        entry.add("url", url)
    calendar.add_component(entry)
    return calendar.to_ical()
