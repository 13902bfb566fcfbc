// Relay cut points (SCIENCE.md §2). The published relay work chose early/mid/late cut points
// "by token-level log-probability thresholds" without saying how; this is Concord's reading:
// - "quantile": the token positions at 25/50/75% of the chain (configurable);
// - "cumulative": where the cumulative surprisal (sum of -log p) first reaches 25/50/75% of
//   the chain's total, so cuts fall by information content rather than length;
// - "threshold": from each quantile position on, the first token where the windowed mean
//   log-probability (default window 16) drops below a threshold (default: mean - 1 sd of the
//   windowed series), i.e. the next point where the initiator became unsure; when no such dip
//   follows, the quantile position itself.
// Each position is snapped to the first sentence boundary at or after it. A cut is "after
// sentence i": the continuer gets sentences 0..i. Cuts are never before the first sentence
// and never after the last one (the continuer must have something to continue), so every
// index lies in [0, sentences - 2]. Two sentences give early = mid = late = 0; fewer is an error.
import type { Span, TokenLogprob } from "./types.js";

export type CutRule = "quantile" | "threshold" | "cumulative";

export interface CutToken extends TokenLogprob {
  /** Character offset of the token in the text the sentences were split from. */
  offset?: number;
}

export interface CutOptions {
  rule: CutRule;
  /** Fractions for early, mid, late. Default [0.25, 0.5, 0.75]. */
  quantiles?: readonly [number, number, number];
  /** Threshold rule: tokens in the moving window. Default 16. */
  window?: number;
  /** Threshold rule: windowed mean log-prob below this marks a dip. Default: mean - 1 sd. */
  threshold?: number;
}

export interface CutPoint {
  /** Cut after this sentence (0-based). */
  sentence: number;
  /** Tokens in the kept prefix (tokens starting before the end of that sentence). */
  token: number;
  /** Threshold rule: true when no dip was found and the quantile position was used. */
  fallback?: boolean;
}

export interface CutPoints {
  early: CutPoint;
  mid: CutPoint;
  late: CutPoint;
}

/** Start offset of every token: given offsets, or running sum of token text lengths from 0. */
function tokenOffsets(tokens: readonly CutToken[]): number[] {
  let pos = 0;
  return tokens.map((t, i) => {
    if (t.offset !== undefined) {
      if (!Number.isFinite(t.offset) || t.offset < 0) throw new RangeError(`cutPoints: token ${i} has a bad offset ${t.offset}`);
      pos = t.offset + t.token.length;
      return t.offset;
    }
    const at = pos;
    pos += t.token.length;
    return at;
  });
}

/** Moving mean of the last `window` log-probs ending at each token (shorter at the start). */
export function windowedMean(logprobs: readonly number[], window: number): number[] {
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < logprobs.length; i++) {
    sum += logprobs[i]!;
    if (i >= window) sum -= logprobs[i - window]!;
    out.push(sum / Math.min(i + 1, window));
  }
  return out;
}

export function cutPoints(tokens: readonly CutToken[], sentences: readonly Span[], opts: CutOptions): CutPoints {
  if (sentences.length < 2) {
    throw new RangeError(`cutPoints: a relay needs at least 2 sentences (one kept, one continued), got ${sentences.length}`);
  }
  if (tokens.length === 0) throw new RangeError("cutPoints: no tokens to place the cuts by");
  const qs = opts.quantiles ?? [0.25, 0.5, 0.75];
  for (const q of qs) if (!(q >= 0 && q <= 1)) throw new RangeError(`cutPoints: quantile ${q} is not in [0, 1]`);
  const offsets = tokenOffsets(tokens);
  const n = tokens.length;
  const last = sentences.length - 2;

  // Where each sentence's words end: a token starting in the whitespace after them is not kept.
  const contentEnd = sentences.map((sp) => sp.start + sp.text.trimEnd().length);
  // Snap a token position (0..n: tokens before the cut) to the first sentence end at or after it.
  const snap = (tokenPos: number, fallback?: boolean): CutPoint => {
    const char = tokenPos >= n ? Infinity : offsets[Math.max(0, tokenPos)]!;
    let s = sentences.findIndex((sp) => sp.end >= char);
    if (s === -1 || s > last) s = last;
    const token = offsets.filter((o) => o < contentEnd[s]!).length;
    return fallback === undefined ? { sentence: s, token } : { sentence: s, token, fallback };
  };
  const atQuantile = (q: number) => Math.min(n, Math.round(q * n));

  if (opts.rule === "quantile") {
    const [e, m, l] = qs.map((q) => snap(atQuantile(q))) as [CutPoint, CutPoint, CutPoint];
    return { early: e, mid: m, late: l };
  }

  const lps = tokens.map((t) => t.logprob);
  if (opts.rule === "cumulative") {
    const total = lps.reduce((a, lp) => a - lp, 0);
    const positions = qs.map((q) => {
      let acc = 0;
      for (let i = 0; i < n; i++) {
        acc -= lps[i]!;
        if (acc >= q * total) return i + 1;
      }
      return n;
    });
    const [e, m, l] = positions.map((p) => snap(p)) as [CutPoint, CutPoint, CutPoint];
    return { early: e, mid: m, late: l };
  }

  const window = opts.window ?? 16;
  if (!(window >= 1)) throw new RangeError(`cutPoints: window ${window} must be at least 1`);
  const w = windowedMean(lps, window);
  let threshold = opts.threshold;
  if (threshold === undefined) {
    const mean = w.reduce((a, b) => a + b, 0) / w.length;
    const sd = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
    threshold = mean - sd;
  }
  const [e, m, l] = qs.map((q) => {
    const from = atQuantile(q);
    for (let i = from; i < n; i++) {
      if (w[i]! < threshold!) return snap(Math.max(from, i + 1), false);
    }
    return snap(from, true);
  }) as [CutPoint, CutPoint, CutPoint];
  return { early: e, mid: m, late: l };
}
