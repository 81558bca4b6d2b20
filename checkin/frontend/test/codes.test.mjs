// The door page's offline code reader (src/codes.js) against the shared vectors written by
// tests/tickets/test_code_format.py from the server's one implementation, tickets/signing.py.
// Run: node --test checkin/frontend/test/codes.test.mjs
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { base64urlDecode, parseCode, verifyCode } from "../src/codes.js";

const vectors = JSON.parse(readFileSync(new URL("./code_vectors.json", import.meta.url), "utf8"));
const keys = new Map(
  Object.entries(vectors.keys).map(([id, k]) => [
    Number(id),
    { event: k.event, key: base64urlDecode(k.public_key) },
  ]),
);

const claim = (c) =>
  c && { key_id: c.keyId, event_id: c.eventId, ticket_id: c.ticketId, version: c.version };

for (const row of vectors.codes) {
  test(row.name, () => {
    assert.deepEqual(claim(parseCode(row.text)), row.parsed, "parseCode");
    assert.deepEqual(claim(verifyCode(row.text, keys)), row.verified, "verifyCode");
  });
}
