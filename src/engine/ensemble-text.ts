// Helpers of sentence-level ensembling: what a streamed candidate becomes, how its tokens are
// kept, and one evaluator's score of it.
import type { CompletionRequest, Prompt, SamplingOptions, TokenLogprob } from "../backends/types.js";
import type { Candidate, Chain, EvaluatorScore } from "../core/chain.js";
import { paperPerplexity, scoreFromTokens } from "../core/scoring.js";
import { endOfThoughtMarker, openThinkingPrefill } from "../core/thinking.js";
import type { Problem } from "../core/types.js";
import { raceAbort } from "./abort.js";
import type { ModelHandle } from "./models.js";
import { paperEnsemblePrompt } from "./paper-requests.js";
import { cutAtLastSentenceEnd, splitSentences } from "../core/sentences.js";
import { CONCORD_CANDIDATE_TOKENS, type EnsembleMode } from "./ensemble-types.js";

/**
 * The text a streamed candidate offers. Paper: truncate_to_last_sentence over the whole chunk
 * (text after the end marker stays, an empty chunk is a candidate like any other). Concord: the
 * first sentence when the stream stopped at one, the thought's last words when it ended, else
 * the text cut back to its last complete sentence.
 */
export function candidateText(raw: string, body: string, mode: EnsembleMode, flags: { stoppedAtSentence: boolean; endOfThought: boolean }): string {
  if (mode === "paper") return cutAtLastSentenceEnd(raw, "paper").kept;
  if (flags.stoppedAtSentence) return firstSentence(body) ?? body;
  if (flags.endOfThought) return body.trimEnd();
  const cut = cutAtLastSentenceEnd(body, "concord", { complete: false });
  return (cut.found ? cut.kept : body).trimEnd();
}

/** The published code's whole-sequence perplexity, as a score. */
export function paperScore(prefix: TokenLogprob[], candidate: TokenLogprob[]): { meanNll: number; perplexity: number } {
  const perplexity = paperPerplexity(
    prefix.map((t) => t.logprob),
    candidate.map((t) => t.logprob),
  );
  return { meanNll: Math.log(perplexity), perplexity };
}

/** The first complete sentence of a stream (confirmed by text after it), or null. */
export function firstSentence(text: string): string | null {
  const spans = splitSentences(text, "concord");
  if (spans.length < 2) return null;
  if (!spans.slice(1).some((s) => s.text.trim() !== "")) return null;
  return spans[0].text.trimEnd();
}

/** Tokens in a chain: the generator's own count when the text is unchanged, else ~4 chars a token. */
export function chainTokenEstimate(chain: Chain): number {
  let n = 0;
  for (const s of chain.sentences) {
    const acc = s.acceptedId ? s.candidates.find((c) => c.id === s.acceptedId) : undefined;
    n += acc?.tokens && acc.text === s.text ? acc.tokens.length : Math.ceil(s.text.length / 4);
  }
  return n;
}

/** The leading tokens that cover `chars` characters of non-leading-whitespace text. */
export function tokensCovering(tokens: TokenLogprob[], chars: number): TokenLogprob[] {
  const out: TokenLogprob[] = [];
  let seen = 0;
  for (const t of tokens) {
    if (seen >= chars) break;
    out.push(t);
    seen += (out.length === 1 ? t.token.trimStart() : t.token).length;
  }
  return out;
}

/**
 * One evaluator's score of a candidate. Paper: exactly `context + candidate` is scored, with no
 * space between and no end marker added, by whole-sequence perplexity (the published
 * compute_perplexities). Concord: the candidate's tokens given the context, with the
 * evaluator's own end marker when the candidate ends the thought.
 */
export async function evaluatorScore(
  e: ModelHandle,
  opts: { problem: Problem; mode: EnsembleMode; context: string; candidate: Candidate; signal: AbortSignal; closing: Promise<unknown>[] },
): Promise<EvaluatorScore> {
  const c = opts.candidate;
  const paper = opts.mode === "paper";
  const text = paper ? c.text : c.endOfThought ? c.text + endOfThoughtMarker(e.thinkingFormat) : c.text;
  const prefix: Prompt = (paper && paperEnsemblePrompt(e, opts.problem, opts.context)) || {
    kind: "chat",
    messages: opts.problem.messages,
    assistantPrefix: openThinkingPrefill(e.thinkingFormat, opts.context),
  };
  const scoring = e.backend.score({ prefix, candidates: [text], includePrefix: paper, signal: opts.signal });
  // cancel() waits for the backend itself to stop, not only for this race.
  opts.closing.push(scoring.catch(() => {}));
  const res = await raceAbort(scoring, opts.signal);
  const sc = res.candidates[0];
  if (!sc) throw new Error("the backend returned no score");
  const s = paper ? paperScore(sc.prefixTokens ?? [], sc.tokens) : scoreFromTokens(sc.tokens);
  if (!Number.isFinite(s.perplexity)) throw new Error("no tokens to score");
  return { evaluator: e.name, meanNll: s.meanNll, perplexity: s.perplexity, tokens: sc.tokens };
}

/**
 * The thinking so far as the models see it. Paper: the published code appended
 * `" " + chosen.strip()` to a context ending in the opening tag, so it starts with a space.
 */
export function paperContext(mode: EnsembleMode, cot: string): string {
  return mode === "paper" && cot !== "" ? " " + cot : cot;
}

/** The text as it will sit in the chain: Concord keeps the model's own separator (adding a
 * space only when there is none); paper mode trims and joins with single spaces. */
export function joinable(mode: EnsembleMode, cot: string, text: string): string {
  if (mode === "paper") return text.trim();
  if (cot && !/\s$/.test(cot) && text && !/^\s/.test(text)) return " " + text;
  return text;
}

/** How many alternatives a candidate keeps per token, where its backend gives them. */
export const TOKEN_ALTERNATIVES = 5;

/** One generator's request for a step's candidate. */
export function generatorRequest(
  g: ModelHandle,
  o: { problem: Problem; context: string; sampling: Partial<SamplingOptions>; step: number; seedOffset: number; signal: AbortSignal; mode?: EnsembleMode },
): CompletionRequest {
  const s = o.sampling;
  return {
    prompt: (o.mode === "paper" && paperEnsemblePrompt(g, o.problem, o.context)) || {
      kind: "chat",
      messages: o.problem.messages,
      assistantPrefix: openThinkingPrefill(g.thinkingFormat, o.context),
    },
    maxTokens: s.maxTokens ?? CONCORD_CANDIDATE_TOKENS,
    temperature: s.temperature,
    topK: s.topK,
    topP: s.topP,
    // Distinct but reproducible seeds per step and candidate.
    seed: s.seed === undefined ? undefined : s.seed + o.step * 1000 + o.seedOffset,
    logprobs: true,
    // The alternatives at each position: the view of a candidate's tokens, and branching at one.
    topLogprobs: TOKEN_ALTERNATIVES,
    signal: o.signal,
  };
}
