"""The calendar entry (.ics) attached to ticket e-mails."""

from __future__ import annotations

import datetime as dt
import functools

from icalendar import Calendar
from icalendar import Event as CalendarEvent

from tickets.models import Event


def event_ics(event: Event, description: str) -> bytes:
    """An iCalendar file with one VEVENT. Times are in UTC, which every client converts.

    The UID is the event's, so a resent or reissued ticket updates the same calendar entry
    instead of adding a second one. Nothing personal goes in it, so it is made once per event
    version and language and reused for every attendee.
    """
    return _event_ics(event.pk, event.name, event.venue, event.address, event.start,
                      event.end, description)


@functools.lru_cache(maxsize=64)
def _event_ics(pk, name, venue, address, start, end, description) -> bytes:
    event = Event(pk=pk, name=name, venue=venue, address=address, start=start, end=end)
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
    calendar.add_component(entry)
    return calendar.to_ical()
