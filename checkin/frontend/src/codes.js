// Offline verification of Varco QR codes: the same format as tickets/signing.py (parse_code,
// verify_code), the server's one implementation. test/code_vectors.json, written from it by
// tests/tickets/test_code_format.py, holds this file to the same answers (test/codes.test.mjs).
// A code is base32(payload || Ed25519 signature), 127 characters, upper case, no padding;
// payload = format (1) | key id (4) | event id (4) | ticket id (4) | version (2), big-endian.
import * as ed from "@noble/ed25519";
import { sha512 } from "@noble/hashes/sha2.js";

ed.hashes.sha512 = sha512;

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const LOOKUP = new Map([...ALPHABET].map((c, i) => [c, i]));
const PAYLOAD_BYTES = 15;
const CODE_BYTES = PAYLOAD_BYTES + 64;
export const CODE_LENGTH = Math.ceil((CODE_BYTES * 8) / 5); // 127
const FORMAT = 1;

function base32Decode(text) {
  const out = new Uint8Array(CODE_BYTES);
  let buffer = 0;
  let bits = 0;
  let index = 0;
  for (const char of text) {
    const value = LOOKUP.get(char);
    if (value === undefined) return null;
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      if (index < CODE_BYTES) out[index++] = (buffer >> bits) & 0xff;
    }
    buffer &= (1 << bits) - 1;
  }
  // The unused low bits of the last character must be zero: one spelling per code.
  if (index !== CODE_BYTES || buffer !== 0) return null;
  return out;
}

export function base64urlDecode(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** Parse without verifying: {keyId, eventId, ticketId, version, payload, signature} or null. */
export function parseCode(text) {
  const clean = String(text).trim().toUpperCase();
  if (clean.length !== CODE_LENGTH) return null;
  const raw = base32Decode(clean);
  if (!raw) return null;
  const view = new DataView(raw.buffer);
  if (view.getUint8(0) !== FORMAT) return null;
  return {
    keyId: view.getUint32(1),
    eventId: view.getUint32(5),
    ticketId: view.getUint32(9),
    version: view.getUint16(13),
    payload: raw.slice(0, PAYLOAD_BYTES),
    signature: raw.slice(PAYLOAD_BYTES),
  };
}

/**
 * Verify a code with the event's public keys (Map keyId -> {event, key: Uint8Array}).
 * Returns the claim or null for anything forged, altered or unknown.
 */
export function verifyCode(text, keys) {
  const claim = parseCode(text);
  if (!claim) return null;
  const key = keys.get(claim.keyId);
  if (!key || key.event !== claim.eventId) return null;
  try {
    return ed.verify(claim.signature, claim.payload, key.key) ? claim : null;
  } catch (error) {
    return null;
  }
}
