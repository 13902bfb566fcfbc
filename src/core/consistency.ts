// Cross-model consistency (SCIENCE.md §1): pairwise agreement of target models over items,
// mean ± population std over pairs, per-model accuracy, and the correct/wrong/inconsistent split.
// Pure: no I/O, imports nothing outside src/core.

/** One target model's answer to one item. */
export interface TargetAnswer {
  target: string;
  itemId: string;
  /** The extracted answer; null when the answer is missing or its extraction crashed. */
  answer: string | null;
  /** The grade used for this reading. */
  correct: boolean;
  /**
   * The answer field exactly as the source recorded it, for the paper-compatible reading:
   * crash text included, null when the field was absent (read by the paper's code as "").
   * Undefined means "same as `answer`".
   */
  recorded?: string | null;
}

/**
 * strict: a pair-item is skipped when either answer is missing/crashed (answer === null) or
 *   matches the paper's skip phrases.
 * paper: the published code's reading: the recorded text is compared, an absent field reads
 *   as "" (so two crashes "agree"), and only the skip phrases remove an item.
 */
export type Reading = "strict" | "paper";

/** Answers containing any of these are skipped (the paper's rule; they are crash texts). */
const PAPER_SKIP_PHRASES = ["not defined", "N/A", "does not match", "are not permitted"] as const;

export function hasSkipPhrase(text: string): boolean {
  return PAPER_SKIP_PHRASES.some((p) => text.includes(p));
}

/** Agreement of one pair of targets. */
export interface PairConsistency {
  a: string;
  b: string;
  /** Items compared (the denominator); items skipped are not counted. */
  kept: number;
  skipped: number;
  /** agree(i) = same answer OR both correct. */
  agree: number;
  /** Pair-items where both answers are correct (agreement by the rule's second clause or both). */
  consistentCorrect: number;
  /** Pair-items with the same answer where not both are correct. */
  consistentWrong: number;
  /** Pair-items that do not agree. consistentCorrect + consistentWrong + inconsistent === kept. */
  inconsistent: number;
  /** agree / kept; null when no item was kept. */
  value: number | null;
}

export interface ModelAccuracy {
  target: string;
  correct: number;
  total: number;
  /** correct / total; missing or crashed answers count as wrong (as in the paper). */
  accuracy: number;
}

export interface MeanStd {
  mean: number;
  /** Population standard deviation (ddof = 0). */
  std: number;
  /** Number of values (pairs with at least one kept item). */
  n: number;
}

export interface ConsistencyReport {
  reading: Reading;
  targets: string[];
  pairs: PairConsistency[];
  /** matrix[i][j] = Cons(targets[i], targets[j]); 1 on the diagonal; null when undefined. */
  matrix: (number | null)[][];
  /** Over the pairs whose value is defined; null when there is none. */
  consistency: MeanStd | null;
  /**
   * The three-way split as mean fractions over the same pairs (each pair's counts divided by its
   * kept items), so consistentCorrect + consistentWrong + inconsistent = 1 and
   * consistentCorrect + consistentWrong = consistency.mean.
   */
  split: { consistentCorrect: number; consistentWrong: number; inconsistent: number } | null;
  accuracy: ModelAccuracy[];
}

/** Mean and population standard deviation; null for an empty list. */
export function meanStd(values: number[]): MeanStd | null {
  if (values.length === 0) return null;
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length;
  return { mean, std: Math.sqrt(variance), n: values.length };
}

/** The text compared for one answer under a reading; null = skip this answer. */
function comparedText(ans: TargetAnswer, reading: Reading): string | null {
  if (reading === "strict") {
    if (ans.answer === null) return null;
    return hasSkipPhrase(ans.answer) ? null : ans.answer;
  }
  const text = (ans.recorded !== undefined ? ans.recorded : ans.answer) ?? "";
  return hasSkipPhrase(text) ? null : text;
}

/**
 * How two targets' answers to one item count under a reading: skipped, agreeing because both are
 * correct, agreeing on the same (not both correct) answer, or not agreeing.
 */
export function pairOutcome(x: TargetAnswer, y: TargetAnswer, reading: Reading): "skipped" | "consistent-correct" | "consistent-wrong" | "inconsistent" {
  const tx = comparedText(x, reading);
  const ty = comparedText(y, reading);
  if (tx === null || ty === null) return "skipped";
  if (x.correct && y.correct) return "consistent-correct";
  return tx === ty ? "consistent-wrong" : "inconsistent";
}

/** Agreement of two targets over the items both answered (items present for only one are skipped). */
function pairConsistency(a: string, b: string, answersA: Map<string, TargetAnswer>, answersB: Map<string, TargetAnswer>, reading: Reading): PairConsistency {
  const out: PairConsistency = {
    a,
    b,
    kept: 0,
    skipped: 0,
    agree: 0,
    consistentCorrect: 0,
    consistentWrong: 0,
    inconsistent: 0,
    value: null,
  };
  const ids = new Set([...answersA.keys(), ...answersB.keys()]);
  for (const id of ids) {
    const x = answersA.get(id);
    const y = answersB.get(id);
    if (!x || !y) {
      out.skipped++;
      continue;
    }
    const outcome = pairOutcome(x, y, reading);
    if (outcome === "skipped") {
      out.skipped++;
      continue;
    }
    out.kept++;
    if (outcome === "consistent-correct") {
      out.agree++;
      out.consistentCorrect++;
    } else if (outcome === "consistent-wrong") {
      out.agree++;
      out.consistentWrong++;
    } else {
      out.inconsistent++;
    }
  }
  out.value = out.kept > 0 ? out.agree / out.kept : null;
  return out;
}

/**
 * The full consistency report for one condition. `order` fixes the target order (targets not in
 * it follow, sorted); answers for the same target and item must be unique (the last one wins).
 */
export function computeConsistency(answers: readonly TargetAnswer[], reading: Reading, order: readonly string[] = []): ConsistencyReport {
  const byTarget = new Map<string, Map<string, TargetAnswer>>();
  for (const ans of answers) {
    let m = byTarget.get(ans.target);
    if (!m) byTarget.set(ans.target, (m = new Map()));
    m.set(ans.itemId, ans);
  }
  const targets = sortTargets([...byTarget.keys()], order);

  const pairs: PairConsistency[] = [];
  const matrix: (number | null)[][] = targets.map((_, i) => targets.map((__, j) => (i === j ? 1 : null)));
  for (let i = 0; i < targets.length; i++) {
    for (let j = i + 1; j < targets.length; j++) {
      const a = targets[i]!;
      const b = targets[j]!;
      const p = pairConsistency(a, b, byTarget.get(a)!, byTarget.get(b)!, reading);
      pairs.push(p);
      matrix[i]![j] = matrix[j]![i] = p.value;
    }
  }

  const defined = pairs.filter((p) => p.value !== null);
  const consistency = meanStd(defined.map((p) => p.value!));
  const split = defined.length
    ? {
        consistentCorrect: mean(defined.map((p) => p.consistentCorrect / p.kept)),
        consistentWrong: mean(defined.map((p) => p.consistentWrong / p.kept)),
        inconsistent: mean(defined.map((p) => p.inconsistent / p.kept)),
      }
    : null;

  const accuracy = targets.map((target) => {
    const items = [...byTarget.get(target)!.values()];
    const correct = items.filter((x) => x.correct).length;
    return { target, correct, total: items.length, accuracy: items.length ? correct / items.length : 0 };
  });

  return { reading, targets, pairs, matrix, consistency, split, accuracy };
}

function mean(values: number[]): number {
  return values.reduce((s, v) => s + v, 0) / values.length;
}

/** Targets in the given order first, then the rest alphabetically. */
export function sortTargets(targets: string[], order: readonly string[]): string[] {
  const rank = (t: string) => {
    const i = order.indexOf(t);
    return i === -1 ? order.length : i;
  };
  return [...targets].sort((x, y) => rank(x) - rank(y) || (x < y ? -1 : x > y ? 1 : 0));
}
