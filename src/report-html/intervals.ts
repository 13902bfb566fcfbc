// 95% intervals for a condition's consistency and accuracy: a percentile bootstrap over items
// (problems), seeded so a report is reproducible. Each item's pair outcomes and grades come from
// the core's own computeConsistency, so the full-sample values are exactly the report's.
import { computeConsistency, type Reading, type TargetAnswer } from "../core/consistency.js";
import { seededRandom } from "../core/random.js";
import { conditionKey, paperText, PAPER_TARGETS, type ResultRecord } from "../results/index.js";
import { selfTransferDefaults } from "../results/analysis.js";

export interface Interval {
  estimate: number;
  low: number;
  high: number;
}

export interface ConditionIntervals {
  key: string;
  consistency: Interval | null;
  /** Mean accuracy over the condition's targets. */
  meanAccuracy: Interval | null;
  accuracy: Map<string, Interval>;
}

export interface BootstrapOptions {
  resamples?: number;
  seed?: number;
  reading?: Reading;
}

export const DEFAULT_RESAMPLES = 2000;
export const DEFAULT_SEED = 1;

const itemOf = (r: ResultRecord) => `${r.dataset}\u241f${r.problemId}`;

function toAnswer(r: ResultRecord, reading: Reading): TargetAnswer {
  return reading === "paper"
    ? { target: r.target, itemId: itemOf(r), answer: r.answer, correct: r.paperCorrect ?? r.correct, recorded: paperText(r) }
    : { target: r.target, itemId: itemOf(r), answer: r.answer, correct: r.correct };
}

/** Records per condition key, the last record per target and item winning (as buildReport). */
export function groupByCondition(records: readonly ResultRecord[]): Map<string, ResultRecord[]> {
  const groups = new Map<string, Map<string, ResultRecord>>();
  // As the report sees them: the "Default greedy [self-transfer]" rows are made from the
  // self-transfer records (results/analysis.ts).
  for (const r of [...records, ...selfTransferDefaults(records)]) {
    const key = conditionKey(r.condition);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = new Map()));
    g.set(`${r.target}\u241f${itemOf(r)}`, r);
  }
  return new Map([...groups].map(([k, g]) => [k, [...g.values()]]));
}

function quantile(sorted: Float64Array, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

function interval(estimate: number, draws: Float64Array): Interval {
  const sorted = Float64Array.from(draws).sort();
  return { estimate, low: quantile(sorted, 0.025), high: quantile(sorted, 0.975) };
}

/**
 * Bootstrap one condition's records. Consistency uses `reading` (the report's paper or strict
 * reading); accuracy uses the recorded grades, as the report's accuracy table does.
 */
export function bootstrapCondition(key: string, recs: readonly ResultRecord[], opts: BootstrapOptions = {}): ConditionIntervals {
  const B = opts.resamples ?? DEFAULT_RESAMPLES;
  const reading = opts.reading ?? "paper";
  const rand = seededRandom(opts.seed ?? DEFAULT_SEED);
  const byItem = new Map<string, ResultRecord[]>();
  for (const r of recs) {
    let l = byItem.get(itemOf(r));
    if (!l) byItem.set(itemOf(r), (l = []));
    l.push(r);
  }
  const items = [...byItem.values()];
  const n = items.length;
  const order = [...PAPER_TARGETS];
  const targets = computeConsistency(
    recs.map((r) => toAnswer(r, "strict")),
    "strict",
    order,
  ).targets;

  // Per pair and item: compared (kept) and agreed, from the core's rule applied to one item.
  const pairIndex = new Map<string, number>();
  for (let i = 0; i < targets.length; i++) for (let j = i + 1; j < targets.length; j++) pairIndex.set(`${targets[i]}\u241f${targets[j]}`, pairIndex.size);
  const P = pairIndex.size;
  const kept = new Float64Array(P * n);
  const agree = new Float64Array(P * n);
  const T = targets.length;
  const present = new Float64Array(T * n);
  const correct = new Float64Array(T * n);
  items.forEach((itemRecs, i) => {
    const rep = computeConsistency(
      itemRecs.map((r) => toAnswer(r, reading)),
      reading,
      targets,
    );
    for (const p of rep.pairs) {
      const idx = pairIndex.get(`${p.a}\u241f${p.b}`) ?? pairIndex.get(`${p.b}\u241f${p.a}`);
      if (idx === undefined) continue;
      kept[idx * n + i] = p.kept;
      agree[idx * n + i] = p.agree;
    }
    for (const r of itemRecs) {
      const t = targets.indexOf(r.target);
      present[t * n + i] = 1;
      correct[t * n + i] = r.correct ? 1 : 0;
    }
  });

  const weights = new Float64Array(n);
  const stats = (w: Float64Array) => {
    let sum = 0;
    let defined = 0;
    for (let p = 0; p < P; p++) {
      let k = 0;
      let a = 0;
      for (let i = 0; i < n; i++) {
        k += w[i]! * kept[p * n + i]!;
        a += w[i]! * agree[p * n + i]!;
      }
      if (k > 0) {
        sum += a / k;
        defined++;
      }
    }
    const acc: number[] = [];
    for (let t = 0; t < T; t++) {
      let tot = 0;
      let ok = 0;
      for (let i = 0; i < n; i++) {
        tot += w[i]! * present[t * n + i]!;
        ok += w[i]! * correct[t * n + i]!;
      }
      acc.push(tot > 0 ? ok / tot : 0);
    }
    return { consistency: defined ? sum / defined : null, acc };
  };

  weights.fill(1);
  const full = stats(weights);
  const consDraws = new Float64Array(B);
  const meanDraws = new Float64Array(B);
  const accDraws = targets.map(() => new Float64Array(B));
  for (let b = 0; b < B; b++) {
    weights.fill(0);
    for (let d = 0; d < n; d++) weights[Math.floor(rand() * n)]! += 1;
    const s = stats(weights);
    // A resample where no pair has a compared item keeps the full-sample value (rare, tiny n).
    consDraws[b] = s.consistency ?? full.consistency ?? 0;
    s.acc.forEach((a, t) => (accDraws[t]![b] = a));
    meanDraws[b] = s.acc.length ? s.acc.reduce((x, y) => x + y, 0) / s.acc.length : 0;
  }
  const meanAcc = full.acc.length ? full.acc.reduce((x, y) => x + y, 0) / full.acc.length : null;
  return {
    key,
    consistency: full.consistency === null || n === 0 ? null : interval(full.consistency, consDraws),
    meanAccuracy: meanAcc === null || n === 0 ? null : interval(meanAcc, meanDraws),
    accuracy: new Map(targets.map((t, i) => [t, interval(full.acc[i]!, accDraws[i]!)])),
  };
}
