// Sentence-level ensembling of one chain for one problem (SCIENCE.md §1). Generators race to
// propose the next sentence, evaluators score each candidate by perplexity, the lowest mean
// wins, unless a human decides otherwise. Every request carries an AbortSignal; cancel() stops
// them all at once.
import type { SamplingOptions, StreamChunk, TokenLogprob } from "../backends/types.js";
import type { Candidate, Chain, ChainSentence, Decision, EvaluatorScore } from "../core/chain.js";
import { chainText } from "../core/chain.js";
import { branchPrefix } from "../core/token-alternatives.js";
import { aggregateEvaluators, pickLowest } from "../core/scoring.js";
import { candidateText, chainTokenEstimate, evaluatorScore, firstSentence, generatorRequest, joinable, paperContext, tokensCovering } from "./ensemble-text.js";
import {
  CONCORD_CANDIDATE_TOKENS,
  DEFAULT_BUDGET,
  emptyChain,
  PAPER_CHUNK_TOKENS,
  PAPER_SAFETY_STEPS,
  type ActiveStep,
  type EnsembleBudget,
  type EnsembleMode,
  type EnsembleOptions,
  type LiveCandidate,
  type RunOutcome,
  type StepOutcome,
  type StepState,
} from "./ensemble-types.js";
import { endOfThoughtMarker } from "../core/thinking.js";
import type { Problem } from "../core/types.js";
import { oneLine } from "../errors.js";
import { childController, isAbort, raceAbort, settleWithin } from "./abort.js";
import { Emitter } from "./emitter.js";
import type { EngineListener } from "./events.js";
import type { ModelHandle } from "./models.js";

export * from "./ensemble-types.js";
export { chainTokenEstimate, firstSentence } from "./ensemble-text.js";

export class ChainBuilder {
  readonly problem: Problem;
  readonly generators: ModelHandle[];
  readonly evaluators: ModelHandle[];
  readonly k: number;
  readonly mode: EnsembleMode;
  readonly budget: EnsembleBudget;
  readonly sampling: Partial<SamplingOptions>;
  auto: boolean;

  private chain: Chain;
  private step: ActiveStep | null = null;
  private lastStep: StepState | null = null;
  private emitter = new Emitter();
  private pauseRequested = false;
  private stopped = false;

  constructor(opts: EnsembleOptions) {
    if (opts.generators.length === 0) throw new Error("an ensemble needs at least one generator");
    if (opts.evaluators.length === 0) throw new Error("an ensemble needs at least one evaluator");
    this.problem = opts.problem;
    this.generators = opts.generators;
    this.evaluators = opts.evaluators;
    this.k = Math.max(1, opts.k ?? 3);
    this.mode = opts.mode ?? "concord";
    this.budget = { ...DEFAULT_BUDGET, ...(this.mode === "paper" ? { maxSentences: PAPER_SAFETY_STEPS } : {}), ...opts.budget };
    this.auto = opts.auto ?? false;
    this.sampling = {
      maxTokens: this.mode === "paper" ? PAPER_CHUNK_TOKENS : CONCORD_CANDIDATE_TOKENS,
      ...(this.mode === "paper" ? { topK: 50 } : {}),
      // A field the caller leaves undefined (a spec without a temperature) keeps the profile's.
      ...Object.fromEntries(Object.entries(opts.sampling ?? {}).filter(([, v]) => v !== undefined)),
    };
    this.chain = opts.chain ? { sentences: [...opts.chain.sentences], finished: opts.chain.finished } : emptyChain();
  }

  on(listener: EngineListener): () => void {
    return this.emitter.on(listener);
  }

  /** The chain so far (a fresh object; sentences are never mutated in place). */
  getChain(): Chain {
    return { sentences: [...this.chain.sentences], finished: this.chain.finished };
  }

  /** The step in progress, or the last one that ended. */
  getStep(): StepState | null {
    const s = this.step;
    if (!s) return this.lastStep;
    return { index: s.index, status: s.status, candidates: [...s.live.values()].map((l) => l.c), pick: s.pick };
  }

  /** Why no further step can start, or null. */
  stopReason(): "end-of-thought" | "budget" | null {
    if (this.chain.finished) return "end-of-thought";
    if (this.budgetReached()) return "budget";
    return null;
  }

  private budgetReached(): boolean {
    if (this.chain.sentences.length >= this.budget.maxSentences) return true;
    // The published code's token budget never fired; paper mode keeps that behaviour.
    if (this.mode === "paper") return false;
    return chainTokenEstimate(this.chain) >= this.budget.maxTokens;
  }

  /**
   * Run one step: every generator streams k candidates at once, each is cut to a sentence and
   * scored by every evaluator as soon as it is done. Resolves when the step is decided (auto
   * pick or a human action) or cancelled.
   */
  startStep(opts: { auto?: boolean } = {}): Promise<StepOutcome> {
    if (this.step) {
      // Asked to run on a step that is already open (auto-run right after a regenerate): it
      // becomes automatic, and if it already waits for a decision, the pick is taken now.
      const step = this.step;
      if (opts.auto && !step.auto) {
        step.auto = true;
        if (step.status === "awaiting-decision") this.afterCandidates(step);
      }
      return step.outcome;
    }
    if (this.stopReason()) return Promise.resolve("finished");
    const index = this.chain.sentences.length;
    let settle!: (o: StepOutcome) => void;
    const outcome = new Promise<StepOutcome>((r) => (settle = r));
    const step: ActiveStep = {
      index,
      ctrl: childController(),
      status: "generating",
      auto: opts.auto ?? this.auto,
      live: new Map(),
      closing: [],
      tasks: [],
      outcome,
      settle: () => {},
      settled: false,
      cot: chainText(this.chain, this.mode),
    };
    step.settle = (o) => {
      if (step.settled) return;
      step.settled = true;
      this.lastStep = { index: step.index, status: step.status, candidates: [...step.live.values()].map((l) => l.c), pick: step.pick };
      if (this.step === step) this.step = null;
      settle(o);
    };
    this.step = step;
    this.emitter.emit({ type: "step-start", step: index });

    for (const g of this.generators) {
      for (let i = 0; i < this.k; i++) {
        const c: Candidate = {
          id: `${g.name}#${i}`,
          generator: g.name,
          sampleIndex: i,
          text: "",
          raw: "",
          scores: [],
          endOfThought: false,
        };
        step.live.set(c.id, { c, generated: false, tokenCount: 0 });
        step.tasks.push(this.runCandidate(step, g, c, this.generators.indexOf(g) * this.k + i));
      }
    }
    void Promise.all(step.tasks).then(() => this.afterCandidates(step));
    return outcome;
  }

  /**
   * Branch at a token: candidate `from` of the step awaiting a decision, up to `position`, with
   * `token` there instead, continued by `generator` to the sentence end. The result joins the
   * race as a person's candidate (it carries where it branched) and is scored like the others;
   * the pick is then taken again over all of them.
   */
  async branchAt(opts: { from: string; position: number; token: string; generator: string }): Promise<Candidate> {
    const step = this.requireStep();
    if (this.mode !== "concord") throw new Error("branching at a token needs Concord mode (paper mode cuts fixed-size chunks)");
    if (step.status !== "awaiting-decision") throw new Error("wait until every candidate is scored, then branch");
    const base = this.requireGenerated(step, opts.from).c;
    const g = this.generators.find((x) => x.name === opts.generator);
    if (!g) throw new Error(`${opts.generator} is not a generator of this race`);
    const before = base.tokens ?? [];
    if (opts.position < 0 || opts.position >= before.length) throw new Error(`${opts.from} has no token ${opts.position + 1}`);
    const at = before[opts.position]!;
    const known = at.top?.find((a) => a.token === opts.token);
    const tokens: TokenLogprob[] = [
      ...before.slice(0, opts.position),
      { token: opts.token, logprob: known?.logprob ?? NaN, ...(at.top ? { top: at.top } : {}) },
    ];
    const prefix = branchPrefix(base, opts.position, opts.token);
    const sampleIndex = Math.max(-1, ...[...step.live.values()].filter((l) => l.c.generator === g.name).map((l) => l.c.sampleIndex)) + 1;
    const c: Candidate = {
      id: `${g.name}#${sampleIndex}`,
      generator: g.name,
      sampleIndex,
      text: "",
      raw: "",
      scores: [],
      endOfThought: false,
      branch: { from: opts.from, position: opts.position, token: opts.token },
    };
    step.live.set(c.id, { c, generated: false, tokenCount: 0 });
    await this.runCandidate(step, g, c, this.generators.indexOf(g) * this.k + sampleIndex, { prefix, tokens });
    if (!step.settled && this.step === step && !step.ctrl.signal.aborted) this.repick(step);
    return c;
  }

  /** The evaluator's pick over every scored candidate, after one joined a step awaiting a decision. */
  private repick(step: ActiveStep): void {
    const scored = [...step.live.values()].map((l) => l.c).filter((c) => c.meanPerplexity !== undefined && Number.isFinite(c.meanPerplexity));
    const at = pickLowest(scored);
    if (at >= 0 && scored[at]!.id !== step.pick) {
      step.pick = scored[at]!.id;
      this.emitter.emit({ type: "pick", step: step.index, candidateId: step.pick, meanPerplexity: scored[at]!.meanPerplexity! });
    }
    this.emitter.emit({ type: "awaiting-decision", step: step.index });
  }

  private async runCandidate(
    step: ActiveStep,
    g: ModelHandle,
    c: Candidate,
    seedOffset: number,
    branch?: { prefix: string; tokens: TokenLogprob[] },
  ): Promise<void> {
    const live = step.live.get(c.id)!;
    const ctrl = childController(step.ctrl.signal);
    const marker = endOfThoughtMarker(g.thinkingFormat);
    let finish: string | undefined;
    let sawReasoning = false;
    let serverClosedThinking = false;
    let stoppedAtSentence = false;
    // A branch goes on from its prefix: the model sees it as its own text so far.
    const tokens: TokenLogprob[] = [...(branch?.tokens ?? [])];
    if (branch) {
      c.raw = branch.prefix;
      this.emitter.emit({ type: "candidate-token", step: step.index, candidateId: c.id, generator: g.name, text: branch.prefix, channel: "content" });
    }
    const sampling = { ...g.sampling, ...this.sampling };
    const context = paperContext(this.mode, step.cot) + (branch?.prefix ?? "");
    const gen = g.backend.stream(
      generatorRequest(g, { problem: this.problem, context, sampling, step: step.index, seedOffset, signal: ctrl.signal, mode: this.mode }),
    );
    let genDone = false;
    let mayHaveEnded = false;
    try {
      for (;;) {
        const next = await raceAbort(gen.next(), ctrl.signal, c.id);
        if (next.done) {
          genDone = true;
          finish = next.value.finishReason;
          break;
        }
        const chunk: StreamChunk = next.value;
        // A server that reports thinking in a separate field closes the block by switching to content.
        if (chunk.channel === "content" && sawReasoning) {
          serverClosedThinking = true;
          break;
        }
        if (chunk.channel === "reasoning") sawReasoning = true;
        c.raw += chunk.text;
        if (chunk.tokens) tokens.push(...chunk.tokens);
        live.tokenCount += chunk.tokens?.length ?? 1;
        this.emitter.emit({ type: "candidate-token", step: step.index, candidateId: c.id, generator: g.name, text: chunk.text, channel: chunk.channel });
        // The published code decoded its whole chunk, end marker and all.
        if (this.mode === "concord" && marker && c.raw.includes(marker)) break;
        // Re-split only once a sentence could have ended: splitting the whole text on every
        // token would grow quadratically with a long sentence.
        if (/[.!?\n]/.test(chunk.text)) mayHaveEnded = true;
        // A branch's sentence ends after its chosen token: its prefix may hold a sentence end.
        if (this.mode === "concord" && mayHaveEnded && firstSentence(branch ? c.raw.slice(branch.prefix.length) : c.raw) !== null) {
          stoppedAtSentence = true;
          break;
        }
      }
    } catch (err) {
      if (step.ctrl.signal.aborted || isAbort(err, ctrl.signal)) {
        c.error = "cancelled";
      } else {
        c.error = oneLine(err);
        this.emitter.emit({ type: "error", source: g.name, message: c.error });
      }
    } finally {
      if (!genDone) {
        ctrl.abort();
        step.closing.push(gen.return(undefined as never).catch(() => {}));
      }
    }
    if (c.error) {
      live.generated = true;
      this.emitter.emit({ type: "candidate-done", step: step.index, candidate: c });
      return;
    }
    if (finish === "abort" && step.ctrl.signal.aborted) {
      c.error = "cancelled";
      live.generated = true;
      this.emitter.emit({ type: "candidate-done", step: step.index, candidate: c });
      return;
    }

    const markerAt = marker ? c.raw.indexOf(marker) : -1;
    const body = markerAt >= 0 ? c.raw.slice(0, markerAt) : c.raw;
    // A model that ends its turn at once, with nothing more to think, has ended its thought.
    c.endOfThought = markerAt >= 0 || serverClosedThinking || (finish === "stop" && body.trim() === "");
    const flags = { stoppedAtSentence, endOfThought: c.endOfThought };
    const cut = branch?.prefix.length ?? 0;
    const text =
      branch && body.length >= cut
        ? branch.prefix + candidateText(c.raw.slice(cut), body.slice(cut), this.mode, flags)
        : candidateText(c.raw, body, this.mode, flags);
    // Paper: only the end marker in the chosen text ends the thought (an empty chunk does not).
    if (this.mode === "paper") c.endOfThought = (marker !== "" && text.includes(marker)) || serverClosedThinking;
    c.text = joinable(this.mode, step.cot, text);
    if (tokens.length) c.tokens = tokensCovering(tokens, text.trim().length);
    live.generated = true;
    this.emitter.emit({ type: "candidate-done", step: step.index, candidate: c });
    await this.scoreCandidate(step, c);
  }

  private async scoreCandidate(step: ActiveStep, c: Candidate): Promise<void> {
    if (step.ctrl.signal.aborted) return;
    const results = await Promise.all(
      this.evaluators.map(async (e): Promise<EvaluatorScore | null> => {
        try {
          const score = await evaluatorScore(e, {
            problem: this.problem,
            mode: this.mode,
            context: paperContext(this.mode, step.cot),
            candidate: c,
            signal: step.ctrl.signal,
            closing: step.closing,
          });
          if (step.ctrl.signal.aborted) return null;
          c.scores = [...c.scores, score];
          this.emitter.emit({ type: "score", step: step.index, candidateId: c.id, evaluator: e.name, meanNll: score.meanNll, perplexity: score.perplexity });
          return score;
        } catch (err) {
          if (step.ctrl.signal.aborted || isAbort(err)) return null;
          const msg = `${e.name}: ${oneLine(err)}`;
          c.error = c.error ? `${c.error}; ${msg}` : msg;
          this.emitter.emit({ type: "error", source: e.name, message: msg });
          return null;
        }
      }),
    );
    if (step.ctrl.signal.aborted) return;
    if (results.every((r) => r !== null)) {
      c.meanPerplexity = aggregateEvaluators(results.map((r) => r!));
      this.emitter.emit({ type: "candidate-scored", step: step.index, candidate: c });
    }
  }

  private afterCandidates(step: ActiveStep): void {
    if (step.settled || step.ctrl.signal.aborted) return;
    const candidates = [...step.live.values()].map((l) => l.c);
    const scored = candidates.filter((c) => c.meanPerplexity !== undefined && Number.isFinite(c.meanPerplexity));
    const at = pickLowest(scored);
    const best = at >= 0 ? { id: scored[at].id, value: scored[at].meanPerplexity! } : null;
    if (best) {
      step.pick = best.id;
      this.emitter.emit({ type: "pick", step: step.index, candidateId: best.id, meanPerplexity: best.value });
    }
    if (step.auto) {
      if (best) {
        this.commit(step, best.id, "evaluator");
      } else {
        step.status = "failed";
        this.emitter.emit({ type: "error", source: "ensemble", message: `step ${step.index + 1}: no candidate could be generated and scored` });
        step.settle("failed");
      }
      return;
    }
    step.status = "awaiting-decision";
    this.emitter.emit({ type: "awaiting-decision", step: step.index });
  }

  private requireStep(): ActiveStep {
    if (!this.step) throw new Error("no step in progress");
    return this.step;
  }

  private requireGenerated(step: ActiveStep, candidateId: string): LiveCandidate {
    const live = step.live.get(candidateId);
    if (!live) throw new Error(`no candidate ${candidateId} in step ${step.index + 1}`);
    if (!live.generated || live.c.error === "cancelled") throw new Error(`candidate ${candidateId} has not finished`);
    if (this.mode === "concord" && !live.c.text.trim() && !live.c.endOfThought) throw new Error(`candidate ${candidateId} is empty`);
    return live;
  }

  /** Accept a finished candidate (any time: candidates still streaming are cancelled). */
  accept(candidateId: string): void {
    const step = this.requireStep();
    this.requireGenerated(step, candidateId);
    const decision: Decision = step.pick === candidateId ? "evaluator" : "human-pick";
    this.commit(step, candidateId, decision);
  }

  /** Accept a candidate after a human edit of its text. */
  acceptEdited(candidateId: string, text: string): void {
    const step = this.requireStep();
    this.requireGenerated(step, candidateId);
    this.commit(step, candidateId, "human-edit", text);
  }

  /** Append a human-written sentence (cancels a step in progress; its candidates are kept). */
  write(text: string): void {
    if (!text.trim()) throw new Error("an empty sentence cannot be added");
    if (this.chain.finished) throw new Error("the chain has reached its end of thought; undo first");
    const step = this.step;
    if (step) {
      this.commit(step, null, "human-written", text);
      return;
    }
    this.pushSentence(
      this.chain.sentences.length,
      {
        text: joinable(this.mode, chainText(this.chain, this.mode), text),
        author: "human",
        decision: "human-written",
        candidates: [],
        at: new Date().toISOString(),
      },
      false,
    );
  }

  private commit(step: ActiveStep, candidateId: string | null, decision: Decision, editedText?: string): void {
    if (step.settled) return;
    // Whatever is still streaming or scoring lost the race: stop it now.
    if (!step.ctrl.signal.aborted) step.ctrl.abort();
    const candidates = [...step.live.values()].map(({ c, generated }) => (generated || c.error ? { ...c } : { ...c, error: "cancelled" }));
    const chosen = candidateId ? candidates.find((c) => c.id === candidateId) : undefined;
    const text = editedText !== undefined ? joinable(this.mode, step.cot, editedText) : (chosen?.text ?? "");
    const sentence: ChainSentence = {
      text,
      author: chosen && decision !== "human-written" ? chosen.generator : "human",
      decision,
      candidates,
      evaluatorPick: step.pick,
      acceptedId: chosen?.id,
      at: new Date().toISOString(),
    };
    step.status = "accepted";
    const endOfThought = !!chosen?.endOfThought && decision !== "human-written";
    this.pushSentence(step.index, sentence, endOfThought);
    step.settle("accepted");
  }

  private pushSentence(index: number, sentence: ChainSentence, endOfThought: boolean): void {
    this.chain = { sentences: [...this.chain.sentences, sentence], finished: endOfThought };
    this.emitter.emit({ type: "sentence-accepted", step: index, sentence });
    if (endOfThought) this.emitter.emit({ type: "chain-finished", reason: "end-of-thought" });
    else if (this.budgetReached()) this.emitter.emit({ type: "chain-finished", reason: "budget" });
  }

  /**
   * Abort every in-flight request of the current step at once. Resolves when every stream has
   * been closed. The chain is unchanged.
   */
  async cancel(): Promise<void> {
    this.pauseRequested = true;
    const step = this.step;
    if (!step) return;
    step.ctrl.abort();
    step.status = "cancelled";
    this.emitter.emit({ type: "step-cancelled", step: step.index });
    step.settle("cancelled");
    await Promise.allSettled(step.tasks);
    await settleWithin(Promise.allSettled(step.closing), 2000);
  }

  /** Cancel the step in progress (if any) and start it again with fresh candidates. */
  async regenerate(): Promise<StepOutcome> {
    const auto = this.step?.auto;
    await this.cancel();
    this.pauseRequested = false;
    return this.startStep({ auto });
  }

  /**
   * Go to another place in the session tree: the step in progress is cancelled and the chain
   * becomes the one given (the store keeps the tree; the builder runs one branch at a time).
   */
  async setChain(chain: Chain): Promise<void> {
    await this.cancel();
    this.pauseRequested = false;
    this.chain = { sentences: [...chain.sentences], finished: chain.finished };
  }

  /**
   * Append a sentence decided outside a step: a candidate of a race kept in the session tree,
   * taken without generating again. An edited text is joined to the chain as an edit is.
   */
  async adopt(sentence: ChainSentence, endOfThought: boolean): Promise<void> {
    if (this.chain.finished) throw new Error("the chain has reached its end of thought; undo first");
    await this.cancel();
    this.pauseRequested = false;
    const text = sentence.decision === "human-edit" ? joinable(this.mode, chainText(this.chain, this.mode), sentence.text) : sentence.text;
    this.pushSentence(this.chain.sentences.length, { ...sentence, text }, endOfThought);
  }

  /** Remove the last sentence (cancelling a step in progress first). */
  async undo(): Promise<ChainSentence | undefined> {
    await this.cancel();
    const last = this.chain.sentences[this.chain.sentences.length - 1];
    if (!last) return undefined;
    this.chain = { sentences: this.chain.sentences.slice(0, -1), finished: false };
    this.emitter.emit({ type: "sentence-undone", step: this.chain.sentences.length });
    return last;
  }

  /** Stop after the current step (runSteps returns "paused"). */
  pause(): void {
    this.pauseRequested = true;
  }

  /** Cancel and declare the chain finished on request. */
  async stop(): Promise<void> {
    await this.cancel();
    this.stopped = true;
    this.emitter.emit({ type: "chain-finished", reason: "stopped" });
  }

  /** Run n steps (or until the end), accepting the evaluator's pick each time. */
  async runSteps(n: number | "end"): Promise<RunOutcome> {
    this.pauseRequested = false;
    this.stopped = false;
    let done = 0;
    for (;;) {
      const reason = this.stopReason();
      if (reason) return reason;
      if (n !== "end" && done >= n) return "count";
      if (this.pauseRequested) return this.stopped ? "cancelled" : "paused";
      const outcome = await this.startStep({ auto: true });
      if (outcome === "cancelled") return "cancelled";
      if (outcome === "failed") return "failed";
      if (outcome === "finished") continue;
      done++;
    }
  }
}
