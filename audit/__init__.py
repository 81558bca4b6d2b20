"""The audit log: who changed what, when — every organiser action that changes data.

A room of its own under ``tickets`` and ``checkin`` (they call ``audit.services.record`` inside
the transaction of the change, so a change and its record commit or roll back together) and
over ``core``. Entries name what they are about by id *and* by a label taken at the time, with
no foreign keys: an entry outlives the event, attendee, device or user it names, and nothing
can cascade into the log (on PostgreSQL a trigger refuses UPDATE and DELETE on it).
"""
