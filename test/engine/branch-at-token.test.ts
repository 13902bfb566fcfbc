// Branching at a token in the engine: a candidate of the step awaiting a decision, up to a token,
// another token there, continued by a generator (the embedded engine, and the real llama-server
// over HTTP); the result joins the race, is scored like the others and the pick is taken again.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { LocalBackend, LocalModelPool } from "../../src/backends/local.js";
import { OpenAIBackend } from "../../src/backends/openai.js";
import { ChainBuilder } from "../../src/engine/ensemble.js";
import type { ModelHandle } from "../../src/engine/models.js";
import type { EngineEvent } from "../../src/engine/events.js";
import { otherTokens, tokenPositions } from "../../src/core/token-alternatives.js";
import { builtinProblems } from "../../src/problems/index.js";
import { llamaServerMissing, startLlamaServer, STORIES, type LlamaServer } from "../e2e/llama-server.js";

const pool = new LocalModelPool({ threads: 1, gpu: false });
const local = new LocalBackend({ name: "tiny", modelPath: STORIES, contextSize: 1024, pool });
const as = (name: string, backend: ModelHandle["backend"] = local): ModelHandle => ({
  name,
  backend,
  thinkingFormat: "think-tags",
  sampling: { temperature: 0.8 },
});
const problem = builtinProblems()[0]!;
let server: LlamaServer | undefined;
after(async () => {
  await server?.stop();
  await local.close();
  await pool.dispose();
});

async function awaitingRace(generators: ModelHandle[]) {
  const b = new ChainBuilder({ problem, generators, evaluators: [as("e")], k: 2, auto: false, sampling: { seed: 5 } });
  const events: EngineEvent[] = [];
  b.on((e) => events.push(e));
  const waiting = new Promise<void>((r) => b.on((e) => e.type === "awaiting-decision" && r()));
  const outcome = b.startStep();
  await waiting;
  return { b, events, outcome };
}

async function branchAndCheck(b: ChainBuilder, events: EngineEvent[], generator: string) {
  const from = b.getStep()!.candidates.find((c) => !c.error && (c.tokens?.length ?? 0) >= 3)!;
  assert.ok(from, "a candidate with tokens");
  const position = 1;
  const alt = otherTokens(tokenPositions(from)[position]!)[0]!;
  assert.ok(alt, "an alternative at the second token");
  const seen = events.length;
  const c = await b.branchAt({ from: from.id, position, token: alt.token, generator });
  assert.equal(c.error, undefined);
  assert.deepEqual(c.branch, { from: from.id, position, token: alt.token });
  const prefix = from.tokens![0]!.token + alt.token;
  assert.ok(c.text.trim().startsWith(prefix.trim()), `${JSON.stringify(c.text)} starts with ${JSON.stringify(prefix)}`);
  assert.ok(c.text.length > prefix.length, "the generator went on");
  assert.equal(c.tokens![0]!.token, from.tokens![0]!.token);
  assert.equal(c.tokens![1]!.token, alt.token);
  assert.ok(Number.isFinite(c.meanPerplexity) && c.scores.length === 1, "scored like the others");
  const step = b.getStep()!;
  assert.ok(
    step.candidates.some((x) => x.id === c.id),
    "it joined the race",
  );
  const later = events.slice(seen);
  assert.ok(later.some((e) => e.type === "candidate-scored" && e.candidate.id === c.id));
  assert.equal(later.at(-1)!.type, "awaiting-decision");
  const best = Math.min(...step.candidates.filter((x) => x.meanPerplexity !== undefined).map((x) => x.meanPerplexity!));
  assert.equal(step.candidates.find((x) => x.id === step.pick)!.meanPerplexity, best, "the pick is taken again over all");
  return c;
}

describe("branch at a token", () => {
  test("embedded engine: the branch joins the race, and accepting it keeps it in the sentence's candidates", async () => {
    const { b, events, outcome } = await awaitingRace([as("g1")]);
    const c = await branchAndCheck(b, events, "g1");
    assert.match(c.id, /^g1#2$/);
    // Refusals: an unknown generator, a position past the end, a step not waiting.
    await assert.rejects(b.branchAt({ from: c.id, position: 0, token: "x", generator: "nobody" }), /nobody is not a generator/);
    await assert.rejects(b.branchAt({ from: c.id, position: 10_000, token: "x", generator: "g1" }), /has no token 10001/);
    b.accept(c.id);
    assert.equal(await outcome, "accepted");
    const s = b.getChain().sentences[0]!;
    assert.equal(s.acceptedId, c.id);
    assert.equal(s.candidates.length, 3);
    await assert.rejects(b.branchAt({ from: c.id, position: 0, token: "x", generator: "g1" }), /no step in progress/);
  });

  test("real llama-server continues a branch of an embedded-engine candidate", { skip: llamaServerMissing() }, async () => {
    server = await startLlamaServer({ slots: 2, contextSize: 1024 });
    const http = new OpenAIBackend({ name: "ls", backend: "openai", baseURL: server.baseURL, model: "auto" });
    const { b, events } = await awaitingRace([as("g1"), as("ls", http)]);
    const c = await branchAndCheck(b, events, "ls");
    assert.equal(c.generator, "ls");
    await b.cancel();
  });
});
