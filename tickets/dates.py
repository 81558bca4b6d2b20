"""When an event takes place, written out in the event's time zone and a reader's language.

The PDF ticket, the e-mail, the calendar entry's description and the attendee pages all say
the date the same way, so it is written in one place: e.g. "venerdì 22 settembre 2017,
09:30-17:00" in Italian, "Friday 22 September 2017, 09:30-17:00" in English.
"""

from __future__ import annotations

import datetime as dt

from django.utils import formats, translation
from django.utils.html import format_html
from django.utils.safestring import SafeString

from tickets.models import Event


def local_span(event: Event) -> tuple[dt.datetime, dt.datetime]:
    """Start and end in the event's own time zone (not the server's, not the reader's)."""
    tz = event.tzinfo
    return event.start.astimezone(tz), event.end.astimezone(tz)


DASH = "\u2013"  # en dash, as typography wants between times


def _day(value: dt.datetime, language: str) -> str:
    with translation.override(language):
        text = formats.date_format(value, "l j F Y")
    # Django's Italian names are capitalised; Italian writes days and months in lower case.
    return text.lower() if language == "it" else text


def event_when(event: Event, language: str) -> str:
    start, end = local_span(event)
    if start.date() == end.date():
        return f"{_day(start, language)}, {start:%H:%M}{DASH}{end:%H:%M}"
    return f"{_day(start, language)} {start:%H:%M} {DASH} {_day(end, language)} {end:%H:%M}"


def event_when_html(event: Event, language: str) -> SafeString:
    """``event_when`` for a web page: each clock time stays on one line with its dash (at
    390 px the range broke into "09:30-" and "17:00"; a line may break only between words)."""
    start, end = local_span(event)
    if start.date() == end.date():
        return format_html('{}, <span class="nowrap">{}{}{}</span>', _day(start, language),
                           f"{start:%H:%M}", DASH, f"{end:%H:%M}")
    return format_html('{} <span class="nowrap">{} {}</span> {} <span class="nowrap">{}</span>',
                       _day(start, language), f"{start:%H:%M}", DASH, _day(end, language),
                       f"{end:%H:%M}")
