// The bootstrap's intervals are those of recomputing the consistency report on each drawn sample
// (its item parts are only added up, not recomputed): the same figures to the last bit, on random
// answers with missing answers, crash texts, repeated answers and targets missing from items.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { computeConsistency, type TargetAnswer } from "../../src/core/consistency.js";
import { seededRandom } from "../../src/core/random.js";
import { bootstrapIntervals } from "../../src/results/analysis.js";

/** The intervals by recomputing computeConsistency on every drawn sample. */
function recomputed(answers: TargetAnswer[], order: string[], draws: number, seed: number) {
  const byItem = new Map<string, TargetAnswer[]>();
  for (const a of answers) byItem.set(a.itemId, [...(byItem.get(a.itemId) ?? []), a]);
  const items = [...byItem.keys()];
  const rand = seededRandom(seed);
  const out = { paper: [] as number[], strict: [] as number[], accuracy: [] as number[] };
  for (let d = 0; d < draws && items.length; d++) {
    const drawn: TargetAnswer[] = [];
    for (let i = 0; i < items.length; i++) for (const a of byItem.get(items[Math.floor(rand() * items.length)]!)!) drawn.push({ ...a, itemId: `${i}` });
    const p = computeConsistency(drawn, "paper", order);
    const s = computeConsistency(drawn, "strict", order);
    if (p.consistency) out.paper.push(p.consistency.mean);
    if (s.consistency) out.strict.push(s.consistency.mean);
    if (s.accuracy.length) out.accuracy.push(s.accuracy.reduce((a, x) => a + x.accuracy, 0) / s.accuracy.length);
  }
  const q = (xs: number[], at: number) => {
    xs.sort((a, b) => a - b);
    const pos = (xs.length - 1) * at;
    return xs[Math.floor(pos)]! + (xs[Math.ceil(pos)]! - xs[Math.floor(pos)]!) * (pos - Math.floor(pos));
  };
  const point = { paper: computeConsistency(answers, "paper", order), strict: computeConsistency(answers, "strict", order) };
  const values = {
    paper: point.paper.consistency?.mean ?? null,
    strict: point.strict.consistency?.mean ?? null,
    accuracy: point.strict.accuracy.length ? point.strict.accuracy.reduce((a, x) => a + x.accuracy, 0) / point.strict.accuracy.length : null,
  };
  const interval = (k: keyof typeof out) => (values[k] === null || !out[k].length ? null : { value: values[k], low: q(out[k], 0.025), high: q(out[k], 0.975) });
  return { paper: interval("paper"), strict: interval("strict"), accuracy: interval("accuracy") };
}

const answer = fc.record({
  target: fc.constantFrom("a", "b", "c", "d"),
  itemId: fc.constantFrom("1", "2", "3", "4", "5", "6"),
  answer: fc.option(fc.constantFrom("7", "8", "N/A", "x is not defined"), { nil: null }),
  correct: fc.boolean(),
  recorded: fc.option(fc.option(fc.constantFrom("7", "8", "crash"), { nil: null }), { nil: undefined }),
});

test("bootstrap intervals equal those of recomputing the report on every drawn sample", () => {
  fc.assert(
    fc.property(fc.array(answer, { maxLength: 40 }), fc.constantFrom<string[]>([], ["c", "a"]), fc.integer({ min: 1, max: 99 }), (answers, order, seed) => {
      assert.deepEqual(bootstrapIntervals(answers as TargetAnswer[], order, 60, seed), recomputed(answers as TargetAnswer[], order, 60, seed));
    }),
    { numRuns: 300 },
  );
});
