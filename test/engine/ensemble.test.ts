// ChainBuilder logic against the ScriptedBackend test double: concurrency, cancellation,
// human decisions, undo/regenerate, stops. (The real-model run is in engine-local.test.ts.)
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ChainBuilder, firstSentence } from "../../src/engine/ensemble.js";
import type { EngineEvent } from "../../src/engine/events.js";
import type { ModelHandle } from "../../src/engine/models.js";
import type { Problem } from "../../src/core/types.js";
import { chainText } from "../../src/core/chain.js";
import { ScriptedBackend, type ScriptedBackendOptions } from "../doubles/scripted-backend.js";
import { eventually } from "../wait.js";

const problem: Problem = {
  id: "p1",
  source: "test",
  messages: [{ role: "user", content: "What is 2 + 2?" }],
  reference: { kind: "number", value: "4" },
  meta: {},
};

function handle(opts: ScriptedBackendOptions): ModelHandle & { backend: ScriptedBackend } {
  return { name: opts.name, backend: new ScriptedBackend(opts), thinkingFormat: "think-tags" };
}

/** Two sentences per call, naming the generator and the call so every candidate differs. */
const twoSentences = (word: string) => (_req: unknown, call: number) => ` ${word} thought ${call} is here. Then more words follow after it.`;

// Per-token log-probs chosen so that the mean of perplexities (the paper's rule) and the mean
// of NLLs disagree: alpha has NLL mean 1.3 but perplexity mean 6.64; beta 1.4 and 4.06.
const e1 = () => handle({ name: "e1", respond: () => "", logprobFor: (c) => (c.includes("alpha") ? -0.1 : -1.4) });
const e2 = () => handle({ name: "e2", respond: () => "", logprobFor: (c) => (c.includes("alpha") ? -2.5 : -1.4) });

function collectEvents(b: ChainBuilder): EngineEvent[] {
  const events: EngineEvent[] = [];
  b.on((e) => events.push(e));
  return events;
}

describe("ChainBuilder", () => {
  test("all generators stream their k candidates at once; the lowest MEAN perplexity wins", async () => {
    const ga = handle({ name: "ga", respond: twoSentences("alpha"), tokenDelayMs: 3 });
    const gb = handle({ name: "gb", respond: twoSentences("beta"), tokenDelayMs: 3 });
    const b = new ChainBuilder({ problem, generators: [ga, gb], evaluators: [e1(), e2()], k: 3, auto: true });
    const events = collectEvents(b);
    const outcome = await b.startStep();
    assert.equal(outcome, "accepted");
    // Six streams were open together (three per generator), not one after another.
    assert.equal(ga.backend.maxOpenStreams, 3);
    assert.equal(gb.backend.maxOpenStreams, 3);
    const firstDone = events.findIndex((e) => e.type === "candidate-done");
    const tokenEventsBefore = events.slice(0, firstDone).filter((e) => e.type === "candidate-token");
    assert.equal(new Set(tokenEventsBefore.map((e) => (e as { candidateId: string }).candidateId)).size, 6);

    const chain = b.getChain();
    assert.equal(chain.sentences.length, 1);
    const s = chain.sentences[0];
    assert.equal(s.decision, "evaluator");
    assert.equal(s.author, "gb");
    assert.equal(s.candidates.length, 6);
    assert.equal(s.evaluatorPick, "gb#0");
    assert.equal(s.acceptedId, "gb#0");
    // Concord mode: one sentence, the generator's own leading space kept, the stream stopped early.
    assert.equal(s.text, " beta thought 0 is here.");
    assert.ok(!s.text.includes("Then"));
    const winner = s.candidates.find((c) => c.id === "gb#0")!;
    assert.equal(winner.scores.length, 2);
    assert.ok(Math.abs(winner.meanPerplexity! - Math.exp(1.4)) < 1e-9);
    const alpha = s.candidates.find((c) => c.id === "ga#0")!;
    assert.ok(Math.abs(alpha.meanPerplexity! - (Math.exp(0.1) + Math.exp(2.5)) / 2) < 1e-9);
    const pick = events.find((e) => e.type === "pick");
    assert.deepEqual(pick && pick.type === "pick" ? pick.candidateId : null, "gb#0");
  });

  test("a sampling field the caller leaves undefined keeps the generator profile's (a spec without a temperature)", async () => {
    const g = { ...handle({ name: "g", respond: twoSentences("alpha") }), sampling: { temperature: 0.8, topP: 0.9 } };
    const b = new ChainBuilder({ problem, generators: [g], evaluators: [e1()], k: 1, auto: true, sampling: { temperature: undefined, seed: 3 } });
    assert.equal(await b.startStep(), "accepted");
    const req = g.backend.streamCalls[0]!;
    assert.equal(req.temperature, 0.8);
    assert.equal(req.topP, 0.9);
    assert.equal(req.seed, 3, "the caller's own fields still apply (step 1, first candidate: the seed itself)");
  });

  test("evaluators score the candidate after the problem and the open thinking block with the chain", async () => {
    const g = handle({ name: "g", respond: twoSentences("beta") });
    const ev = e1();
    const b = new ChainBuilder({ problem, generators: [g], evaluators: [ev], k: 1, auto: true });
    await b.runSteps(2);
    assert.equal(b.getChain().sentences.length, 2);
    const last = ev.backend.scoreCalls.at(-1)!;
    assert.equal(last.prefix.kind, "chat");
    if (last.prefix.kind === "chat") {
      assert.deepEqual(last.prefix.messages, problem.messages);
      assert.equal(last.prefix.assistantPrefix, "<think>" + chainText({ sentences: [b.getChain().sentences[0]], finished: false }));
    }
    assert.equal(last.includePrefix, false);
    // The generator continued from the same open block.
    const req = g.backend.streamCalls.at(-1)!;
    assert.equal(req.prompt.kind === "chat" && req.prompt.assistantPrefix, "<think> beta thought 0 is here.");
  });

  test("cancel() aborts every stream at once and leaves none open", async () => {
    const long = () => " word".repeat(400);
    const ga = handle({ name: "ga", respond: long, tokenDelayMs: 5 });
    const gb = handle({ name: "gb", respond: long, tokenDelayMs: 5 });
    const b = new ChainBuilder({ problem, generators: [ga, gb], evaluators: [e1()], k: 2, auto: true });
    const events = collectEvents(b);
    const step = b.startStep();
    await eventually(() => assert.equal(ga.backend.openStreams + gb.backend.openStreams, 4));
    const t0 = Date.now();
    await b.cancel();
    assert.ok(Date.now() - t0 < 1000, "cancel did not wait for the streams (2 s each) to end");
    assert.equal(ga.backend.openStreams + gb.backend.openStreams, 0);
    assert.equal(ga.backend.abortedStreams + gb.backend.abortedStreams, 4);
    assert.equal(await step, "cancelled");
    assert.equal(b.getChain().sentences.length, 0);
    assert.ok(events.some((e) => e.type === "step-cancelled"));
    assert.ok(!events.some((e) => e.type === "sentence-accepted"));
  });

  test("a human can accept a finished candidate while others still stream; the rest are cancelled", async () => {
    const fast = handle({ name: "fast", respond: () => " Quick idea. And on.", tokenDelayMs: 1 });
    const slow = handle({ name: "slow", respond: () => " slow".repeat(300), tokenDelayMs: 10 });
    const b = new ChainBuilder({ problem, generators: [fast, slow], evaluators: [e1()], k: 1 });
    let accepted = false;
    b.on((e) => {
      if (e.type === "candidate-done" && e.candidate.id === "fast#0" && !accepted) {
        accepted = true;
        b.accept("fast#0");
      }
    });
    const outcome = await b.startStep();
    assert.equal(outcome, "accepted");
    const s = b.getChain().sentences[0];
    assert.equal(s.text, " Quick idea.");
    assert.equal(s.decision, "human-pick");
    assert.equal(s.evaluatorPick, undefined);
    assert.equal(s.candidates.find((c) => c.id === "slow#0")!.error, "cancelled");
    await eventually(() => assert.equal(slow.backend.openStreams, 0));
    assert.equal(slow.backend.abortedStreams, 1);
  });

  test("manual mode waits for a decision: pick, override, edit, write", async () => {
    const ga = handle({ name: "ga", respond: twoSentences("alpha") });
    const gb = handle({ name: "gb", respond: twoSentences("beta") });
    const b = new ChainBuilder({ problem, generators: [ga, gb], evaluators: [e1(), e2()], k: 1 });
    const waiting = () =>
      new Promise<void>((resolve) => {
        const off = b.on((e) => {
          if (e.type === "awaiting-decision") {
            off();
            resolve();
          }
        });
      });

    let w = waiting();
    let step = b.startStep();
    await w;
    assert.equal(b.getStep()!.status, "awaiting-decision");
    assert.equal(b.getStep()!.pick, "gb#0");
    assert.throws(() => b.accept("nope#0"), /no candidate/);
    b.accept("gb#0");
    assert.equal(await step, "accepted");
    assert.equal(b.getChain().sentences[0].decision, "evaluator");

    w = waiting();
    step = b.startStep();
    await w;
    b.accept("ga#0"); // override the evaluator
    await step;
    assert.equal(b.getChain().sentences[1].decision, "human-pick");
    assert.equal(b.getChain().sentences[1].evaluatorPick, "gb#0");

    w = waiting();
    step = b.startStep();
    await w;
    b.acceptEdited("ga#0", "An edited sentence.");
    await step;
    const edited = b.getChain().sentences[2];
    assert.equal(edited.decision, "human-edit");
    assert.equal(edited.text, " An edited sentence.");
    assert.equal(edited.author, "ga");
    assert.equal(edited.candidates.length, 2);

    b.write("My own sentence.");
    const written = b.getChain().sentences[3];
    assert.equal(written.decision, "human-written");
    assert.equal(written.author, "human");
    assert.equal(b.getChain().sentences.length, 4);
  });

  test("undo removes the last sentence; regenerate restarts the step with fresh candidates", async () => {
    const g = handle({ name: "g", respond: twoSentences("beta"), tokenDelayMs: 2 });
    const b = new ChainBuilder({ problem, generators: [g], evaluators: [e1()], k: 2, auto: true });
    const events = collectEvents(b);
    assert.equal(await b.runSteps(2), "count");
    assert.equal(b.getChain().sentences.length, 2);
    const removed = await b.undo();
    assert.equal(removed?.text, " beta thought 2 is here.");
    assert.equal(b.getChain().sentences.length, 1);
    assert.ok(events.some((e) => e.type === "sentence-undone" && e.step === 1));

    const callsBefore = g.backend.streamCalls.length;
    const first = b.startStep();
    await eventually(() => g.backend.openStreams > 0); // the step is under way
    const again = b.regenerate();
    assert.equal(await first, "cancelled");
    assert.equal(await again, "accepted");
    assert.equal(g.backend.streamCalls.length, callsBefore + 4);
    // The regenerated step's candidates come from the fresh calls.
    assert.equal(b.getChain().sentences[1].text, ` beta thought ${callsBefore + 2} is here.`);
    assert.equal(g.backend.openStreams, 0);
  });

  test("stops at the end-of-thought marker, at the sentence budget, and on pause", async () => {
    const ender = handle({ name: "g", respond: (_r, call) => (call < 2 ? ` Step ${call} done. More.` : " All done.</think>The answer is 4.") });
    const b = new ChainBuilder({ problem, generators: [ender], evaluators: [e1()], k: 1, auto: true });
    const events = collectEvents(b);
    assert.equal(await b.runSteps("end"), "end-of-thought");
    const chain = b.getChain();
    assert.equal(chain.finished, true);
    assert.equal(chain.sentences.length, 3);
    assert.equal(chain.sentences[2].text, " All done.");
    assert.ok(chain.sentences[2].candidates[0].endOfThought);
    assert.ok(events.some((e) => e.type === "chain-finished" && e.reason === "end-of-thought"));
    assert.equal(await b.startStep(), "finished");

    const g = handle({ name: "g", respond: twoSentences("beta") });
    const budget = new ChainBuilder({ problem, generators: [g], evaluators: [e1()], k: 1, budget: { maxSentences: 2 } });
    assert.equal(await budget.runSteps("end"), "budget");
    assert.equal(budget.getChain().sentences.length, 2);

    const g2 = handle({ name: "g", respond: twoSentences("beta") });
    const paused = new ChainBuilder({ problem, generators: [g2], evaluators: [e1()], k: 1 });
    paused.on((e) => e.type === "sentence-accepted" && paused.pause());
    assert.equal(await paused.runSteps("end"), "paused");
    assert.equal(paused.getChain().sentences.length, 1);
  });

  test("paper mode: 15-token chunks cut at the last sentence end, space-joined, context + candidate scored, whole-sequence perplexity", async () => {
    const words = " one two three. four five six seven. eight nine ten eleven twelve thirteen fourteen fifteen sixteen";
    const g = handle({ name: "g", respond: () => words });
    const ev = e1();
    const b = new ChainBuilder({ problem, generators: [g], evaluators: [ev], k: 1, mode: "paper", auto: true });
    await b.runSteps(2);
    assert.equal(g.backend.streamCalls[0].maxTokens, 15);
    assert.equal(g.backend.streamCalls[0].topK, 50);
    const [s1, s2] = b.getChain().sentences;
    assert.equal(s1.text, "one two three. four five six seven.");
    assert.equal(chainText(b.getChain(), "paper"), `${s1.text} ${s2.text}`);
    const call = ev.backend.scoreCalls[1];
    assert.equal(call.includePrefix, true);
    // The published compute_perplexities scored `context + candidate`: no space between them,
    // and the context is the opening tag, a space, then the chosen texts space-joined.
    assert.equal(call.candidates[0], s2.text);
    assert.match(call.prefix.kind === "chat" ? (call.prefix.assistantPrefix ?? "") : "", / one two three\. four five six seven\.$/);
    // Prefix tokens (-2 each) are in the mean, so the perplexity is above the candidate-only exp(1.4).
    const score = s2.candidates[0].scores[0];
    assert.ok(score.perplexity > Math.exp(1.4));
  });

  test("a failing generator is reported and the others still compete", async () => {
    const broken = handle({
      name: "broken",
      respond: () => {
        throw new Error("server said 500");
      },
    });
    const ok = handle({ name: "ok", respond: twoSentences("beta") });
    const b = new ChainBuilder({ problem, generators: [broken, ok], evaluators: [e1()], k: 1, auto: true });
    const events = collectEvents(b);
    assert.equal(await b.startStep(), "accepted");
    assert.equal(b.getChain().sentences[0].author, "ok");
    assert.ok(events.some((e) => e.type === "error" && e.message.includes("server said 500")));
  });
});

test("firstSentence needs text after the end before trusting it", () => {
  assert.equal(firstSentence(" It is 3."), null);
  assert.equal(firstSentence(" It is 3.5 now. Next"), " It is 3.5 now.");
});

test("runSteps on a step already waiting for a decision takes the pick instead of waiting for a person", async () => {
  const { ChainBuilder } = await import("../../src/engine/ensemble.js");
  const { ScriptedBackend } = await import("../doubles/scripted-backend.js");
  const { builtinProblems } = await import("../../src/problems/index.js");
  const gen = { name: "g", thinkingFormat: "think-tags" as const, backend: new ScriptedBackend({ name: "g", respond: () => " One step here. And more text" }) };
  const ev = { name: "e", thinkingFormat: "think-tags" as const, backend: new ScriptedBackend({ name: "e", respond: () => "" }) };
  const b = new ChainBuilder({ problem: builtinProblems()[0], generators: [gen], evaluators: [ev], k: 2, auto: false, budget: { maxSentences: 2 } });
  let waiting = false;
  b.on((e) => {
    if (e.type === "awaiting-decision") waiting = true;
  });
  const first = b.startStep();
  await eventually(() => assert.ok(waiting, "the first step waits for a person"));
  const run = await Promise.race([b.runSteps(2), new Promise((r) => setTimeout(() => r("stalled"), 10_000))]);
  assert.notEqual(run, "stalled");
  assert.equal(await first, "accepted");
  assert.equal(b.getChain().sentences.length, 2);
  assert.equal(b.getChain().sentences[0].decision, "evaluator");
});
