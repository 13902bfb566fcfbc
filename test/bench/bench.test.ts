// Smoke test of the benchmark harness: every measuring function runs on tiny inputs and its
// figures say what they claim (streams overlapped, the cache served everything, reuse saved
// tokens, lanes were drawn, the document keeps sections it did not rerun).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { growthExponent, machine, percentile } from "../../bench/lib.js";
import { measureOverlap } from "../../bench/overlap.js";
import { measureExperiment } from "../../bench/experiment.js";
import { measureUiLoadIn } from "../../bench/ui.js";
import { measureScoring, STORIES_MODEL } from "../../bench/scoring.js";
import { measureMemory } from "../../bench/memory.js";
import { helpTime } from "../../bench/startup.js";
import { runGrid } from "../../bench/grid.js";
import { syntheticProblems } from "../../bench/experiment.js";
import { mergeDocument, sectionMarkdown } from "../../bench/run.js";
import type { BenchResult } from "../../bench/lib.js";

describe("bench harness", () => {
  test("statistics: nearest-rank percentiles and growth exponents", () => {
    assert.equal(percentile([5, 1, 4, 2, 3], 50), 3);
    assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95), 10);
    assert.ok(Number.isNaN(percentile([], 50)));
    const xs = [10, 40, 160];
    assert.ok(
      Math.abs(
        growthExponent(
          xs,
          xs.map((x) => 3 * x),
        ) - 1,
      ) < 1e-9,
    );
    assert.ok(
      Math.abs(
        growthExponent(
          xs,
          xs.map((x) => x * x),
        ) - 2,
      ) < 1e-9,
    );
    const m = machine(new Date("2026-01-02T00:00:00Z"));
    assert.equal(m.date, "2026-01-02");
    assert.ok(m.cores >= 1 && m.node.startsWith("v"));
  });

  test("a partial run replaces its own section of the document and keeps the others", () => {
    const m = machine();
    const r = (name: string, body: string): BenchResult => ({
      name,
      title: name,
      body: [body],
      checks: [{ what: "x", value: 2, target: "<= 1", met: false }],
      notes: [],
      seconds: 1,
    });
    const first = mergeDocument(undefined, [r("overlap", "OLD-OVERLAP"), r("scoring", "OLD-SCORING")], m);
    const second = mergeDocument(first, [r("scoring", "NEW-SCORING")], m);
    assert.ok(second.includes("OLD-OVERLAP"));
    assert.ok(second.includes("NEW-SCORING"));
    assert.ok(!second.includes("OLD-SCORING"));
    assert.ok(second.indexOf("OLD-OVERLAP") < second.indexOf("NEW-SCORING"), "sections keep the suite's order");
    assert.match(sectionMarkdown(r("ui", "b"), m), /\*\*missed\*\*/);
  });

  test("overlap: a ChainBuilder step with 2 generators beats running them one after another", { timeout: 120_000 }, async () => {
    // Latencies long enough that a loaded machine's pauses (tens of ms) cannot reverse the order:
    // one after another costs at least twice 400 ms; medians of three.
    const r = await measureOverlap({ n: 2, tokens: 6, tokensPerSecond: 100, latencyMs: 400, evaluatorLatencyMs: 5, repeats: 3 });
    assert.equal(r.scored, 2, "the evaluator scored both candidates");
    assert.ok(r.step < r.sequential, `step ${r.step} ms vs sequential ${r.sequential} ms`);
    assert.ok(r.slowest > 400, "a generator takes at least its latency");
  });

  test("experiment: every record written, and the cached rerun makes no model call", { timeout: 120_000 }, async () => {
    const r = await measureExperiment({ problems: 3, targets: 2, latencyMs: 5, tokensPerSecond: 0, global: 2, perModel: 1 });
    assert.equal(r.records, 6);
    assert.equal(r.fillCalls, 6);
    assert.equal(r.cachedCalls, 0);
    assert.equal(r.cachedRecords, 6);
    assert.equal(r.slots, 2);
    assert.ok(r.idealMs > 0 && r.wallMs >= r.requestMs);
  });

  test("interface: streamed lanes reach the screen, keys move the selection, nothing clears the screen", { timeout: 180_000 }, async () => {
    // 80 words then ". Next": 81 tokens a stream. The streams' last token waits until 2 keypresses
    // have been seen on screen, so a slow machine still steers while streaming.
    // In a fresh process, as the benchmark runs it (and as Concord runs: production React).
    const r = measureUiLoadIn("production", { streams: 2, tokensPerSecond: 100, seconds: 0.8, keyEveryMs: 120, minKeys: 2 });
    assert.equal(r.lanesSeen, 2);
    assert.equal(r.tokensExpected, 2 * 81);
    assert.equal(r.tokensDelivered, r.tokensExpected, "every token of both streams was delivered");
    assert.ok(r.frames > 0, "frames were drawn while streaming");
    assert.ok(r.keyLatencies.length >= 2, `keypresses seen on screen: ${r.keyLatencies.length} of ${r.keysPressed}`);
    assert.ok(r.keyLatencies.every((x) => x >= 0));
    assert.equal(r.screenClears, 0);
    // The finished race is on screen: both lanes with their whole sentence, and the pick.
    for (const id of ["g1#0", "g2#0"]) assert.match(r.finalFrame, new RegExp(`${id}\\s+the little robot counts`), r.finalFrame);
    assert.match(r.finalFrame, /^[▸ ]★/m, "a lane is marked as the evaluator's pick");
    assert.equal(r.maxFps, 120, "rendered with the interface's RENDER_OPTIONS");
    assert.ok(r.ui.cpuMsPerSec > 0 && r.engine.cpuMsPerSec > 0);
  });

  test(
    "scoring: with prefix reuse fewer tokens are evaluated than re-evaluating the prefix",
    { timeout: 120_000, skip: existsSync(STORIES_MODEL) ? false : `model missing: ${STORIES_MODEL}` },
    async () => {
      const r = await measureScoring({ lengths: [1, 4], candidates: 2 });
      assert.equal(r.points.length, 2);
      const [a, b] = r.points;
      assert.ok(b!.stepReuse < b!.stepFresh, JSON.stringify(b));
      // Without reuse a step re-reads the whole chain, so it costs more as the chain grows.
      assert.ok(b!.stepFresh > a!.stepFresh);
      assert.ok(b!.totalFresh > b!.totalReuse);
    },
  );

  test("memory: a session file is loaded and drawn in a fresh process", { timeout: 180_000 }, async () => {
    const r = await measureMemory(12, 2);
    assert.equal(r.sentencesInStore, 12);
    assert.ok(r.frameShowsChain, "a frame showed the 12-sentence chain");
    assert.ok(r.frameMs > 0);
    assert.ok(r.fileBytes > 1000 && r.peakRss > r.heapUsed);
  });

  test("start-up: concord --help from source prints its usage", { timeout: 120_000 }, () => {
    assert.equal(helpTime(true).ok, true);
  });

  test("grid: every answer written; adaptive limits fill the servers' batches where the previous defaults ran two", { timeout: 180_000 }, async () => {
    const server = { maxBatch: 64, tokenMs: 1, slowdown: 0.01, prefill: 4 };
    const problems = syntheticProblems(1);
    const adaptive = await runGrid({ problems: 1, server, steps: 4, concurrency: {} }, problems);
    // 5 targets x (empty + default greedy and sampled x 2 + 5 transfers x 2 + 3 ensembles x 2).
    assert.equal(adaptive.summary.total, 5 * (1 + 4 + 10 + 6));
    assert.equal(adaptive.summary.written, adaptive.summary.total);
    assert.ok(adaptive.sequentialMs > adaptive.wallMs, "faster than every request one after another");
    assert.ok(Math.max(...adaptive.servers.map((s) => s.stats.maxRunning)) > 4, "several requests ran at once on a server");
    const old = await runGrid({ problems: 1, server, steps: 4, concurrency: { global: 4, perModel: 2, adaptive: false } }, problems);
    assert.ok(Math.max(...old.servers.map((s) => s.stats.maxRunning)) <= 2);
    assert.equal(old.requests, adaptive.requests, "the same work either way");
  });
});
