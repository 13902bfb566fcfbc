// The engine end to end on the REAL embedded model (stories260K.gguf through LocalBackend):
// an ensemble with every role, targets following it, cancellation mid-stream, and a relay.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { LocalBackend, LocalModelPool } from "../../src/backends/local.js";
import { ChainBuilder } from "../../src/engine/ensemble.js";
import { TargetPanel } from "../../src/engine/targets.js";
import { runRelay } from "../../src/engine/relay.js";
import { sanitizeCot } from "../../src/engine/sanitize.js";
import type { ModelHandle } from "../../src/engine/models.js";
import { builtinProblems } from "../../src/problems/index.js";
import { anyModelFile } from "../support/models.js";

const MODEL = anyModelFile();
const pool = new LocalModelPool({ threads: 1, gpu: false });
const backend = new LocalBackend({ name: "tiny", modelPath: MODEL, contextSize: 1024, pool });
// Several roles, one model file: each handle is its own profile name.
const as = (name: string): ModelHandle => ({ name, backend, thinkingFormat: "think-tags", sampling: { temperature: 0.8 } });
const problem = builtinProblems()[0];

after(() => backend.close());

describe("engine on the real local model", () => {
  test("ensemble with two generators, an evaluator and two targets following the chain", async () => {
    const b = new ChainBuilder({ problem, generators: [as("g1"), as("g2")], evaluators: [as("e")], k: 2, auto: true, sampling: { seed: 11 } });
    const panel = new TargetPanel({ problem, targets: [as("t1"), as("t2")], maxTokens: 24 });
    panel.attach(b);
    let tokens = 0;
    b.on((e) => e.type === "candidate-token" && tokens++);
    assert.equal(await b.runSteps(3), "count");
    await panel.update(b.getChain());
    const chain = b.getChain();
    assert.equal(chain.sentences.length, 3);
    assert.ok(tokens > 10);
    for (const s of chain.sentences) {
      assert.equal(s.candidates.length, 4);
      const scored = s.candidates.filter((c) => c.meanPerplexity !== undefined);
      assert.ok(scored.length >= 1);
      for (const c of scored) assert.ok(Number.isFinite(c.meanPerplexity!) && c.meanPerplexity! >= 1);
      // The evaluator's pick is the lowest mean perplexity, and it was accepted.
      const best = Math.min(...scored.map((c) => c.meanPerplexity!));
      assert.equal(s.candidates.find((c) => c.id === s.acceptedId)!.meanPerplexity, best);
      assert.ok(s.text.trim().length > 0);
    }
    const hist = panel.history();
    assert.equal(hist.at(-1)!.chainLength, 3);
    assert.equal(panel.answersAt(3).length, 2);
    // Greedy answers from one model to the same chain are identical.
    const [a1, a2] = panel.answersAt(3);
    assert.equal(a1.raw, a2.raw);
  });

  test("cancel mid-stream returns at once and the model stays usable", async () => {
    const b = new ChainBuilder({ problem, generators: [as("g1")], evaluators: [as("e")], k: 3, auto: true, mode: "paper", sampling: { maxTokens: 400 } });
    const firstToken = new Promise<void>((r) => b.on((e) => e.type === "candidate-token" && r()));
    const step = b.startStep();
    await firstToken;
    const t0 = Date.now();
    await b.cancel();
    assert.ok(Date.now() - t0 < 1000, `cancel took ${Date.now() - t0} ms`);
    assert.equal(await step, "cancelled");
    assert.equal(b.getChain().sentences.length, 0);
    const again = new ChainBuilder({ problem, generators: [as("g1")], evaluators: [as("e")], k: 1, auto: true, mode: "paper" });
    assert.equal(await again.startStep(), "accepted");
  });

  test("relay: cuts, continuations, answers; the hybrid chain starts with the initiator's prefix", async () => {
    const r = await runRelay({ problem, initiator: as("init"), continuers: [as("cont")], cuts: ["early", "late"], maxTokens: 90, answerTokens: 16 });
    assert.ok(r.initiator.sentences.length >= 2);
    assert.ok(r.initiator.tokens.length > 0 && r.initiator.tokens.every((t) => t.logprob <= 0));
    assert.equal(r.runs.length, 2);
    for (const run of r.runs) {
      assert.equal(run.cutSentence, r.cutPoints[run.cut as "early" | "late"]);
      assert.deepEqual(run.sentences.slice(0, run.handover), r.initiator.sentences.slice(0, run.cutSentence + 1));
      assert.equal(typeof run.answer.raw, "string");
    }
    assert.ok(r.cutPoints.early <= r.cutPoints.late);
  });

  test("sanitizer model output is verified: nothing the model invented survives", async () => {
    const cot = "Tom had 3 apples. He bought 4 more. So the answer is 7.";
    const r = await sanitizeCot(cot, { sanitizer: as("s") });
    assert.equal(r.method, "prefill");
    // Whatever the tiny model wrote, only original sentences can come back.
    const originals = ["Tom had 3 apples.", "He bought 4 more.", "So the answer is 7."];
    for (const piece of r.text.split(/(?<=\.)\s+/).filter(Boolean)) assert.ok(originals.includes(piece), piece);
  });
});
