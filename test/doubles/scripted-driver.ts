// ScriptedDriver: a test double standing in for the engine's ChainBuilder. Tests push engine
// events through it by hand; it records every intent it receives and keeps a chain so that
// accept/undo/write have the same visible effect as the real builder.
import type { Candidate, Chain, ChainSentence } from "../../src/core/chain.js";
import type { Problem } from "../../src/core/types.js";
import type { EngineEvent, EngineListener } from "../../src/engine/events.js";
import type { ChainDriver } from "../../src/state/store.js";

export class ScriptedDriver implements ChainDriver {
  calls: Array<[string, ...unknown[]]> = [];
  chain: Chain;
  candidates = new Map<string, Candidate>();
  pick?: string;
  step = 0;
  private listeners = new Set<EngineListener>();

  constructor(chain?: Chain) {
    this.chain = chain ? { sentences: [...chain.sentences], finished: chain.finished } : { sentences: [], finished: false };
    this.step = this.chain.sentences.length;
  }
  on(l: EngineListener) {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  emit(ev: EngineEvent) {
    for (const l of this.listeners) l(ev);
  }
  getChain(): Chain {
    return { sentences: [...this.chain.sentences], finished: this.chain.finished };
  }
  startStep() {
    this.calls.push(["startStep"]);
    this.step = this.chain.sentences.length;
    this.candidates.clear();
    this.pick = undefined;
    this.emit({ type: "step-start", step: this.step });
  }
  /** Stream a candidate token by token, then finish and score it. */
  stream(id: string, tokens: string[], ppl?: number, evaluator = "judge") {
    const generator = id.split("#")[0];
    for (const text of tokens) this.emit({ type: "candidate-token", step: this.step, candidateId: id, generator, text, channel: "content" });
    const text = tokens.join("");
    const c: Candidate = { id, generator, sampleIndex: Number(id.split("#")[1] ?? 0), text, raw: text, scores: [], endOfThought: false };
    this.candidates.set(id, c);
    this.emit({ type: "candidate-done", step: this.step, candidate: c });
    if (ppl !== undefined) {
      const scored = {
        ...c,
        scores: [{ evaluator, meanNll: Math.log(ppl), perplexity: ppl, tokens: tokens.map((t, i) => ({ token: t, logprob: -(i + 1) })) }],
        meanPerplexity: ppl,
      };
      this.candidates.set(id, scored);
      this.emit({ type: "score", step: this.step, candidateId: id, evaluator, meanNll: Math.log(ppl), perplexity: ppl });
      this.emit({ type: "candidate-scored", step: this.step, candidate: scored });
    }
  }
  decide(pick: string) {
    this.pick = pick;
    this.emit({ type: "pick", step: this.step, candidateId: pick, meanPerplexity: this.candidates.get(pick)?.meanPerplexity ?? 0 });
    this.emit({ type: "awaiting-decision", step: this.step });
  }
  private push(s: Omit<ChainSentence, "at" | "candidates" | "evaluatorPick">) {
    const sentence: ChainSentence = { ...s, candidates: [...this.candidates.values()], evaluatorPick: this.pick, at: new Date(0).toISOString() };
    // Like the engine: the step index is the new sentence's place in the chain.
    const step = this.chain.sentences.length;
    this.chain = { sentences: [...this.chain.sentences, sentence], finished: false };
    this.emit({ type: "sentence-accepted", step, sentence });
  }
  accept(id: string) {
    this.calls.push(["accept", id]);
    const c = this.candidates.get(id);
    if (!c) throw new Error(`no candidate ${id}`);
    this.push({ text: c.text, author: c.generator, decision: id === this.pick ? "evaluator" : "human-pick", acceptedId: id });
  }
  acceptEdited(id: string, text: string) {
    this.calls.push(["acceptEdited", id, text]);
    this.push({ text, author: this.candidates.get(id)!.generator, decision: "human-edit", acceptedId: id });
  }
  write(text: string) {
    this.calls.push(["write", text]);
    this.push({ text, author: "human", decision: "human-written" });
  }
  async undo() {
    this.calls.push(["undo"]);
    this.chain = { sentences: this.chain.sentences.slice(0, -1), finished: false };
    this.emit({ type: "sentence-undone", step: this.chain.sentences.length });
  }
  regenerate() {
    this.calls.push(["regenerate"]);
  }
  async runSteps(n: number | "end") {
    this.calls.push(["runSteps", n]);
    return "count";
  }
  pause() {
    this.calls.push(["pause"]);
  }
  async cancel() {
    this.calls.push(["cancel"]);
    this.emit({ type: "step-cancelled", step: this.step });
  }
}

export const demoProblem: Problem = {
  id: "t-1",
  source: "test",
  messages: [{ role: "user", content: "What is 6 times 7?" }],
  reference: { kind: "integer", value: "42" },
  meta: {},
};

export const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
