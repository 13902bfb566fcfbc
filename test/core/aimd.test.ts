// The adaptive concurrency controller (core/aimd.ts), driven by a made-up clock and latencies.
import { test } from "node:test";
import assert from "node:assert/strict";
import { AimdController } from "../../src/core/aimd.js";

/** Answers of `ms` each, one at a time, with the limit in use; returns the limit after. */
function answers(c: AimdController, n: number, ms: number, clock: { t: number }, kind = "first-token"): number {
  for (let i = 0; i < n; i++) {
    clock.t += ms;
    c.onLatency({ kind, ms, inFlight: c.limit, now: clock.t });
  }
  return c.limit;
}

test("starts from what is known of the server, never above the cap or below 1", () => {
  assert.equal(new AimdController({ initial: 32, max: 256 }).limit, 32);
  assert.equal(new AimdController({ initial: 32, max: 8 }).limit, 8);
  assert.equal(new AimdController({ initial: 0, max: 8 }).limit, 1);
});

test("slow start: one slot per answer at the limit until the first decrease, up to the cap", () => {
  const clock = { t: 0 };
  const c = new AimdController({ initial: 4, max: 64 });
  answers(c, 4, 100, clock);
  assert.equal(c.limit, 8, "four answers at a limit of 4 add four slots");
  answers(c, 8, 100, clock);
  assert.equal(c.limit, 16, "the limit doubles per round trip");
  answers(c, 100, 100, clock);
  assert.equal(c.limit, 64, "the cap holds");
});

test("additive increase after the first decrease: one slot per `limit` answers while latency holds, up to the cap", () => {
  const clock = { t: 0 };
  const c = new AimdController({ initial: 8, max: 6 });
  c.onOverload(clock.t);
  assert.equal(c.limit, 3);
  answers(c, 3, 100, clock);
  assert.equal(c.limit, 4, "three answers at a limit of 3 add one slot");
  answers(c, 4, 100, clock);
  assert.equal(c.limit, 5);
  answers(c, 100, 100, clock);
  assert.equal(c.limit, 6, "the cap holds");
});

test("an idle limit does not grow: answers with slots to spare say nothing of the server", () => {
  const c = new AimdController({ initial: 8, max: 64 });
  for (let t = 0; t < 1000; t++) c.onLatency({ kind: "answer", ms: 50, inFlight: 2, now: t * 50 });
  assert.equal(c.limit, 8);
});

test("multiplicative decrease on rising latency, once per round trip", () => {
  const clock = { t: 0 };
  const c = new AimdController({ initial: 20, max: 64 });
  answers(c, 10, 100, clock);
  const before = c.limit;
  // A burst of slow answers arriving together (same instant): one decrease.
  for (let i = 0; i < 20; i++) c.onLatency({ kind: "first-token", ms: 1000, inFlight: c.limit, now: clock.t });
  assert.equal(c.limit, Math.floor(before * 0.8));
  assert.equal(c.counts.latencyDecreases, 1);
  // Still slow a round trip later: another decrease.
  clock.t += 2000;
  c.onLatency({ kind: "first-token", ms: 1000, inFlight: c.limit, now: clock.t });
  assert.ok(c.limit < Math.floor(before * 0.8));
});

test("latency is compared per kind: slow scoring answers beside fast first tokens are not a rise", () => {
  const clock = { t: 0 };
  const c = new AimdController({ initial: 8, max: 64 });
  for (let i = 0; i < 50; i++) {
    clock.t += 100;
    c.onLatency({ kind: "first-token", ms: 20, inFlight: c.limit, now: clock.t });
    c.onLatency({ kind: "answer", ms: 900, inFlight: c.limit, now: clock.t });
  }
  assert.equal(c.counts.latencyDecreases, 0);
  assert.ok(c.limit > 8);
});

test("an overload halves the limit once per event and holds new requests for Retry-After", () => {
  const clock = { t: 1000 };
  const c = new AimdController({ initial: 32, max: 64 });
  answers(c, 3, 100, clock);
  assert.equal(c.limit, 35);
  c.onOverload(clock.t, 2000);
  c.onOverload(clock.t + 1, 2000); // a second request refused by the same overload
  assert.equal(c.limit, 17);
  assert.equal(c.resumeAt, clock.t + 1 + 2000, "the latest Retry-After holds");
  assert.equal(c.counts.overloads, 2);
  // After the wait, a new overload halves again.
  c.onOverload(clock.t + 2500);
  assert.equal(c.limit, 8);
  for (let i = 0; i < 20; i++) c.onOverload(clock.t + 10_000 * (i + 1));
  assert.equal(c.limit, 1, "never below 1");
});

test("recovers after an overload: additive increase again once latency holds", () => {
  const clock = { t: 0 };
  const c = new AimdController({ initial: 16, max: 64 });
  answers(c, 5, 100, clock);
  assert.equal(c.limit, 21, "slow start until the overload");
  c.onOverload(clock.t);
  assert.equal(c.limit, 10);
  answers(c, 10 + 11 + 12, 100, clock);
  assert.equal(c.limit, 13);
});

test("answers to requests sent before a decrease do not cut again: one overload, one decrease", () => {
  const clock = { t: 0 };
  const c = new AimdController({ initial: 64, max: 256 });
  answers(c, 10, 100, clock);
  const before = c.limit;
  // Requests queued at the server come back slow for seconds after the limit came down: for the
  // 3 s those sent before the decrease take, none of them is news.
  for (let i = 0; i < 29; i++) {
    clock.t += 100;
    c.onLatency({ kind: "first-token", ms: 3000, inFlight: c.limit, now: clock.t });
  }
  assert.equal(c.counts.latencyDecreases, 1);
  assert.equal(c.limit, Math.floor(before * 0.8));
  // A request sent after the decrease that is slow again is news: another decrease.
  clock.t += 5000;
  for (let i = 0; i < 3; i++) c.onLatency({ kind: "first-token", ms: 1000, inFlight: c.limit, now: clock.t + i });
  assert.equal(c.counts.latencyDecreases, 2);
});
