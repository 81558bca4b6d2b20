// The door page's offline allowance of invalid codes (src/flood.js): the server's token bucket
// (checkin/scanning/flood.py) with the numbers the snapshot carries. Run: node --test test/
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { InvalidBudget } from "../src/flood.js";

function clock(start = 1_000_000) {
  const c = { now: start };
  c.fn = () => c.now;
  return c;
}

test("a burst is allowed, the next code is a flood", () => {
  const c = clock();
  const budget = new InvalidBudget({ rate: 5, burst: 20 }, c.fn);
  for (let i = 0; i < 20; i++) assert.equal(budget.take(), true, `code ${i}`);
  assert.equal(budget.take(), false);
  assert.equal(budget.take(), false);
});

test("the allowance refills at the rate", () => {
  const c = clock();
  const budget = new InvalidBudget({ rate: 5, burst: 2 }, c.fn);
  assert.equal(budget.take(), true);
  assert.equal(budget.take(), true);
  assert.equal(budget.take(), false);
  c.now += 100; // half a token at 5/s
  assert.equal(budget.take(), false);
  c.now += 100; // the half refused above spent nothing: one whole token now
  assert.equal(budget.take(), true);
  assert.equal(budget.take(), false);
  c.now += 60_000; // never more than the burst
  assert.equal(budget.take(), true);
  assert.equal(budget.take(), true);
  assert.equal(budget.take(), false);
});

test("a clock going back refills nothing", () => {
  const c = clock();
  const budget = new InvalidBudget({ rate: 5, burst: 1 }, c.fn);
  assert.equal(budget.take(), true);
  c.now -= 10_000;
  assert.equal(budget.take(), false);
  c.now += 10_100; // 100 ms after the last time seen: half a token
  assert.equal(budget.take(), false);
});

test("no limit without numbers or with rate 0 (the server's 'no limit')", () => {
  for (const limit of [null, undefined, { rate: 0, burst: 20 }, { rate: "x", burst: 1 }]) {
    const budget = new InvalidBudget(limit, clock().fn);
    for (let i = 0; i < 1000; i++) assert.equal(budget.take(), true);
  }
});

test("a burst below 1 is 1, like the server's", () => {
  const budget = new InvalidBudget({ rate: 0.01, burst: 0 }, clock().fn);
  assert.equal(budget.take(), true);
  assert.equal(budget.take(), false);
});

test("the server's 429 empties the allowance", () => {
  const c = clock();
  const budget = new InvalidBudget({ rate: 1, burst: 20 }, c.fn);
  budget.drain();
  assert.equal(budget.take(), false);
  c.now += 1000;
  assert.equal(budget.take(), true);
});

test("a fresh snapshot keeps what is left; the first numbers start full", () => {
  const c = clock();
  const budget = new InvalidBudget(null, c.fn);
  budget.take();
  budget.configure({ rate: 0.01, burst: 3 }); // numbers arrive: a full allowance
  assert.equal(budget.take(), true);
  assert.equal(budget.take(), true);
  budget.configure({ rate: 0.01, burst: 3 }); // the 10-minute snapshot: one left, not three
  assert.equal(budget.take(), true);
  assert.equal(budget.take(), false);
  budget.configure({ rate: 0.01, burst: 1 }); // a smaller burst caps what is left
  assert.equal(budget.take(), false);
  budget.configure(null); // another device: no numbers yet, no limit
  assert.equal(budget.take(), true);
});

// What the server's bucket answers (flood_vectors.json, written from checkin.scanning.flood by
// tests/checkin/test_flood_vectors.py): the page answers alike.
const vectors = JSON.parse(readFileSync(new URL("./flood_vectors.json", import.meta.url), "utf8"));
for (const scenario of vectors.scenarios) {
  test(`as the server: ${scenario.name}`, () => {
    const c = clock(0);
    const budget = new InvalidBudget(scenario.limit, c.fn);
    const answers = scenario.codes.map((code) => {
      c.now = code.at_ms;
      return budget.take();
    });
    assert.deepEqual(answers, scenario.codes.map((code) => code.allowed));
  });
}
