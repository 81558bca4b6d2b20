// The scanner-or-person timing (src/wedge.js) and the pairing link parsing (src/pairing.js).
// Run: node --test checkin/frontend/test/
import assert from "node:assert/strict";
import { test } from "node:test";
import { isPairingLink, tokenFrom, tokenFromHash } from "../src/pairing.js";
import { Burst } from "../src/wedge.js";

function typeInto(burst, text, start, gap, field = null) {
  let t = start;
  for (const char of text) {
    burst.key(char, t, field);
    if (field) field.value += char;
    t += gap;
  }
  return t - gap;
}

test("a scanner's burst ending in Enter is a code", () => {
  const burst = new Burst();
  const last = typeInto(burst, "ABCDEFGH234567", 1000, 4);
  assert.deepEqual(burst.enter(last + 5), { code: "ABCDEFGH234567", field: null, before: null });
  assert.ok(burst.empty);
});

test("a person typing is not a scanner, however they end", () => {
  const burst = new Burst();
  const last = typeInto(burst, "giulia rossi", 0, 140);
  assert.equal(burst.enter(last + 150), null);
  // fast bursts of two or three keys (key rollover) are not codes either
  const again = typeInto(burst, "zoe", 5000, 8);
  assert.equal(burst.enter(again + 10), null);
});

test("a pause starts a new burst: what a person typed before is not part of the code", () => {
  const burst = new Burst();
  const field = { value: "" };
  const slow = typeInto(burst, "mar", 0, 150, field);
  const last = typeInto(burst, "CODE123456", slow + 2000, 3, field);
  const got = burst.enter(last + 3);
  assert.equal(got.code, "CODE123456");
  assert.equal(got.before, "mar"); // the search box gets its text back
  assert.equal(got.field, field);
});

test("an Enter long after the last key is a person's", () => {
  const burst = new Burst();
  const last = typeInto(burst, "ABCDEFGH", 0, 3);
  assert.equal(burst.enter(last + 1000), null);
});

test("a slow phone or Bluetooth link still counts as a scanner", () => {
  const burst = new Burst();
  const last = typeInto(burst, "X".repeat(127), 0, 30);
  assert.equal(burst.enter(last + 40).code.length, 127);
});

test("the pairing token comes out of a pasted link or fragment", () => {
  assert.equal(tokenFrom("  vd_abc-DEF_123  "), "vd_abc-DEF_123");
  assert.equal(tokenFrom("https://door.example.org:8100/scan/#pair=vd_abc-DEF_123"),
               "vd_abc-DEF_123");
  assert.equal(tokenFrom("http://127.0.0.1:8000/scan/#lang=en&pair=vd_x%2Dy\n"), "vd_x-y");
  assert.equal(tokenFrom("https://x/scan/#pair=vd_%zz"), "vd_%zz");
  assert.equal(tokenFromHash("#pair=vd_abc"), "vd_abc");
  assert.equal(tokenFromHash("#something"), null);
  assert.equal(tokenFromHash(""), null);
  assert.equal(tokenFromHash("#pair="), null);
  assert.ok(isPairingLink("https://x/scan/#pair=vd_abc"));
  assert.ok(isPairingLink("https://x/scan/#lang=en&pair=vd_abc"));
  assert.ok(!isPairingLink("AEAAAAAB2345"));
  assert.ok(!isPairingLink("https://x/scan/?pair=vd_abc")); // the token never goes in a query
  assert.ok(!isPairingLink("https://x/scan/#pair="));
});
