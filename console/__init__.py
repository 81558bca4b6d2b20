"""The organiser's console: Django's admin, branded, translated and arranged around the event.

The apps' ModelAdmins (``tickets/admin.py``, ``checkin/admin.py``) keep the rules (scoping to
the user's organisers, writes through services); this room adds what an organiser sees: the
site (``site.py``), the event home (``home.py`` + ``figures.py``), real widgets
(``widgets.py``, ``events.py``) and lists that answer questions (``attendees.py``). It sits
above ``checkin`` because the event home shows check-ins and pairs door devices.
"""
