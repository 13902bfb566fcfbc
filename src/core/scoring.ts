// Perplexity scoring of candidates (SCIENCE.md §1, step 3).
//
// Concord's default: PPL = exp(-(1/n) * sum log p(t_i | context, t_<i)) over the candidate's
// own tokens. An empty candidate has no tokens: its mean NLL and perplexity are +Infinity, so
// it can never win a step (this is a deliberate choice over throwing: an empty continuation is
// a legitimate, losing, sample).
import type { TokenLogprob } from "./types.js";

function checkLogprobs(logprobs: readonly number[], what: string): void {
  for (let i = 0; i < logprobs.length; i++) {
    const lp = logprobs[i]!;
    // -Infinity is a real (impossible-token) log-probability; NaN and clearly positive are not.
    if (Number.isNaN(lp) || lp > 1e-4) {
      throw new RangeError(`${what}: token ${i} has log-probability ${lp}, expected a number <= 0`);
    }
  }
}

/** Mean negative log-likelihood per token; +Infinity for no tokens. */
export function meanNll(logprobs: readonly number[]): number {
  checkLogprobs(logprobs, "meanNll");
  if (logprobs.length === 0) return Infinity;
  let sum = 0;
  for (const lp of logprobs) sum -= lp;
  return sum / logprobs.length;
}

/** exp(mean NLL); +Infinity for no tokens. */
export function perplexity(logprobs: readonly number[]): number {
  return Math.exp(meanNll(logprobs));
}

export interface TokenScore {
  meanNll: number;
  perplexity: number;
  n: number;
}

export function scoreFromTokens(tokens: readonly TokenLogprob[]): TokenScore {
  const lps = tokens.map((t) => t.logprob);
  const nll = meanNll(lps);
  return { meanNll: nll, perplexity: Math.exp(nll), n: lps.length };
}

/** Mean perplexity over evaluators (the paper's aggregation). Throws when there is none. */
export function aggregateEvaluators(scores: ReadonlyArray<{ perplexity: number }>): number {
  if (scores.length === 0) throw new RangeError("aggregateEvaluators: no evaluator scores to average");
  let sum = 0;
  for (const s of scores) sum += s.perplexity;
  return sum / scores.length;
}

/**
 * Index of the candidate with the lowest mean perplexity, or -1 when none is scored.
 * Unscored (undefined) and NaN entries are skipped. Ties go to the earliest index, as
 * Python's min() did in the published code; so the order candidates were collected in
 * (generator order, then sample index) decides, which is deterministic.
 */
export function pickLowest(candidates: ReadonlyArray<number | { meanPerplexity?: number } | undefined>): number {
  let best = -1;
  let bestScore = Infinity;
  candidates.forEach((c, i) => {
    const v = typeof c === "number" ? c : c?.meanPerplexity;
    if (v === undefined || Number.isNaN(v)) return;
    if (best === -1 || v < bestScore) {
      best = i;
      bestScore = v;
    }
  });
  return best;
}

/**
 * The published code's perplexity: exp of the mean token loss over the WHOLE sequence, prompt
 * included: exp(-(sum prefix + sum candidate + sum pad) / (n_prefix + n_candidate + n_pad)).
 * `prefixLogprobs` are the prompt's tokens after the first (the first has no context).
 * Quirk: the code scored all candidates in one padded batch and passed the padded ids as
 * labels, so pad positions (pad = EOS) were counted in the mean; pass their log-probs as
 * `padLogprobs` to reproduce that exactly. Backends rarely expose them, so by default none are
 * counted, which equals the published value for the longest candidate of a batch.
 */
export function paperPerplexity(prefixLogprobs: readonly number[], candidateLogprobs: readonly number[], padLogprobs: readonly number[] = []): number {
  return perplexity([...prefixLogprobs, ...candidateLogprobs, ...padLogprobs]);
}
