"""Business logic for events, registration, tickets and keys (writes; reads are in selectors).

Every function here is the one place its rule is enforced: the API, the admin, the public
registration page, management commands and the CSV import all call these (``from tickets
import services; services.register(...)``). One module per process:

- ``validation``: the text and e-mail rules of every write path;
- ``events``: organisers, events, ticket types;
- ``event_design``: the ticket's look (logo, brand colour, practical information, languages);
- ``registration``: registering an attendee and issuing their ticket, editing an attendee;
- ``capacity``: taking and freeing places (the lock order);
- ``lifecycle``: revoking, reissuing, deleting an attendee;
- ``keys``: event signing keys and the ticket code.

Issuing, reissuing and revoking send the signals of ``tickets.signals`` after commit.
"""

from tickets.services.event_design import (
    LOGO_MAX_BYTES,
    PRACTICAL_SECTIONS,
    clean_brand_color,
    clean_design_fields,
    clean_logo,
    clean_practical_info,
)
from tickets.services.events import (
    create_event,
    create_organiser,
    delete_event,
    delete_ticket_type,
    save_event,
    save_ticket_type,
    set_registration_open,
    ticket_type_name_taken,
    update_event,
)
from tickets.services.keys import (
    KeyNotOpened,
    ensure_event_key,
    reencrypt_event_keys,
    rotate_event_key,
    signing_key,
    ticket_code,
)
from tickets.services.lifecycle import delete_attendee, reissue_ticket, revoke_ticket
from tickets.services.registration import (
    Registration,
    duplicate_email,
    email_taken,
    issue_ticket_for,
    register,
    update_attendee,
    validate_registration,
)
from tickets.services.validation import (
    ATTENDEE_TEXT,
    EVENT_TEXT,
    ORGANISER_TEXT,
    TICKET_TYPE_TEXT,
    clean_email,
    clean_text_fields,
)

__all__ = [
    "ATTENDEE_TEXT",
    "EVENT_TEXT",
    "LOGO_MAX_BYTES",
    "ORGANISER_TEXT",
    "PRACTICAL_SECTIONS",
    "TICKET_TYPE_TEXT",
    "KeyNotOpened",
    "Registration",
    "clean_brand_color",
    "clean_design_fields",
    "clean_email",
    "clean_logo",
    "clean_practical_info",
    "clean_text_fields",
    "create_event",
    "create_organiser",
    "delete_attendee",
    "delete_event",
    "delete_ticket_type",
    "duplicate_email",
    "email_taken",
    "ensure_event_key",
    "issue_ticket_for",
    "reencrypt_event_keys",
    "register",
    "reissue_ticket",
    "revoke_ticket",
    "rotate_event_key",
    "save_event",
    "save_ticket_type",
    "set_registration_open",
    "signing_key",
    "ticket_code",
    "ticket_type_name_taken",
    "update_attendee",
    "update_event",
    "validate_registration",
]
