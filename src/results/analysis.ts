// What the report adds to the paper's tables: a target filter (and the paper's five as a
// preset), "Default (greedy)" built from self-transfer records, the notebook's own agreement
// split (check_consistency_detailed), 95% bootstrap confidence intervals over items, and a
// paired test between two conditions. Pure apart from its inputs.
import { computeConsistency, hasSkipPhrase, pairOutcome, sortTargets, type Reading, type TargetAnswer } from "../core/consistency.js";
import { seededRandom } from "../core/random.js";
import { UserError } from "../errors.js";
import { conditionLabel, modelLabel, PAPER_TARGETS, variantLabel } from "./labels.js";
import { conditionKey, type ResultRecord } from "./schema.js";

// ---------- targets ----------

/**
 * The targets a report keeps: "paper" (the paper's five) or a comma list of model ids or their
 * short labels (QwQ, DAPO, OSS, OpenT, NRR). Unknown names are an error naming them.
 */
export function parseTargets(spec: string, known: readonly string[]): string[] {
  if (spec.trim().toLowerCase() === "paper") return [...PAPER_TARGETS];
  const wanted = spec
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (!wanted.length) throw new UserError("--targets: give model ids or labels separated by commas, or paper");
  const out: string[] = [];
  for (const w of wanted) {
    const id = known.find((k) => k === w) ?? known.find((k) => modelLabel(k).toLowerCase() === w.toLowerCase());
    if (!id) throw new UserError(`--targets: no target "${w}" in these results (targets: ${known.map(modelLabel).join(", ")})`);
    out.push(id);
  }
  return out;
}

export function filterTargets(records: readonly ResultRecord[], targets: readonly string[] | undefined): ResultRecord[] {
  if (!targets) return [...records];
  const keep = new Set(targets);
  return records.filter((r) => keep.has(r.target));
}

// ---------- Default (greedy) from self-transfer ----------

export const SELF_TRANSFER_TAG = "self-transfer";

/**
 * The paper's "Default (greedy)" rows: each target answering from its own sanitized (or full)
 * greedy chain, which the authors ran as a transfer from a model to itself. Returned as extra
 * records of condition default-greedy, tagged so they never mix with a run's own default rows.
 */
export function selfTransferDefaults(records: readonly ResultRecord[]): ResultRecord[] {
  return records
    .filter((r) => r.condition.kind === "transfer" && r.condition.source === r.target)
    .map((r) => ({ ...r, condition: { kind: "default-greedy", variant: r.condition.variant, tag: SELF_TRANSFER_TAG } }));
}

// ---------- the notebook's split ----------

export const NOTEBOOK_CATEGORIES = ["consistent_correct", "consistent_wrong", "consistent_mixed", "inconsistent"] as const;
export type NotebookCategory = (typeof NOTEBOOK_CATEGORIES)[number];
export type NotebookSplit = Record<NotebookCategory, { mean: number; std: number; count: number } | null>;

function meanStd(xs: number[]): { mean: number; std: number; count: number } | null {
  if (!xs.length) return null;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { mean, std: Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length), count: xs.length };
}

/**
 * calculate_consistency_breakdown of consistency_all.cells.py: per pair of targets, the share of
 * kept items in each category (the same answer text and both correct / both wrong / one correct;
 * anything else, different answers that are both correct included, is inconsistent); then per
 * category the mean and population std over the pairs *in which that category occurred* (the
 * notebook appends a pair's rate only for categories it saw).
 */
export function notebookSplit(answers: readonly TargetAnswer[], order: readonly string[] = []): NotebookSplit {
  const byTarget = new Map<string, Map<string, TargetAnswer>>();
  for (const a of answers) {
    if (!byTarget.has(a.target)) byTarget.set(a.target, new Map());
    byTarget.get(a.target)!.set(a.itemId, a);
  }
  const rank = (t: string) => (order.includes(t) ? order.indexOf(t) : order.length);
  const targets = [...byTarget.keys()].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));
  const rates: Record<NotebookCategory, number[]> = { consistent_correct: [], consistent_wrong: [], consistent_mixed: [], inconsistent: [] };
  for (let i = 0; i < targets.length; i++) {
    for (let j = i + 1; j < targets.length; j++) {
      const A = byTarget.get(targets[i])!;
      const B = byTarget.get(targets[j])!;
      const counts = new Map<NotebookCategory, number>();
      let total = 0;
      for (const [item, a] of A) {
        const b = B.get(item);
        if (!b) continue;
        const ta = a.recorded === undefined ? (a.answer ?? "") : (a.recorded ?? "");
        const tb = b.recorded === undefined ? (b.answer ?? "") : (b.recorded ?? "");
        if (hasSkipPhrase(ta) || hasSkipPhrase(tb)) continue;
        total++;
        const same = ta === tb;
        // A record without an answer field has no result field either: neither "Correct" nor
        // "Incorrect", so two such records are "mixed" in the notebook's reading.
        const result = (x: TargetAnswer) => (x.recorded === null ? "" : x.correct ? "Correct" : "Incorrect");
        const [ra, rb] = [result(a), result(b)];
        const cat: NotebookCategory = !same
          ? "inconsistent"
          : ra === "Correct" && rb === "Correct"
            ? "consistent_correct"
            : ra === "Incorrect" && rb === "Incorrect"
              ? "consistent_wrong"
              : "consistent_mixed";
        counts.set(cat, (counts.get(cat) ?? 0) + 1);
      }
      if (total > 0) for (const [cat, n] of counts) rates[cat].push(n / total);
    }
  }
  return Object.fromEntries(NOTEBOOK_CATEGORIES.map((c) => [c, meanStd(rates[c])])) as NotebookSplit;
}

// ---------- bootstrap over items ----------

export interface Interval {
  value: number;
  low: number;
  high: number;
}

export interface ConditionIntervals {
  /** Mean pairwise consistency (paper and strict readings). */
  paper: Interval | null;
  strict: Interval | null;
  /** Accuracy averaged over the targets (recorded grades). */
  accuracy: Interval | null;
}

export const BOOTSTRAP_DRAWS = 1000;

function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function statistics(answers: TargetAnswer[], order: readonly string[]): { paper: number | null; strict: number | null; accuracy: number | null } {
  const p = computeConsistency(answers, "paper", order);
  const s = computeConsistency(answers, "strict", order);
  const acc = s.accuracy.length ? s.accuracy.reduce((a, x) => a + x.accuracy, 0) / s.accuracy.length : null;
  return { paper: p.consistency?.mean ?? null, strict: s.consistency?.mean ?? null, accuracy: acc };
}

/**
 * 95% percentile intervals: items are drawn with replacement (every target's answer to a drawn
 * item comes along), the statistics recomputed on each of `draws` samples. Seeded: the same
 * records give the same interval.
 *
 * Each item's part in every statistic (per target pair and reading: kept, agreeing; per target:
 * answered, correct) is worked out once; a draw then adds up the parts of the items it drew, in
 * the order computeConsistency would, so the figures are those of recomputing it on the sample.
 */
export function bootstrapIntervals(answers: readonly TargetAnswer[], order: readonly string[] = [], draws = BOOTSTRAP_DRAWS, seed = 1): ConditionIntervals {
  const byItem = new Map<string, Map<string, TargetAnswer>>();
  for (const a of answers) {
    let m = byItem.get(a.itemId);
    if (!m) byItem.set(a.itemId, (m = new Map()));
    // One answer per target and item, the last one (as computeConsistency keeps).
    m.delete(a.target);
    m.set(a.target, a);
  }
  const items = [...byItem.values()];
  const point = statistics([...answers], order);
  const targets = sortTargets([...new Set(answers.map((a) => a.target))], order);
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < targets.length; i++) for (let j = i + 1; j < targets.length; j++) pairs.push([targets[i]!, targets[j]!]);
  const T = targets.length;
  const P = pairs.length;
  // Per item: [answered, correct] per target, then [kept, agrees] per pair for each reading.
  const answered = new Uint8Array(items.length * T);
  const correct = new Uint8Array(items.length * T);
  const parts = {
    paper: { kept: new Uint8Array(items.length * P), agree: new Uint8Array(items.length * P) },
    strict: { kept: new Uint8Array(items.length * P), agree: new Uint8Array(items.length * P) },
  };
  items.forEach((m, k) => {
    targets.forEach((t, ti) => {
      const a = m.get(t);
      if (a) {
        answered[k * T + ti] = 1;
        correct[k * T + ti] = a.correct ? 1 : 0;
      }
    });
    pairs.forEach(([a, b], pi) => {
      const x = m.get(a);
      const y = m.get(b);
      if (!x || !y) return;
      for (const reading of ["paper", "strict"] as const) {
        const outcome = pairOutcome(x, y, reading);
        if (outcome === "skipped") continue;
        parts[reading].kept[k * P + pi] = 1;
        if (outcome !== "inconsistent") parts[reading].agree[k * P + pi] = 1;
      }
    });
  });
  const samples = { paper: [] as number[], strict: [] as number[], accuracy: [] as number[] };
  const rand = seededRandom(seed);
  const sums = {
    answered: new Float64Array(T),
    correct: new Float64Array(T),
    paper: [new Float64Array(P), new Float64Array(P)],
    strict: [new Float64Array(P), new Float64Array(P)],
  };
  const consistency = ([kept, agree]: Float64Array[]): number | null => {
    const values: number[] = [];
    for (let p = 0; p < P; p++) if (kept![p]! > 0) values.push(agree![p]! / kept![p]!);
    // As meanStd sums them: the same figure to the last bit.
    return values.length ? values.reduce((s, v) => s + v, 0) / values.length : null;
  };
  for (let d = 0; d < draws && items.length; d++) {
    for (const xs of [sums.answered, sums.correct, ...sums.paper, ...sums.strict]) xs.fill(0);
    for (let i = 0; i < items.length; i++) {
      const k = Math.floor(rand() * items.length);
      for (let t = 0; t < T; t++) {
        sums.answered[t]! += answered[k * T + t]!;
        sums.correct[t]! += correct[k * T + t]!;
      }
      for (let p = 0; p < P; p++) {
        sums.paper[0]![p]! += parts.paper.kept[k * P + p]!;
        sums.paper[1]![p]! += parts.paper.agree[k * P + p]!;
        sums.strict[0]![p]! += parts.strict.kept[k * P + p]!;
        sums.strict[1]![p]! += parts.strict.agree[k * P + p]!;
      }
    }
    const paper = consistency(sums.paper);
    const strict = consistency(sums.strict);
    const accuracies: number[] = [];
    for (let t = 0; t < T; t++) if (sums.answered[t]! > 0) accuracies.push(sums.correct[t]! / sums.answered[t]!);
    if (paper !== null) samples.paper.push(paper);
    if (strict !== null) samples.strict.push(strict);
    if (accuracies.length) samples.accuracy.push(accuracies.reduce((a, x) => a + x, 0) / accuracies.length);
  }
  const interval = (value: number | null, xs: number[]): Interval | null => {
    if (value === null || !xs.length) return null;
    xs.sort((a, b) => a - b);
    return { value, low: quantile(xs, 0.025), high: quantile(xs, 0.975) };
  };
  return { paper: interval(point.paper, samples.paper), strict: interval(point.strict, samples.strict), accuracy: interval(point.accuracy, samples.accuracy) };
}

// ---------- paired comparison ----------

/** Per item: the share of agreeing target pairs (strict reading) and the share of correct targets. */
function perItem(answers: readonly TargetAnswer[], reading: Reading): Map<string, { consistency: number | null; accuracy: number }> {
  const byItem = new Map<string, TargetAnswer[]>();
  for (const a of answers) {
    if (!byItem.has(a.itemId)) byItem.set(a.itemId, []);
    byItem.get(a.itemId)!.push(a);
  }
  const out = new Map<string, { consistency: number | null; accuracy: number }>();
  for (const [item, as] of byItem) {
    const rep = computeConsistency(as, reading);
    const kept = rep.pairs.filter((p) => p.value !== null);
    out.set(item, {
      consistency: kept.length ? kept.reduce((a, p) => a + p.value!, 0) / kept.length : null,
      accuracy: as.filter((a) => a.correct).length / as.length,
    });
  }
  return out;
}

export interface PairedResult {
  metric: "consistency" | "accuracy";
  items: number;
  /** mean(B) - mean(A) over the items both conditions answered. */
  difference: number;
  low: number;
  high: number;
  /** Two-sided p-value of a paired sign-flip permutation test. */
  p: number;
}

export interface Comparison {
  a: string;
  b: string;
  reading: Reading;
  results: PairedResult[];
}

function pairedTest(diffs: number[], seed: number, draws = 10000): { difference: number; low: number; high: number; p: number } {
  const n = diffs.length;
  const mean = diffs.reduce((a, b) => a + b, 0) / n;
  const rand = seededRandom(seed);
  const boots: number[] = [];
  for (let d = 0; d < BOOTSTRAP_DRAWS; d++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += diffs[Math.floor(rand() * n)];
    boots.push(s / n);
  }
  boots.sort((a, b) => a - b);
  let extreme = 0;
  for (let d = 0; d < draws; d++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += rand() < 0.5 ? -diffs[i] : diffs[i];
    if (Math.abs(s / n) >= Math.abs(mean) - 1e-12) extreme++;
  }
  return { difference: mean, low: quantile(boots, 0.025), high: quantile(boots, 0.975), p: (extreme + 1) / (draws + 1) };
}

/** Paired comparison of two conditions' answers over their shared items. */
export function compareConditions(
  a: { key: string; answers: TargetAnswer[] },
  b: { key: string; answers: TargetAnswer[] },
  reading: Reading = "strict",
  seed = 1,
): Comparison {
  const A = perItem(a.answers, reading);
  const B = perItem(b.answers, reading);
  const shared = [...A.keys()].filter((k) => B.has(k)).sort();
  if (!shared.length) throw new UserError(`--compare: ${a.key} and ${b.key} share no items`);
  const results: PairedResult[] = [];
  for (const metric of ["consistency", "accuracy"] as const) {
    const diffs = shared.flatMap((k) => {
      const x = A.get(k)![metric];
      const y = B.get(k)![metric];
      return x === null || y === null ? [] : [y - x];
    });
    if (!diffs.length) continue;
    results.push({ metric, items: diffs.length, ...pairedTest(diffs, seed) });
  }
  return { a: a.key, b: b.key, reading, results };
}

/** A condition named on the command line: its key, or "label, variant" / "label/variant" as the report prints it. */
export function findCondition<T extends { key: string; condition: ResultRecord["condition"] }>(conditions: readonly T[], name: string): T {
  const norm = (s: string) => s.toLowerCase().replace(/\s+/g, "");
  const hit =
    conditions.find((c) => c.key === name) ??
    conditions.find((c) =>
      [`${conditionLabel(c.condition)},${variantLabel(c.condition.variant)}`, `${conditionLabel(c.condition)}/${variantLabel(c.condition.variant)}`].some(
        (l) => norm(l) === norm(name),
      ),
    ) ??
    conditions.find((c) => c.condition.variant === "full" && norm(conditionLabel(c.condition)) === norm(name));
  if (!hit) throw new UserError(`--compare: no condition "${name}" (conditions: ${conditions.map((c) => conditionKey(c.condition)).join("; ")})`);
  return hit;
}
