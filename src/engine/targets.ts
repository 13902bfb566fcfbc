// Targets answer from a chain placed inside their own thinking block (SCIENCE.md §1): the
// block is prefilled and closed, and the target decodes its answer greedily. The panel re-asks
// the targets as a chain grows, cancels answers that a newer chain made stale, and keeps the
// consistency of the targets' answers for every chain length.
import { collect, type Prompt } from "../backends/types.js";
import { paperTargetPrompt, type PaperStage } from "./paper-requests.js";
import type { Chain } from "../core/chain.js";
import { chainText } from "../core/chain.js";
import { computeConsistency, type TargetAnswer as CoreAnswer } from "../core/consistency.js";
import { gradeAnswer } from "../core/answers.js";
import { thinkingPrefill } from "../core/thinking.js";
import type { Grade, Problem } from "../core/types.js";
import { oneLine } from "../errors.js";
import { CancelledError, childController, isAbort } from "./abort.js";
import { Emitter } from "./emitter.js";
import type { ConsistencySnapshot, EngineListener, TargetAnswer } from "./events.js";
import type { ModelHandle } from "./models.js";

/**
 * The interactive panel's and the relay's answer budget, kept short so the panel answers as the
 * chain grows. A reply cut by it is marked truncated, not graded. Experiments use the authors'
 * budget instead (answerBudget in experiment.ts): their prompt asks for step_by_step_thinking
 * before the answer, which takes hundreds of tokens.
 */
export const DEFAULT_ANSWER_TOKENS = 100;

export interface AskOptions {
  maxTokens?: number;
  /** 0 (greedy) unless a condition samples the answer. */
  temperature?: number;
  /** A sampled answer's seed: the same request then gets the same answer, and the response cache keeps it. */
  seed?: number;
  signal?: AbortSignal;
  /** The paper reading: the authors' request text, for this stage of their scripts. */
  paper?: PaperStage;
}

export interface TargetReply {
  target: string;
  /** The target's answer text (after the prefilled thinking). */
  raw: string;
  grade: Grade;
  /** Set when the backend failed; then raw is "" and the grade is wrong. */
  error?: string;
  /** The reply hit its token budget: it is not graded (its last number is not its answer). */
  truncated?: boolean;
}

/** Ask one target to answer with `cot` as its thinking (greedy unless the handle says otherwise). Rejects only on cancellation. */
export async function askTarget(target: ModelHandle, problem: Problem, cot: string, opts: AskOptions = {}): Promise<TargetReply> {
  try {
    const prompt: Prompt = (opts.paper && paperTargetPrompt(target, problem, cot, opts.paper)) || {
      kind: "chat",
      messages: problem.messages,
      assistantPrefix: thinkingPrefill(target.thinkingFormat, cot),
    };
    const res = await collect(
      target.backend.stream({
        prompt,
        maxTokens: opts.maxTokens ?? DEFAULT_ANSWER_TOKENS,
        // Greedy, as in the paper, unless the condition samples or the handle is one of the
        // one-file demo's sampled targets.
        temperature: target.targetSampling?.temperature ?? opts.temperature ?? 0,
        ...(target.targetSampling ? { seed: target.targetSampling.seed } : opts.seed !== undefined ? { seed: opts.seed } : {}),
        signal: opts.signal,
      }),
    );
    if (opts.signal?.aborted || res.finishReason === "abort") throw new CancelledError(`${target.name}'s answer`);
    // A server that keeps treating the answer as thinking puts it in the reasoning field.
    const raw = res.text || res.reasoning;
    if (res.finishReason === "length") {
      return { target: target.name, raw, truncated: true, grade: { answer: "", correct: false, error: "the reply hit its token budget" } };
    }
    return { target: target.name, raw, grade: gradeAnswer(raw, problem.reference) };
  } catch (err) {
    if (isAbort(err, opts.signal)) throw err;
    const error = `${target.name}: ${oneLine(err)}`;
    return { target: target.name, raw: "", grade: { answer: "", correct: false, error }, error };
  }
}

/** Pairwise agreement of one item's answers (SCIENCE.md §1, strict reading). */
export function snapshotOf(chainLength: number, answers: TargetAnswer[], order: string[] = []): ConsistencySnapshot {
  const core: CoreAnswer[] = answers.map((a) => ({
    target: a.target,
    itemId: "item",
    answer: a.grade.answer === "" ? null : a.grade.answer,
    correct: a.grade.correct,
  }));
  const report = computeConsistency(core, "strict", order);
  const pairs: Record<string, boolean> = {};
  for (const p of report.pairs) {
    if (p.value === null) continue;
    const [a, b] = p.a < p.b ? [p.a, p.b] : [p.b, p.a];
    pairs[`${a}|${b}`] = p.value === 1;
  }
  const values = Object.values(pairs);
  return {
    chainLength,
    pairs,
    consistency: values.length ? values.filter(Boolean).length / values.length : 0,
    accuracy: answers.length ? answers.filter((a) => a.grade.correct).length / answers.length : 0,
    split: report.split ?? { consistentCorrect: 0, consistentWrong: 0, inconsistent: 0 },
  };
}

export interface TargetPanelOptions {
  problem: Problem;
  targets: ModelHandle[];
  /** Ask every N sentences (1 = every sentence). The finished chain is always asked. */
  every?: number;
  maxTokens?: number;
  mode?: "concord" | "paper";
}

interface Round {
  key: string;
  chainLength: number;
  ctrl: AbortController;
  answers: TargetAnswer[];
  done: Promise<ConsistencySnapshot | null>;
}

export class TargetPanel {
  readonly problem: Problem;
  readonly targets: ModelHandle[];
  readonly every: number;
  readonly maxTokens: number;
  readonly mode: "concord" | "paper";
  private emitter = new Emitter();
  private round: Round | null = null;
  private snapshots = new Map<number, { key: string; snapshot: ConsistencySnapshot; answers: TargetAnswer[] }>();

  constructor(opts: TargetPanelOptions) {
    this.problem = opts.problem;
    this.targets = opts.targets;
    this.every = Math.max(1, opts.every ?? 1);
    this.maxTokens = opts.maxTokens ?? DEFAULT_ANSWER_TOKENS;
    this.mode = opts.mode ?? "concord";
  }

  on(listener: EngineListener): () => void {
    return this.emitter.on(listener);
  }

  /** Consistency for every chain length asked so far, shortest first. */
  history(): ConsistencySnapshot[] {
    return [...this.snapshots.values()].map((s) => s.snapshot).sort((a, b) => a.chainLength - b.chainLength);
  }

  /** The answers behind the snapshot at a chain length. */
  answersAt(chainLength: number): TargetAnswer[] {
    return this.snapshots.get(chainLength)?.answers ?? [];
  }

  /** The round in flight (chain length), or null. */
  pending(): number | null {
    return this.round?.chainLength ?? null;
  }

  /**
   * The chain changed. Ask the targets when this length is due (every N, or the chain is
   * finished, or `force`), cancelling a round for an older chain. Resolves with the snapshot,
   * or null when nothing was asked or the round became stale.
   */
  update(chain: Chain, opts: { force?: boolean } = {}): Promise<ConsistencySnapshot | null> {
    const length = chain.sentences.length;
    const cot = chainText(chain, this.mode);
    const key = `${length}\u241f${cot}`;
    // Lengths beyond an undone chain belong to a chain that no longer exists.
    for (const l of [...this.snapshots.keys()]) if (l > length) this.snapshots.delete(l);
    if (this.round?.key === key) return this.round.done;
    const due = opts.force || chain.finished || length % this.every === 0;
    const have = this.snapshots.get(length);
    if (this.round && (due || this.round.chainLength > length || this.round.chainLength === length)) this.cancelRound();
    if (!due) return Promise.resolve(null);
    if (have?.key === key) return Promise.resolve(have.snapshot);
    return this.startRound(key, length, cot);
  }

  /** Follow a chain builder: re-ask on every accepted or undone sentence. */
  attach(builder: { on(l: EngineListener): () => void; getChain(): Chain }): () => void {
    return builder.on((ev) => {
      if (ev.type === "sentence-accepted" || ev.type === "sentence-undone" || (ev.type === "chain-finished" && ev.reason !== "stopped")) {
        void this.update(builder.getChain());
      }
    });
  }

  /** Cancel the round in flight; resolves when its requests are closed. */
  async cancel(): Promise<void> {
    const r = this.round;
    this.cancelRound();
    if (r) await r.done;
  }

  private cancelRound(): void {
    const r = this.round;
    if (!r) return;
    this.round = null;
    r.ctrl.abort();
    this.emitter.emit({ type: "targets-cancelled", chainLength: r.chainLength });
  }

  private startRound(key: string, chainLength: number, cot: string): Promise<ConsistencySnapshot | null> {
    const ctrl = childController();
    const round: Round = { key, chainLength, ctrl, answers: [], done: Promise.resolve(null) };
    this.round = round;
    round.done = (async () => {
      const replies = await Promise.all(
        this.targets.map(async (t) => {
          this.emitter.emit({ type: "target-start", target: t.name, chainLength });
          try {
            // An ensemble's chain went to the authors' targets through run_custom_thoughts.py, at low effort.
            const paper = this.mode === "paper" ? "run" : undefined;
            const reply = await askTarget(t, this.problem, cot, { maxTokens: this.maxTokens, signal: ctrl.signal, paper });
            if (ctrl.signal.aborted) return null;
            const answer: TargetAnswer = { target: t.name, chainLength, raw: reply.raw, grade: reply.grade };
            round.answers.push(answer);
            if (reply.error) this.emitter.emit({ type: "error", source: t.name, message: reply.error });
            this.emitter.emit({ type: "target-answer", answer });
            return answer;
          } catch (err) {
            if (isAbort(err, ctrl.signal)) return null;
            throw err;
          }
        }),
      );
      if (ctrl.signal.aborted || replies.some((r) => r === null)) return null;
      const answers = replies as TargetAnswer[];
      const snapshot = snapshotOf(
        chainLength,
        answers,
        this.targets.map((t) => t.name),
      );
      this.snapshots.set(chainLength, { key, snapshot, answers });
      if (this.round === round) this.round = null;
      this.emitter.emit({ type: "consistency", snapshot });
      return snapshot;
    })();
    return round.done;
  }
}
