// Statistics of relays and of sentence importance (SCIENCE.md §2): chain-level aggregates of
// step scores, where continuers depart, answer distributions and how far two of them are
// apart, seeded bootstrap intervals, and how much several targets agree on a ranking.
// Pure: no I/O; every random draw comes from a seed.
import { seededRandom } from "./random.js";

export interface ScoreAggregate {
  min: number;
  mean: number;
  last: number;
}

/** min, mean and last of the scored steps (nulls are steps that could not be scored); null when none was. */
export function aggregateScores(scores: readonly (number | null)[] | undefined): ScoreAggregate | null {
  const xs = (scores ?? []).filter((x): x is number => typeof x === "number" && Number.isFinite(x));
  if (!xs.length) return null;
  return { min: Math.min(...xs), mean: xs.reduce((a, b) => a + b, 0) / xs.length, last: xs[xs.length - 1]! };
}

/**
 * Where in the continuer's part of a hybrid chain it departs, in [0, 1): 0 is its first
 * sentence, (k-1)/k its last of k. The initiator's prefix is not counted: nothing departs there.
 */
export function departurePosition(sentence: number, handover: number, length: number): number {
  const k = length - handover;
  if (k <= 0 || sentence < handover || sentence >= length)
    throw new RangeError(`departurePosition: sentence ${sentence} is not in the continuation [${handover}, ${length})`);
  return (sentence - handover) / k;
}

/** Counts of positions in [0, 1) over `bins` equal bins. */
export function histogram(positions: readonly number[], bins = 10): number[] {
  const out = new Array<number>(bins).fill(0);
  for (const p of positions) out[Math.min(bins - 1, Math.max(0, Math.floor(p * bins)))]!++;
  return out;
}

export interface Interval {
  value: number;
  low: number;
  high: number;
}

function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * A statistic of groups of observations with its 95% percentile interval: groups (problems)
 * are drawn with replacement, so observations of one problem stay together. Null when the
 * statistic is undefined on the data.
 */
export function bootstrap<T>(groups: readonly (readonly T[])[], stat: (xs: readonly T[]) => number | null, draws = 1000, seed = 1): Interval | null {
  const value = stat(groups.flat());
  if (value === null || !groups.length) return null;
  const rand = seededRandom(seed);
  const samples: number[] = [];
  for (let d = 0; d < draws; d++) {
    const drawn: T[] = [];
    for (let i = 0; i < groups.length; i++) drawn.push(...groups[Math.floor(rand() * groups.length)]!);
    const s = stat(drawn);
    if (s !== null) samples.push(s);
  }
  if (!samples.length) return null;
  samples.sort((a, b) => a - b);
  return { value, low: quantile(samples, 0.025), high: quantile(samples, 0.975) };
}

/** Share of true values; null for none. */
export function rate(xs: readonly boolean[]): number | null {
  return xs.length ? xs.filter(Boolean).length / xs.length : null;
}

/**
 * The difference of two paired rates (a - b) with its interval, drawing the groups (problems)
 * both sides share. `a` and `b` are keyed by group.
 */
export function pairedDifference(
  a: ReadonlyMap<string, readonly boolean[]>,
  b: ReadonlyMap<string, readonly boolean[]>,
  draws = 1000,
  seed = 1,
): Interval | null {
  const shared = [...a.keys()].filter((k) => b.has(k) && a.get(k)!.length && b.get(k)!.length);
  const groups = shared.map((k) => [{ a: a.get(k)!, b: b.get(k)! }]);
  return bootstrap(
    groups,
    (xs) => {
      if (!xs.length) return null;
      // Each problem weighs the same on both sides: the mean of per-problem rates.
      const mean = (f: (x: (typeof xs)[number]) => readonly boolean[]) => xs.reduce((s, x) => s + rate(f(x))!, 0) / xs.length;
      return mean((x) => x.a) - mean((x) => x.b);
    },
    draws,
    seed,
  );
}

// ---------- answer distributions ----------

/** An answer distribution: the share of each answer ("" = no answer) among the samples. */
export function distribution(answers: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const a of answers) out.set(a, (out.get(a) ?? 0) + 1 / answers.length);
  return out;
}

/** Total variation distance, in [0, 1]: half the summed absolute differences. */
export function totalVariation(p: ReadonlyMap<string, number>, q: ReadonlyMap<string, number>): number {
  let sum = 0;
  for (const k of new Set([...p.keys(), ...q.keys()])) sum += Math.abs((p.get(k) ?? 0) - (q.get(k) ?? 0));
  return sum / 2;
}

/** Jensen-Shannon divergence in bits, in [0, 1]. */
export function jensenShannon(p: ReadonlyMap<string, number>, q: ReadonlyMap<string, number>): number {
  let js = 0;
  for (const k of new Set([...p.keys(), ...q.keys()])) {
    const a = p.get(k) ?? 0;
    const b = q.get(k) ?? 0;
    const m = (a + b) / 2;
    if (a > 0) js += 0.5 * a * Math.log2(a / m);
    if (b > 0) js += 0.5 * b * Math.log2(b / m);
  }
  return Math.max(0, js);
}

export interface SampledAnswer {
  answer: string;
  correct: boolean;
}

export interface SentenceImportance {
  /** Accuracy with the sentence minus accuracy without it, with a 95% interval. */
  accuracyChange: Interval | null;
  /** Total variation between the answer distributions without and with the sentence. */
  divergence: Interval | null;
  /** The same shift as Jensen-Shannon divergence (point value). */
  js: number | null;
}

/**
 * Importance of one sentence for one target: `without` are answers from continuations of the
 * prefix before the sentence, `with` from the prefix including it. Intervals resample each
 * side's samples (independent draws).
 */
export function sentenceImportance(without: readonly SampledAnswer[], withIt: readonly SampledAnswer[], draws = 1000, seed = 1): SentenceImportance {
  if (!without.length || !withIt.length) return { accuracyChange: null, divergence: null, js: null };
  const acc = (xs: readonly SampledAnswer[]) => xs.filter((x) => x.correct).length / xs.length;
  const tv = (a: readonly SampledAnswer[], b: readonly SampledAnswer[]) =>
    totalVariation(distribution(a.map((x) => x.answer)), distribution(b.map((x) => x.answer)));
  const rand = seededRandom(seed);
  const resample = (xs: readonly SampledAnswer[]) => xs.map(() => xs[Math.floor(rand() * xs.length)]!);
  const dAcc: number[] = [];
  const dTv: number[] = [];
  for (let d = 0; d < draws; d++) {
    const a = resample(without);
    const b = resample(withIt);
    dAcc.push(acc(b) - acc(a));
    dTv.push(tv(a, b));
  }
  dAcc.sort((x, y) => x - y);
  dTv.sort((x, y) => x - y);
  const interval = (value: number, xs: number[]): Interval => ({ value, low: quantile(xs, 0.025), high: quantile(xs, 0.975) });
  return {
    accuracyChange: interval(acc(withIt) - acc(without), dAcc),
    divergence: interval(tv(without, withIt), dTv),
    js: jensenShannon(distribution(without.map((x) => x.answer)), distribution(withIt.map((x) => x.answer))),
  };
}

/** Ranks (1 = smallest), ties sharing their mean rank. */
export function ranks(xs: readonly number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(xs.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    for (let k = i; k <= j; k++) out[order[k]![1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return out;
}

/** Spearman's rank correlation; null when either side is constant or shorter than 2. */
export function spearman(a: readonly number[], b: readonly number[]): number | null {
  if (a.length !== b.length) throw new RangeError(`spearman: ${a.length} and ${b.length} values`);
  if (a.length < 2) return null;
  const ra = ranks(a);
  const rb = ranks(b);
  const mean = (a.length + 1) / 2;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < a.length; i++) {
    num += (ra[i]! - mean) * (rb[i]! - mean);
    da += (ra[i]! - mean) ** 2;
    db += (rb[i]! - mean) ** 2;
  }
  return da === 0 || db === 0 ? null : num / Math.sqrt(da * db);
}

/** Indices of the k largest values (ties: the earlier sentence first). */
export function topK(xs: readonly number[], k: number): number[] {
  return xs
    .map((x, i) => [x, i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, k)
    .map(([, i]) => i);
}

export interface TargetAgreement {
  /** Mean pairwise Spearman correlation of the targets' importance over sentences (null: undefined). */
  spearman: number | null;
  /** Mean pairwise overlap (Jaccard) of the targets' top-k sentences. */
  topOverlap: number | null;
  k: number;
  pairs: Array<{ a: string; b: string; spearman: number | null; topOverlap: number }>;
}

/** How much targets agree on which sentences matter, from each target's importance per sentence. */
export function targetAgreement(byTarget: ReadonlyMap<string, readonly number[]>, k = 3): TargetAgreement {
  const names = [...byTarget.keys()];
  const pairs: TargetAgreement["pairs"] = [];
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const a = byTarget.get(names[i]!)!;
      const b = byTarget.get(names[j]!)!;
      const kk = Math.min(k, a.length);
      const ta = new Set(topK(a, kk));
      const tb = new Set(topK(b, kk));
      const inter = [...ta].filter((x) => tb.has(x)).length;
      const union = new Set([...ta, ...tb]).size;
      pairs.push({ a: names[i]!, b: names[j]!, spearman: spearman(a, b), topOverlap: union ? inter / union : 1 });
    }
  }
  const rhos = pairs.map((p) => p.spearman).filter((x): x is number => x !== null);
  return {
    spearman: rhos.length ? rhos.reduce((s, x) => s + x, 0) / rhos.length : null,
    topOverlap: pairs.length ? pairs.reduce((s, p) => s + p.topOverlap, 0) / pairs.length : null,
    k,
    pairs,
  };
}
