"""The ticket code format has one Python owner (``tickets.signing``) and one offline reader
(the door page's ``checkin/frontend/src/codes.js``).

- ``tickets.signing.parse_code``/``verify_code`` (int() base-32 decoding, libsodium) agree with
  an independent reference written here from the format's definition: the stdlib's
  ``base64.b32decode`` with a canonical re-encoding check, and OpenSSL's Ed25519 through
  ``cryptography``.
- ``checkin/frontend/test/code_vectors.json`` is what the Python implementation answers for a
  fixed set of codes (valid, tampered, wrong key, non-canonical, wrong length, …), and
  ``node --test checkin/frontend/test/codes.test.mjs`` holds ``codes.js`` to the same answers.
  After a deliberate change of the format: ``VARCO_WRITE_CODE_VECTORS=1 pytest
  tests/tickets/test_code_format.py`` rewrites the file (then review the diff).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.factories import make_event
from tickets import services, signing
from tickets.models import TicketType
from tickets.signing import InvalidCode, TicketClaim, keyring, parse_code, verify_code

ROOT = Path(__file__).resolve().parents[2]
TEST_DIR = ROOT / "checkin" / "frontend" / "test"
VECTORS = TEST_DIR / "code_vectors.json"

_PAYLOAD = struct.Struct(">BIIIH")
_PAD = "=" * (-signing.CODE_LENGTH % 8)


# --- the independent reference ----------------------------------------------------------------

def reference_parse(code: str) -> tuple[TicketClaim, bytes, bytes]:
    text = code.strip().upper()
    if len(text) != signing.CODE_LENGTH:
        raise InvalidCode("wrong length")
    try:
        raw = base64.b32decode(text + _PAD)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCode("not base32") from exc
    if base64.b32encode(raw)[: signing.CODE_LENGTH] != text.encode():
        raise InvalidCode("not canonical")  # the last character's unused bits must be zero
    payload, signature = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
    fmt, key_id, event_id, ticket_id, version = _PAYLOAD.unpack(payload)
    if fmt != signing.FORMAT:
        raise InvalidCode("unknown format")
    return TicketClaim(key_id, event_id, ticket_id, version), payload, signature


def reference_verify(code: str, public_key_for) -> TicketClaim:
    claim, payload, signature = reference_parse(code)
    found = public_key_for(claim.key_id)
    if found is None or found[0] != claim.event_id:
        raise InvalidCode("unknown key")
    try:
        found[1].verify(signature, payload)
    except InvalidSignature as exc:
        raise InvalidCode("bad signature") from exc
    return claim


def _outcome(check, *args):
    try:
        return check(*args)
    except InvalidCode:
        return "invalid"


@pytest.mark.django_db
def test_parser_agrees_with_the_reference(register):
    code = services.ticket_code(register())
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abcz0189 _+-=\n"

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet=alphabet, min_size=125, max_size=129), st.integers(0, 126),
           st.sampled_from("ABQ7Z2a0_ "))
    def check(noise, position, char):
        variant = code[:position] + char + code[position + 1:]
        for text in (noise, variant, code, " " + code.lower() + "\n", code[:-1] + "B"):
            assert _outcome(parse_code, text) == _outcome(reference_parse, text)

    check()
    assert _outcome(parse_code, code) != "invalid"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_parser_agrees_with_the_reference_on_any_text(text):
    assert _outcome(parse_code, text) == _outcome(reference_parse, text)


@pytest.mark.django_db
def test_verifier_agrees_with_the_reference(register, organiser):
    codes = [services.ticket_code(register(email=f"v{i}@example.org")) for i in range(3)]
    other = make_event(organiser, slug="other-conf")
    TicketType.objects.create(event=other, name="X")
    codes.append(services.ticket_code(services.register(
        other, services.Registration("Anna", "a@example.org"))))

    @settings(max_examples=150, deadline=None)
    @given(st.sampled_from(codes), st.integers(0, 126), st.sampled_from("AB7Z2"))
    def check(code, position, char):
        tampered = code[:position] + char + code[position + 1:]
        for candidate in (code, tampered, code.lower(), code[:-1]):
            assert _outcome(verify_code, candidate, keyring.get) == _outcome(
                reference_verify, candidate, keyring.get)

    check()
    assert _outcome(verify_code, codes[0], keyring.get) != "invalid"


# --- the shared vectors for the door page's codes.js --------------------------------------------

def _key(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)


def _public(private: Ed25519PrivateKey) -> str:
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _sign_raw(private: Ed25519PrivateKey, fmt: int, claim: TicketClaim) -> str:
    payload = _PAYLOAD.pack(fmt, claim.key_id, claim.event_id, claim.ticket_id, claim.version)
    return base64.b32encode(payload + private.sign(payload)).decode().rstrip("=")


def _with_char(code: str, position: int, char: str) -> str:
    if code[position] == char:
        char = "B" if char != "B" else "C"
    return code[:position] + char + code[position + 1:]


def vectors() -> dict:
    """The codes and what ``tickets.signing`` answers for each (deterministic: fixed keys,
    and Ed25519 signatures are deterministic)."""
    # key id -> (event id, private key); key 9 belongs to another event
    keys = {3: (1, _key(1)), 4: (1, _key(2)), 9: (2, _key(3))}
    stranger = _key(7)  # no event has it
    good = TicketClaim(3, 1, 42, 1)
    valid = signing.sign_ticket(keys[3][1], good)
    # The last character's 3 unused low bits are zero in the one canonical spelling; setting
    # one spells the same bytes another way.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    non_canonical = valid[:-1] + alphabet[alphabet.index(valid[-1]) | 1]
    cases = [
        ("valid", valid),
        ("valid, other ticket and version", signing.sign_ticket(
            keys[3][1], TicketClaim(3, 1, 4_000_000_000, 65_535))),
        ("valid, rotated key", signing.sign_ticket(keys[4][1], TicketClaim(4, 1, 7, 2))),
        ("valid, lower case with whitespace", f"  {valid.lower()}\r\n"),
        ("tampered payload", _with_char(valid, 20, "A")),
        ("tampered signature", _with_char(valid, 60, "A")),
        ("signed with a key the event does not have", signing.sign_ticket(stranger, good)),
        ("key of another event", signing.sign_ticket(keys[9][1], TicketClaim(9, 1, 42, 1))),
        ("unknown key id", signing.sign_ticket(keys[3][1], TicketClaim(77, 1, 42, 1))),
        ("non-canonical last character", non_canonical),
        ("wrong length: one short", valid[:-1]),
        ("wrong length: one long", valid + "A"),
        ("wrong length: empty", ""),
        ("not base32: digit 1", _with_char(valid, 30, "1")),
        ("not base32: padding", valid[:-1] + "="),
        ("unknown format", _sign_raw(keys[3][1], 2, good)),
    ]
    lookup = {key_id: (event_id, private.public_key())
              for key_id, (event_id, private) in keys.items()}

    def claim_of(check, *args):
        try:
            claim = check(*args)
        except InvalidCode:
            return None
        claim = claim[0] if isinstance(claim, tuple) else claim
        return {"key_id": claim.key_id, "event_id": claim.event_id,
                "ticket_id": claim.ticket_id, "version": claim.version}

    return {
        "comment": "Written by tests/tickets/test_code_format.py from tickets/signing.py; read by "
                   "codes.test.mjs against src/codes.js. Do not edit by hand.",
        "keys": {str(key_id): {"event": event_id, "public_key": _public(private)}
                 for key_id, (event_id, private) in keys.items()},
        "codes": [
            {"name": name, "text": text, "parsed": claim_of(parse_code, text),
             "verified": claim_of(verify_code, text, lookup.get)}
            for name, text in cases
        ],
    }


def test_vectors_are_what_the_python_implementation_answers():
    expected = json.dumps(vectors(), indent=1, ensure_ascii=False) + "\n"
    if os.environ.get("VARCO_WRITE_CODE_VECTORS"):
        VECTORS.write_text(expected)
    assert VECTORS.read_text() == expected, (
        "checkin/frontend/test/code_vectors.json differs from what tickets.signing answers: "
        "rewrite it with VARCO_WRITE_CODE_VECTORS=1 and review the diff")
    answers = {c["name"]: (c["parsed"] is not None, c["verified"] is not None)
               for c in vectors()["codes"]}
    # each kind of code is what its name says (the vectors test something)
    assert answers["valid"] == answers["valid, lower case with whitespace"] == (True, True)
    assert answers["tampered signature"] == (True, False)
    assert answers["signed with a key the event does not have"] == (True, False)
    assert answers["non-canonical last character"] == (False, False)
    assert answers["wrong length: one short"] == answers["unknown format"] == (False, False)


def test_door_page_reads_the_vectors_alike():
    node = shutil.which("node")
    assert node, "node is needed for the door page's tests (Debian: apt-get install nodejs)"
    done = subprocess.run(
        [node, "--test", str(TEST_DIR / "codes.test.mjs")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    count = len(json.loads(VECTORS.read_text())["codes"])
    assert f"# pass {count}" in done.stdout and "# fail 0" in done.stdout
