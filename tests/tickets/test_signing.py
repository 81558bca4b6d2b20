"""Signed QR codes: round trip, tampering, other events' keys, rotation, references."""

from __future__ import annotations

import base64
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.factories import make_event
from tickets import services, signing
from tickets.signing import InvalidCode, keyring, verify_code

pytestmark = pytest.mark.django_db


def _verify(code: str):
    return verify_code(code, keyring.get)


def test_round_trip(register):
    ticket = register()
    code = services.ticket_code(ticket)
    assert len(code) == signing.CODE_LENGTH
    assert code.isalnum() and code.upper() == code  # QR alphanumeric mode
    claim = _verify(code)
    assert (claim.event_id, claim.ticket_id, claim.version) == (
        ticket.event_id, ticket.pk, ticket.version
    )
    assert _verify(f"  {code.lower()}\r\n") == claim  # scanners add whitespace


@pytest.mark.parametrize("position", [0, 5, 20, 60, 126])
def test_one_character_changed_is_rejected(register, position):
    code = services.ticket_code(register())
    replacement = "A" if code[position] != "A" else "B"
    tampered = code[:position] + replacement + code[position + 1 :]
    with pytest.raises(InvalidCode):
        _verify(tampered)


@pytest.mark.parametrize(
    "garbage",
    ["", "hello", "A" * signing.CODE_LENGTH, "1" * signing.CODE_LENGTH, "x" * 100_000,
     "!" * signing.CODE_LENGTH, "\x00" * 10],
)
def test_garbage_is_rejected(garbage):
    with pytest.raises(InvalidCode):
        _verify(garbage)


def test_truncated_is_rejected(register):
    code = services.ticket_code(register())
    for cut in (1, 10, 64):
        with pytest.raises(InvalidCode):
            _verify(code[:-cut])


def test_another_events_key_is_rejected(register, organiser):
    ticket = register()
    other = make_event(organiser, slug="other")
    other_key = other.keys.get()
    claim = signing.TicketClaim(other_key.pk, ticket.event_id, ticket.pk, ticket.version)
    forged = signing.sign_ticket(services.signing_key(other_key), claim)
    with pytest.raises(InvalidCode, match="another event"):
        _verify(forged)
    # signed with the right key id but a different private key
    own_key = ticket.event.keys.get()
    claim = signing.TicketClaim(own_key.pk, ticket.event_id, ticket.pk, ticket.version)
    forged = signing.sign_ticket(services.signing_key(other_key), claim)
    with pytest.raises(InvalidCode, match="signature"):
        _verify(forged)


def test_rotation_keeps_old_codes_valid(register, event):
    ticket = register()
    old_code = services.ticket_code(ticket)
    services.rotate_event_key(event)
    new_code = services.ticket_code(ticket)
    assert old_code != new_code
    assert _verify(old_code) == signing.parse_code(old_code)[0]
    assert _verify(new_code).key_id != _verify(old_code).key_id


def test_verification_needs_no_database_after_warmup(register, django_assert_num_queries):
    code = services.ticket_code(register())
    _verify(code)
    with django_assert_num_queries(0):
        _verify(code)
        with pytest.raises(InvalidCode):
            _verify(code[:-1] + ("A" if code[-1] != "A" else "B"))


def test_reference_normalisation():
    assert signing.normalise_reference("k7qx m2p9") == "K7QX-M2P9"
    assert signing.normalise_reference("ioL0-0000") == "1010-0000"
    assert signing.normalise_reference("short") == ""


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes(text):
    with contextlib.suppress(InvalidCode):
        signing.parse_code(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=signing.CODE_BYTES, max_size=signing.CODE_BYTES))
def test_random_well_formed_codes_fail_signature(raw):
    public = signing.load_public_key(signing.generate_keypair()[1])
    code = base64.b32encode(raw).decode().rstrip("=")
    with pytest.raises(InvalidCode):
        verify_code(code, lambda key_id: (signing.parse_code(code)[0].event_id, public))


def test_references_use_every_letter_in_every_place():
    # new_reference cuts 40 random bits in eight letters of a 32-letter alphabet: each place
    # must take each letter (a wrong shift or mask would leave letters or places out).
    seen = [set() for _ in range(8)]
    for _ in range(3000):
        reference = signing.new_reference()
        assert len(reference) == 9 and reference[4] == "-"
        for place, letter in enumerate(reference.replace("-", "")):
            seen[place].add(letter)
    assert all(letters == set(signing._REFERENCE_ALPHABET) for letters in seen)
