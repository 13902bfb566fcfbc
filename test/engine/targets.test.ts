// TargetPanel and askTarget against the ScriptedBackend test double: prefill, grading,
// consistency snapshots, re-asking as the chain grows, stale answers cancelled.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { askTarget, snapshotOf, TargetPanel } from "../../src/engine/targets.js";
import type { EngineEvent } from "../../src/engine/events.js";
import type { ModelHandle } from "../../src/engine/models.js";
import type { Chain, ChainSentence } from "../../src/core/chain.js";
import type { Problem } from "../../src/core/types.js";
import { ScriptedBackend, type ScriptedBackendOptions } from "../doubles/scripted-backend.js";
import { eventually } from "../wait.js";

const problem: Problem = {
  id: "p1",
  source: "test",
  messages: [{ role: "user", content: "What is 2 + 2?" }],
  reference: { kind: "number", value: "4" },
  meta: {},
};

function handle(opts: ScriptedBackendOptions, format: ModelHandle["thinkingFormat"] = "think-tags"): ModelHandle & { backend: ScriptedBackend } {
  return { name: opts.name, backend: new ScriptedBackend(opts), thinkingFormat: format };
}

function chainOf(...texts: string[]): Chain {
  const sentences: ChainSentence[] = texts.map((text) => ({ text, author: "g", decision: "imported", candidates: [], at: "" }));
  return { sentences, finished: false };
}

describe("askTarget", () => {
  test("prefills the closed thinking block in the target's own format, greedy, with the answer budget", async () => {
    const t = handle({ name: "t", respond: () => " The answer is 4." }, "openthinker");
    const reply = await askTarget(t, problem, "Two and two make four.", { maxTokens: 40 });
    const req = t.backend.streamCalls[0];
    assert.equal(req.temperature, 0);
    assert.equal(req.maxTokens, 40);
    assert.equal(req.prompt.kind === "chat" && req.prompt.assistantPrefix, "<|begin_of_thought|>Two and two make four.<|end_of_thought|><|begin_of_solution|>");
    assert.equal(reply.grade.answer, "4");
    assert.equal(reply.grade.correct, true);
  });

  test("a failing backend gives a wrong, explained answer instead of throwing", async () => {
    const t = handle({
      name: "t",
      respond: () => {
        throw new Error("connection refused");
      },
    });
    const reply = await askTarget(t, problem, "");
    assert.equal(reply.grade.correct, false);
    assert.match(reply.error ?? "", /connection refused/);
  });
});

test("snapshotOf: pairwise agreement is same answer or both correct; missing answers are not compared", () => {
  const g = (answer: string, correct: boolean) => ({ answer, correct });
  const s = snapshotOf(3, [
    { target: "a", chainLength: 3, raw: "", grade: g("4", true) },
    { target: "b", chainLength: 3, raw: "", grade: g("4.0", true) },
    { target: "c", chainLength: 3, raw: "", grade: g("5", false) },
    { target: "d", chainLength: 3, raw: "", grade: g("", false) },
  ]);
  assert.deepEqual(s.pairs, { "a|b": true, "a|c": false, "b|c": false });
  assert.equal(s.consistency, 1 / 3);
  assert.equal(s.accuracy, 0.5);
  assert.ok(Math.abs(s.split.consistentCorrect - 1 / 3) < 1e-12);
});

describe("TargetPanel", () => {
  test("a newer chain cancels the answers still being written for an older one", async () => {
    // Slow targets: each answer takes 10 tokens x 50 ms, so the first round is surely still writing.
    const slow = (name: string) =>
      handle({
        name,
        respond: (req) =>
          req.prompt.kind === "chat" && req.prompt.assistantPrefix?.includes("three")
            ? " so so so so so so so so the answer is 4"
            : " so so so so so so so so the answer is 5",
        tokenDelayMs: 50,
      });
    const a = slow("a");
    const b = slow("b");
    const panel = new TargetPanel({ problem, targets: [a, b] });
    const events: EngineEvent[] = [];
    panel.on((e) => events.push(e));
    const first = panel.update(chainOf("One.", "Two."));
    await eventually(() => a.backend.openStreams + b.backend.openStreams === 2);
    const second = panel.update(chainOf("One.", "Two.", "three."));
    assert.equal(await first, null, "the stale round resolves empty");
    const snap = await second;
    assert.equal(snap?.chainLength, 3);
    assert.equal(snap?.accuracy, 1);
    assert.deepEqual(snap?.pairs, { "a|b": true });
    // The stale requests were aborted, not left running.
    assert.equal(a.backend.abortedStreams + b.backend.abortedStreams, 2);
    assert.equal(a.backend.openStreams + b.backend.openStreams, 0);
    assert.ok(events.some((e) => e.type === "targets-cancelled" && e.chainLength === 2));
    // No answer of the stale round was published.
    assert.ok(events.filter((e) => e.type === "target-answer").every((e) => e.type === "target-answer" && e.answer.chainLength === 3));
    assert.deepEqual(
      panel.history().map((h) => h.chainLength),
      [3],
    );
  });

  test("every N: only due lengths are asked; the finished chain always is; undo drops later history", async () => {
    const t = handle({ name: "t", respond: () => " answer: 4" });
    const u = handle({ name: "u", respond: () => " answer: 5" });
    const panel = new TargetPanel({ problem, targets: [t, u], every: 2 });
    assert.equal(await panel.update(chainOf("a.")), null);
    const s2 = await panel.update(chainOf("a.", "b."));
    assert.equal(s2?.consistency, 0);
    assert.equal(await panel.update(chainOf("a.", "b.", "c.")), null);
    const finished = { ...chainOf("a.", "b.", "c."), finished: true };
    assert.equal((await panel.update(finished))?.chainLength, 3);
    assert.equal(t.backend.streamCalls.length, 2);
    // Asking again for the same chain reuses the snapshot.
    await panel.update(chainOf("a.", "b."));
    assert.equal(t.backend.streamCalls.length, 2);
    assert.deepEqual(
      panel.history().map((h) => h.chainLength),
      [2],
    );
  });
});
