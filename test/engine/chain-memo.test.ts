// A built ensemble chain kept in the response cache (engine/chain-memo.ts): a run from the cache
// takes it whole after the first step; anything that could change the chain keeps it from use.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CachedBackend } from "../../src/backends/cache.js";
import { parseExperimentSpec, runExperiment } from "../../src/engine/experiment.js";
import type { ModelHandle } from "../../src/engine/models.js";
import { builtinProblems } from "../../src/problems/index.js";
import { readResults } from "../../src/results/store.js";
import { DeterministicTextBackend, type DeterministicOptions } from "../doubles/deterministic-backend.js";

const NAMES = ["g1", "g2", "e", "t"] as const;

interface Models {
  handles: Map<string, ModelHandle>;
  inner: Map<string, DeterministicTextBackend>;
  cached: Map<string, CachedBackend>;
}

function models(cache: string, options: Partial<Record<(typeof NAMES)[number], DeterministicOptions>> = {}): Models {
  const inner = new Map(NAMES.map((n) => [n, new DeterministicTextBackend(n, options[n])]));
  const cached = new Map(NAMES.map((n) => [n, new CachedBackend(inner.get(n)!, { dir: cache, model: n })]));
  const handles = new Map(NAMES.map((n) => [n, { name: n, backend: cached.get(n)!, thinkingFormat: "think-tags" } satisfies ModelHandle]));
  return { handles, inner, cached };
}

async function run(m: Models, out: string, ensemble: Record<string, unknown> = {}, cot: Record<string, unknown> = { seed: 5 }) {
  const spec = parseExperimentSpec(
    {
      name: "memo",
      mode: "paper",
      problems: { set: "builtin" },
      conditions: [{ kind: "ensemble", generators: ["g1", "g2"], evaluators: ["e"], k: 2, maxSentences: 6, ...ensemble }],
      targets: ["t"],
      cot,
      out,
    },
    "spec",
  );
  const summary = await runExperiment(spec, { problems: builtinProblems().slice(0, 2), models: m.handles });
  await Promise.all([...m.cached.values()].map((c) => c.close()));
  const { records } = await readResults(out);
  return { summary, cots: records.map((r) => `${r.problemId}:${r.cot}`).sort() };
}

const calls = (m: Models) => [...m.inner.values()].reduce((n, b) => n + b.calls.stream + b.calls.score, 0);
const hits = (m: Models, names: readonly string[]) => names.reduce((n, name) => n + m.cached.get(name)!.stats().hits, 0);

function keptChains(cache: string): number {
  const dir = join(cache, "log");
  return readdirSync(dir).reduce((n, f) => n + (readFileSync(join(dir, f), "utf8").match(/"kind":"derived"/g)?.length ?? 0), 0);
}

describe("kept ensemble chains", () => {
  test("a run from the cache takes each chain whole after its first step: the same chains, no model call", async () => {
    const cache = mkdtempSync(join(tmpdir(), "concord-memo-cache-"));
    const dirs = [mkdtempSync(join(tmpdir(), "concord-memo-a-")), mkdtempSync(join(tmpdir(), "concord-memo-b-"))];
    try {
      const first = models(cache);
      const a = await run(first, dirs[0]!);
      assert.equal(a.summary.written, 2);
      // 6 steps x (2 generators x k=2 streams + 4 scores) per problem, plus the answers.
      assert.equal(calls(first), 2 * 6 * 8 + 2);
      assert.equal(keptChains(cache), 2);

      const second = models(cache);
      const b = await run(second, dirs[1]!);
      assert.equal(calls(second), 0, "no model call");
      assert.deepEqual(b.cots, a.cots, "the same chains");
      // Only the first step of each chain is replayed from the cache (4 streams + 4 scores).
      assert.equal(hits(second, ["g1", "g2", "e"]), 2 * 8);
    } finally {
      for (const d of [cache, ...dirs]) rmSync(d, { recursive: true, force: true });
    }
  });

  test("another budget is not served the kept chain: it is built again from the cached answers", async () => {
    const cache = mkdtempSync(join(tmpdir(), "concord-memo-cache-"));
    const dirs = [mkdtempSync(join(tmpdir(), "concord-memo-a-")), mkdtempSync(join(tmpdir(), "concord-memo-b-"))];
    try {
      await run(models(cache), dirs[0]!);
      const second = models(cache);
      await run(second, dirs[1]!, { maxSentences: 4 });
      assert.equal(calls(second), 2, "every step is in the cache: only the answers to the shorter chains are asked");
      assert.equal(hits(second, ["g1", "g2", "e"]), 2 * 4 * 8, "four steps replayed, not the kept six-step chain");
      const shorter = await readResults(dirs[1]!);
      assert.ok(shorter.records.every((r) => r.meta.chainSentences === 4));
    } finally {
      for (const d of [cache, ...dirs]) rmSync(d, { recursive: true, force: true });
    }
  });

  test("a chain is not kept when a generator samples without a seed, or a request failed", async () => {
    for (const [what, ensemble, cot, options] of [
      ["sampled without a seed", { temperature: 1 }, {}, {}],
      ["a failing generator", {}, { seed: 5 }, { g2: { failWith: "refused" } }],
    ] as const) {
      const cache = mkdtempSync(join(tmpdir(), "concord-memo-cache-"));
      const out = mkdtempSync(join(tmpdir(), "concord-memo-a-"));
      try {
        const m = models(cache, options);
        const r = await run(m, out, ensemble, cot);
        assert.equal(r.summary.written, 2, what);
        assert.equal(keptChains(cache), 0, what);
      } finally {
        for (const d of [cache, out]) rmSync(d, { recursive: true, force: true });
      }
    }
  });
});

// The chain-building rules (sentence cuts, joining, the pick, the end) decide a kept chain without
// showing in its first step's requests: a change to them must come with a new CHAIN_RULES, or
// chains kept under the old rules are served. This fingerprint of chains built in both modes
// changes when those rules do; a new fingerprint needs a new CHAIN_RULES beside it.
const RULES_FINGERPRINT: Record<number, string> = { 1: "6f2709f771f669b7" };

test("the chain-building rules are those CHAIN_RULES names", async () => {
  const { ChainBuilder } = await import("../../src/engine/ensemble.js");
  const { CHAIN_RULES } = await import("../../src/engine/chain-memo.js");
  const { chainText } = await import("../../src/core/chain.js");
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  for (const mode of ["concord", "paper"] as const) {
    for (const problem of builtinProblems().slice(0, 3)) {
      const handle = (n: string): ModelHandle => ({ name: n, backend: new DeterministicTextBackend(n), thinkingFormat: "think-tags" });
      const b = new ChainBuilder({
        problem,
        generators: [handle("g1"), handle("g2")],
        evaluators: [handle("e")],
        k: 2,
        mode,
        auto: true,
        sampling: { seed: 9 },
        budget: { maxSentences: 5 },
      });
      await b.runSteps("end");
      const chain = b.getChain();
      assert.equal(chain.sentences.length, 5, `${mode}: a chain of 5 sentences`);
      hash.update(JSON.stringify([chainText(chain, mode), chain.finished, chain.sentences.map((s) => [s.acceptedId, s.evaluatorPick])]));
    }
  }
  const fingerprint = hash.digest("hex").slice(0, 16);
  assert.equal(fingerprint, RULES_FINGERPRINT[CHAIN_RULES], `chains are built differently now (${fingerprint}): set a new CHAIN_RULES and its fingerprint`);
});
