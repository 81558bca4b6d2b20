"""The lead code: printed for exhibitors, refused at every door."""

from __future__ import annotations

import pytest

from badges import lead, selectors
from tests.support.checkin import Door, make_device, make_list
from tickets import services, signing


def test_round_trip_and_tampering(settings):
    code = lead.lead_code(7, 12345)
    assert code.startswith("VL1-7-12345-") and len(code.split("-")[3]) == 16
    assert lead.parse_lead_code(code) == (7, 12345)
    assert lead.parse_lead_code(code.lower()) == (7, 12345)  # a scanner's case does not matter
    # The longest lead code is far from an entry code's length (the door page's offline check
    # refuses any other length before decoding), and "-" is not in the entry code's alphabet.
    longest = lead.lead_code(10**18 - 1, 10**18 - 1)
    assert len(longest) < signing.CODE_LENGTH and "-" in longest
    for forged in (lead.lead_code(7, 12346).replace("12346", "12345"),  # another ticket's mac
                   code.replace("VL1-7-", "VL1-8-"), code[:-1] + ("0" if code[-1] != "0" else "1"),
                   "VL1-0-1-0000000000000000", "", "VL1--", code + "A"):
        with pytest.raises(lead.InvalidLeadCode):
            lead.parse_lead_code(forged)
    settings.SECRET_KEY = "another-installation-" + "x" * 40
    with pytest.raises(lead.InvalidLeadCode):
        lead.parse_lead_code(code)  # minted by another installation


@pytest.mark.django_db
def test_the_lead_code_names_its_valid_ticket_only(event, register, organiser):
    from tests.support.factories import make_event

    ticket = register()
    code = lead.lead_code(event.pk, ticket.pk)
    assert selectors.ticket_for_lead_code(event, code) == ticket
    other = make_event(organiser, slug="other")
    assert selectors.ticket_for_lead_code(other, code) is None
    assert selectors.ticket_for_lead_code(event, "garbage") is None
    services.revoke_ticket(ticket)
    assert selectors.ticket_for_lead_code(event, code) is None


@pytest.mark.django_db
def test_the_lead_code_never_opens_a_door(event, register):
    """Posted to the door's scan endpoint, the lead code is an invalid code; the entry code of
    the same ticket is admitted."""
    ticket = register()
    checkin_list = make_list(event)
    _device, token = make_device(event, [checkin_list])
    door = Door(token, checkin_list)
    answer = door.scan(lead.lead_code(event.pk, ticket.pk))
    assert answer["status"] == "rejected" and answer["reason"] == "invalid"
    assert answer["attendee"] is None
    assert door.scan(services.ticket_code(ticket))["status"] == "ok"
