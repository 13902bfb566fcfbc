// The relay benchmark's harness (bench/relay.ts) on a small setting: every record and sample is
// made, the ideal is computed from the calls the doubles saw, and the cached reruns make no
// model call. Timing is the benchmark's business, not the test's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { measureRelay } from "../../bench/relay.js";

test("relay bench: records, samples and calls counted; cached reruns call no model", { timeout: 120_000 }, async () => {
  const r = await measureRelay({ problems: 2, continuers: 2, samples: 1, importanceTargets: 2, importanceSamples: 2, latencyMs: 5, global: 4, perModel: 2 });
  // Per problem: initiator 1 + 2 continuers alone + 2 continuers x 3 stages.
  assert.equal(r.relay.records, 2 * 9);
  assert.ok(r.relay.calls >= 2 * 2 * 3 && r.relay.calls <= 2 * 2 * 9, `relay calls ${r.relay.calls}`);
  assert.equal(r.relay.cachedRecords, r.relay.records);
  assert.equal(r.relay.cachedCalls, 0);
  // 5 sentences: 6 prefixes x 2 samples x 2 targets, a continuation and an answer each.
  assert.equal(r.importance.records, 24);
  assert.equal(r.importance.calls, 48);
  assert.equal(r.importance.cachedRecords, 24);
  assert.equal(r.importance.cachedCalls, 0);
  assert.ok(r.relay.idealMs > 0 && r.importance.idealMs > 0);
});
