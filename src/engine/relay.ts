// Reasoning relay (SCIENCE.md §2, Concord's reading). An initiator writes a chain with token
// log-probabilities; the chain is cut after early/mid/late sentences (core/cutpoints.ts) or
// any sentence by hand; each continuer finishes the chain from each cut inside its own open
// thinking block; every chain is answered and graded; steps are scored by a PRM or an LLM
// judge; and the first sentence where a continuer's answer departs from the initiator's is found.
import { collect } from "../backends/types.js";
import { afterThinking } from "../core/answers.js";
import { cutPoints, type CutRule } from "../core/cutpoints.js";
import { splitSentences } from "../core/sentences.js";
import { thinkingPrefill } from "../core/thinking.js";
import type { Problem, TokenLogprob } from "../core/types.js";
import { oneLine } from "../errors.js";
import { isAbort, throwIfAborted } from "./abort.js";
import { DEFAULT_COT_TOKENS, generateCot } from "./cot.js";
import type { EngineListener } from "./events.js";
import type { ModelHandle } from "./models.js";
import { askTarget, DEFAULT_ANSWER_TOKENS, type TargetReply } from "./targets.js";

// ---- step scorers -------------------------------------------------------------------------

/** Scores each step (sentence) of a chain for a problem, in [0, 1]; null where it could not. */
export interface StepScorer {
  readonly name: string;
  /** `from`: steps before it are already scored (null in the reply) where the scorer can skip them. */
  scoreSteps(problem: Problem, steps: string[], signal?: AbortSignal, from?: number): Promise<(number | null)[]>;
}

/**
 * The judge's fixed rubric (used when no PRM is configured). One call per step; the judge sees
 * the problem, the steps before, and the step to grade, and replies with one digit:
 *   2 = correct and useful, 1 = correct but unhelpful or unclear, 0 = wrong (a false fact,
 *   a calculation error, or a conclusion that does not follow).
 * The score is digit / 2; a reply with no digit 0-2 gives null.
 */
const JUDGE_RUBRIC = `You grade one step of a worked solution.
Reply with a single digit and nothing else:
2 = the step is correct and moves the solution forward;
1 = the step is correct but does not help (repetition, filler, unclear);
0 = the step is wrong: a false statement, a calculation error, or a conclusion that does not follow.`;

function judgePrompt(problem: Problem, before: string[], step: string): string {
  const question = problem.messages
    .filter((m) => m.role === "user")
    .map((m) => m.content)
    .join("\n");
  return `${JUDGE_RUBRIC}\n\nProblem:\n${question}\n\nSteps so far:\n${before.length ? before.join(" ") : "(none)"}\n\nStep to grade:\n${step}\n\nGrade (0, 1 or 2):`;
}

export function parseJudgeGrade(reply: string): number | null {
  const m = afterThinking(reply).match(/[0-2]/);
  return m ? Number(m[0]) / 2 : null;
}

export class JudgeScorer implements StepScorer {
  readonly name: string;
  constructor(private judge: ModelHandle) {
    this.name = `judge:${judge.name}`;
  }

  async scoreSteps(problem: Problem, steps: string[], signal?: AbortSignal, from = 0): Promise<(number | null)[]> {
    // A step's grade depends only on the steps before it, so a known prefix need not be asked again.
    return Promise.all(
      steps.map(async (step, i) => {
        if (i < from) return null;
        try {
          const res = await collect(
            this.judge.backend.stream({
              prompt: {
                kind: "chat",
                messages: [{ role: "user", content: judgePrompt(problem, steps.slice(0, i), step) }],
                assistantPrefix: thinkingPrefill(this.judge.thinkingFormat, ""),
              },
              maxTokens: 4,
              temperature: 0,
              signal,
            }),
          );
          return parseJudgeGrade(res.text || res.reasoning);
        } catch (err) {
          if (isAbort(err, signal)) throw err;
          return null;
        }
      }),
    );
  }
}

export interface PrmOptions {
  name: string;
  /** The server's base URL, e.g. http://localhost:8000 (a trailing /v1 is removed). */
  baseURL: string;
  model: string;
  /** Name of the environment variable holding the API key, if the server wants one. */
  apiKeyEnv?: string;
  /** The step separator token of the PRM (Qwen2.5-Math-PRM: "<extra_0>"). */
  stepToken?: string;
}

/**
 * A process reward model served by vLLM's pooling API (`POST /pooling`), as for
 * Qwen2.5-Math-PRM: the solution is sent with the step token after every step, and the server
 * returns one [P(wrong), P(right)] pair per step token; the score is P(right).
 */
export class PrmScorer implements StepScorer {
  readonly name: string;
  constructor(private opts: PrmOptions) {
    this.name = `prm:${opts.name}`;
  }

  /** The text the PRM reads (Qwen2.5-Math-PRM's chat format). */
  prmInput(problem: Problem, steps: string[]): string {
    const tok = this.opts.stepToken ?? "<extra_0>";
    const question = problem.messages
      .filter((m) => m.role === "user")
      .map((m) => m.content)
      .join("\n");
    return (
      "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n" +
      `<|im_start|>user\n${question}<|im_end|>\n<|im_start|>assistant\n` +
      steps.map((s) => s.trim() + tok).join("") +
      "<|im_end|><|endoftext|>"
    );
  }

  async scoreSteps(problem: Problem, steps: string[], signal?: AbortSignal): Promise<(number | null)[]> {
    if (steps.length === 0) return [];
    const base = this.opts.baseURL.replace(/\/+$/, "").replace(/\/v1$/, "");
    const headers: Record<string, string> = { "content-type": "application/json" };
    const key = this.opts.apiKeyEnv ? process.env[this.opts.apiKeyEnv] : undefined;
    if (key) headers.authorization = `Bearer ${key}`;
    const res = await fetch(`${base}/pooling`, {
      method: "POST",
      headers,
      body: JSON.stringify({ model: this.opts.model, input: this.prmInput(problem, steps) }),
      signal,
    });
    if (!res.ok) throw new Error(`PRM ${this.opts.name}: HTTP ${res.status} from ${base}/pooling`);
    const body = (await res.json()) as { data?: Array<{ data?: unknown }> };
    const rows = body.data?.[0]?.data;
    if (!Array.isArray(rows)) throw new Error(`PRM ${this.opts.name}: the reply has no data[0].data array`);
    const scores = rows.map((r) => (Array.isArray(r) ? Number(r[r.length - 1]) : Number(r)));
    return steps.map((_, i) => (Number.isFinite(scores[i]) ? scores[i] : null));
  }
}

// ---- the relay ----------------------------------------------------------------------------

export type CutName = "early" | "mid" | "late";

export interface RelayOptions {
  problem: Problem;
  initiator: ModelHandle;
  continuers: ModelHandle[];
  /** Which cuts to continue from: named cuts and/or sentence indices ("cut after sentence i"). */
  cuts?: Array<CutName | number>;
  cutRule?: CutRule;
  /** Token budget of the initiator's chain and of each continuation. */
  maxTokens?: number;
  answerTokens?: number;
  /** Initiator sampling temperature (default 0: greedy, reproducible). */
  temperature?: number;
  seed?: number;
  scorer?: StepScorer;
  /** Find the first departing sentence when a continuer's final answer differs (default true). */
  locateDeparture?: boolean;
  signal?: AbortSignal;
  onEvent?: EngineListener;
}

export interface InitiatorChain {
  model: string;
  cot: string;
  sentences: string[];
  tokens: TokenLogprob[];
  answer: TargetReply;
  stepScores?: (number | null)[];
}

export interface Departure {
  /** Index (in the hybrid chain's sentences) of the first sentence after which the answer departs. */
  sentence: number;
  /** The answer given from the chain up to that sentence. */
  answer: string;
}

export interface RelayRun {
  cut: CutName | number;
  /** The continuer got the initiator's sentences 0..cutSentence. */
  cutSentence: number;
  continuer: string;
  /** The continuer's own text after the cut. */
  continuation: string;
  /** Sentences of the hybrid chain (initiator's prefix, then the continuer's). */
  sentences: string[];
  /** Index of the continuer's first sentence in `sentences`. */
  handover: number;
  answer: TargetReply;
  /** Same answer as the initiator (or both correct). */
  agrees: boolean;
  /**
   * How the answers compare: "no-answer" when neither gave one (no answer is no departure).
   * Absent in relays saved before it existed: read it with runComparison().
   */
  comparison?: RelayComparison;
  stepScores?: (number | null)[];
  /** Null when the final answers agree, or when no departing sentence was found. */
  departure: Departure | null;
}

export interface RelayResult {
  problemId: string;
  initiator: InitiatorChain;
  cutPoints: Record<CutName, number>;
  runs: RelayRun[];
  scorer?: string;
}

export type RelayComparison = "agrees" | "differs" | "no-answer";

/** The continuer's answer against the initiator's. Two missing answers neither agree nor differ. */
/** A run's comparison, also for relays saved before `comparison` was recorded. */
export function runComparison(run: Pick<RelayRun, "agrees" | "comparison" | "answer">, initiator: Pick<InitiatorChain, "answer">): RelayComparison {
  return run.comparison ?? (run.agrees ? "agrees" : compareAnswers(run.answer, initiator.answer));
}

export function compareAnswers(continuer: Pick<TargetReply, "grade">, initiator: Pick<TargetReply, "grade">): RelayComparison {
  if (agree(continuer, initiator)) return "agrees";
  return continuer.grade.answer === "" && initiator.grade.answer === "" ? "no-answer" : "differs";
}

export function agree(a: Pick<TargetReply, "grade">, b: Pick<TargetReply, "grade">): boolean {
  return (a.grade.correct && b.grade.correct) || (a.grade.answer !== "" && a.grade.answer === b.grade.answer);
}

export function joinSentences(sentences: string[]): string {
  let out = "";
  for (const s of sentences) out += out && !/\s$/.test(out) && !/^\s/.test(s) ? " " + s : s;
  return out;
}

export async function runRelay(opts: RelayOptions): Promise<RelayResult> {
  const { problem, signal } = opts;
  const emit: EngineListener = (e) => opts.onEvent?.(e);
  const maxTokens = opts.maxTokens ?? DEFAULT_COT_TOKENS;
  const answerTokens = opts.answerTokens ?? DEFAULT_ANSWER_TOKENS;

  emit({ type: "progress", done: 0, total: 1, label: `${opts.initiator.name} writes the chain` });
  const init = await generateCot(opts.initiator, problem, { maxTokens, temperature: opts.temperature ?? 0, seed: opts.seed, logprobs: true, signal });
  const spans = splitSentences(init.cot, "concord").filter((s) => s.text.trim() !== "");
  const sentences = spans.map((s) => s.text);
  if (sentences.length < 2) throw new Error(`${opts.initiator.name} wrote ${sentences.length} sentence(s) for problem ${problem.id}; a relay needs at least 2`);
  const tokens = init.tokens ?? [];
  if (!tokens.length) throw new Error(`${opts.initiator.name} gave no token log-probabilities; the relay needs them to place cuts`);
  const cps = cutPoints(
    tokens,
    splitSentences(init.cot, "concord").filter((s) => s.text.trim() !== ""),
    { rule: opts.cutRule ?? "threshold" },
  );
  const named: Record<CutName, number> = { early: cps.early.sentence, mid: cps.mid.sentence, late: cps.late.sentence };
  const initAnswer = await askTarget(opts.initiator, problem, init.cot, { maxTokens: answerTokens, signal });
  const initiator: InitiatorChain = { model: opts.initiator.name, cot: init.cot, sentences, tokens, answer: initAnswer };
  emit({ type: "target-answer", answer: { target: opts.initiator.name, chainLength: sentences.length, raw: initAnswer.raw, grade: initAnswer.grade } });

  const cuts = opts.cuts ?? ["early", "mid", "late"];
  for (const c of cuts) {
    if (typeof c === "number" && (c < 0 || c > sentences.length - 2 || !Number.isInteger(c))) {
      throw new Error(`cut ${c} is outside the initiator's chain: choose a sentence from 0 to ${sentences.length - 2}`);
    }
  }
  const scoreAll = async (steps: string[]) => {
    if (!opts.scorer) return undefined;
    try {
      return await opts.scorer.scoreSteps(
        problem,
        steps.map((s) => s.trim()),
        signal,
      );
    } catch (err) {
      if (isAbort(err, signal)) throw err;
      emit({ type: "error", source: opts.scorer.name, message: oneLine(err) });
      return steps.map(() => null);
    }
  };
  const initScores = scoreAll(sentences);
  // If a run fails or is cancelled first, nobody awaits initScores: keep its rejection handled.
  initScores.catch(() => undefined);

  const total = cuts.length * opts.continuers.length;
  let done = 0;
  const runs = await Promise.all(
    cuts.flatMap((cut) =>
      opts.continuers.map(async (cont): Promise<RelayRun> => {
        const cutSentence = typeof cut === "number" ? cut : named[cut];
        // No trailing whitespace: the continuer's first token brings its own separator.
        const prefix = joinSentences(sentences.slice(0, cutSentence + 1)).trimEnd();
        const more = await generateCot(cont, problem, { prefix, maxTokens, temperature: 0, signal });
        const contSentences = splitSentences(more.cot, "concord")
          .filter((s) => s.text.trim() !== "")
          .map((s) => s.text);
        const hybrid = [...sentences.slice(0, cutSentence + 1), ...contSentences];
        const answer = await askTarget(cont, problem, joinSentences(hybrid), { maxTokens: answerTokens, signal });
        const comparison = compareAnswers(answer, initAnswer);
        const agrees = comparison === "agrees";
        const [stepScores, departure] = await Promise.all([
          scoreAll(hybrid),
          // Nothing to depart from when the initiator gave no answer.
          agrees || opts.locateDeparture === false || initAnswer.grade.answer === ""
            ? Promise.resolve(null)
            : locateDeparture(cont, problem, hybrid, cutSentence + 1, initAnswer, answerTokens, signal),
        ]);
        throwIfAborted(signal);
        done++;
        emit({ type: "progress", done, total, label: `${cont.name} from ${typeof cut === "number" ? `sentence ${cut + 1}` : cut}` });
        return {
          cut,
          cutSentence,
          continuer: cont.name,
          continuation: more.cot,
          sentences: hybrid,
          handover: cutSentence + 1,
          answer,
          agrees,
          comparison,
          stepScores,
          departure,
        };
      }),
    ),
  );
  initiator.stepScores = await initScores;
  return { problemId: problem.id, initiator, cutPoints: named, runs, scorer: opts.scorer?.name };
}

/**
 * Departure (Concord's definition): the continuer is asked to answer from the hybrid chain
 * truncated after each sentence from the handover on; the first sentence after which its
 * answer differs from the initiator's final answer (and they are not both correct) is where
 * it departs. Asked only when the final answers differ; sentences are probed in order.
 */
export async function locateDeparture(
  model: ModelHandle,
  problem: Problem,
  hybrid: string[],
  from: number,
  reference: Pick<TargetReply, "grade">,
  answerTokens: number,
  signal?: AbortSignal,
): Promise<Departure | null> {
  for (let i = from; i < hybrid.length; i++) {
    const reply = await askTarget(model, problem, joinSentences(hybrid.slice(0, i + 1)), { maxTokens: answerTokens, signal });
    if (!agree(reply, reference)) return { sentence: i, answer: reply.grade.answer };
  }
  return null;
}
