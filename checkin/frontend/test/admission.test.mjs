// The door page's offline admission rules against the shared table of cases
// (checkin/admission_cases.json; the server's two implementations run the same table in
// tests/checkin/test_admission_cases.py). Run: node --test checkin/frontend/test/
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { afterAccepted, rejection } from "../src/admission.js";

const table = JSON.parse(
  readFileSync(new URL("../../admission_cases.json", import.meta.url), "utf8"),
);
const EVENT = 1;
const OTHER_EVENT = 2;
const THIS_TYPE = 10;
const OTHER_TYPE = 11;

function setUp(row) {
  const rules = { ...table.defaults.list, ...(row.list || {}) };
  const now = new Date("2026-09-22T09:30:00Z");
  const list = {
    ticket_types: { all: null, this: [THIS_TYPE], other: [OTHER_TYPE] }[rules.types],
    allow_exit: rules.exit,
    allow_reentry: rules.reentry,
    opens_at: null,
    closes_at: null,
  };
  const ticket = { id: 7, version: 1, status: "valid", ticket_type: THIS_TYPE };
  const scan = { claimEvent: EVENT, eventId: EVENT, ticket, wasRevoked: false, version: 1, list };
  switch (row.ticket) {
    case "valid": break;
    case "revoked": Object.assign(scan, { ticket: null, wasRevoked: true }); break;
    case "old_version": ticket.version = 2; break; // the code is version 1
    case "unknown": scan.ticket = null; break;
    case "other_event": Object.assign(scan, { claimEvent: OTHER_EVENT, ticket: null }); break;
    default: throw new Error(`unknown ticket state ${row.ticket}`);
  }
  return { scan, rules, now };
}

for (const row of table.cases) {
  test(row.name, () => {
    const { scan, rules, now } = setUp(row);
    let presence = null;
    for (const direction of row.before || table.defaults.before) {
      const reason = rejection({ ...scan, presence, direction, now });
      assert.equal(reason, null, `the earlier ${direction} must be accepted`);
      presence = afterAccepted(presence, direction, now.toISOString());
    }
    // Outside the list's hours: closed since before the case's scan.
    if (!rules.open) scan.list.closes_at = new Date(now.getTime() - 1000).toISOString();
    const reason = rejection({ ...scan, presence, direction: row.direction, now });
    assert.deepEqual([reason === null ? "ok" : "rejected", reason], row.expect);
  });
}
