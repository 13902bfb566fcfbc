// The pure statistics of relays and sentence importance: aggregates, positions, histograms,
// divergences, bootstrap intervals, rank agreement.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  aggregateScores,
  bootstrap,
  departurePosition,
  distribution,
  histogram,
  jensenShannon,
  pairedDifference,
  ranks,
  sentenceImportance,
  spearman,
  targetAgreement,
  topK,
  totalVariation,
} from "../../src/core/relay-stats.js";

describe("relay statistics", () => {
  test("aggregates skip unscored steps; none scored is null", () => {
    assert.deepEqual(aggregateScores([0.5, null, 1, 0.25]), { min: 0.25, mean: 1.75 / 3, last: 0.25 });
    assert.equal(aggregateScores([null, null]), null);
    assert.equal(aggregateScores(undefined), null);
  });

  test("departure position counts the continuer's part only, and refuses a sentence outside it", () => {
    assert.equal(departurePosition(3, 3, 7), 0);
    assert.equal(departurePosition(6, 3, 7), 3 / 4);
    assert.throws(() => departurePosition(2, 3, 7), RangeError);
    assert.deepEqual(histogram([0, 0.05, 0.5, 0.99, 1], 4), [2, 0, 1, 2]);
  });

  test("divergences: equal distributions are 0, disjoint ones 1", () => {
    const p = distribution(["7", "7", "8", "8"]);
    assert.equal(p.get("7"), 0.5);
    assert.equal(totalVariation(p, p), 0);
    assert.equal(totalVariation(distribution(["7"]), distribution(["8"])), 1);
    assert.ok(Math.abs(jensenShannon(distribution(["7"]), distribution(["8"])) - 1) < 1e-12);
    assert.ok(Math.abs(totalVariation(distribution(["7", "7", "7", "8"]), distribution(["7", "8", "8", "8"])) - 0.5) < 1e-12);
  });

  test("bootstrap: a constant statistic has a zero-width interval; the same seed gives the same interval", () => {
    const groups = [[true, true], [true], [true, true, true]];
    assert.deepEqual(
      bootstrap(groups, (xs) => xs.length / xs.length),
      { value: 1, low: 1, high: 1 },
    );
    const mixed = [[true], [false], [true], [false], [true]];
    const stat = (xs: readonly boolean[]) => xs.filter(Boolean).length / xs.length;
    const a = bootstrap(mixed, stat, 500, 7)!;
    assert.deepEqual(bootstrap(mixed, stat, 500, 7), a);
    assert.equal(a.value, 0.6);
    assert.ok(a.low < 0.6 && a.high > 0.6 && a.low >= 0 && a.high <= 1);
    assert.equal(bootstrap([], stat), null);
  });

  test("paired difference uses only the problems both sides have", () => {
    const a = new Map([
      ["p1", [true]],
      ["p2", [true]],
      ["p3", [false]],
    ]);
    const b = new Map([
      ["p1", [false]],
      ["p2", [true]],
    ]);
    const d = pairedDifference(a, b, 200)!;
    assert.equal(d.value, 0.5);
    assert.ok(d.low <= 0.5 && d.high >= 0.5);
  });

  test("sentence importance: a sentence that flips every answer moves accuracy by 1 with a tight interval", () => {
    const wrong = Array.from({ length: 8 }, () => ({ answer: "8", correct: false }));
    const right = Array.from({ length: 8 }, () => ({ answer: "7", correct: true }));
    const r = sentenceImportance(wrong, right, 300);
    assert.deepEqual(r.accuracyChange, { value: 1, low: 1, high: 1 });
    assert.deepEqual(r.divergence, { value: 1, low: 1, high: 1 });
    assert.ok(Math.abs(r.js! - 1) < 1e-12);
    const same = sentenceImportance(right, right, 300);
    assert.equal(same.accuracyChange!.value, 0);
    assert.equal(same.divergence!.value, 0);
    const half = sentenceImportance(wrong, [...right.slice(0, 4), ...wrong.slice(0, 4)], 300);
    assert.equal(half.accuracyChange!.value, 0.5);
    assert.ok(half.accuracyChange!.low < 0.5 && half.accuracyChange!.high > 0.5);
    assert.equal(sentenceImportance([], right).accuracyChange, null);
  });

  test("ranks, Spearman and target agreement", () => {
    assert.deepEqual(ranks([10, 30, 20, 20]), [1, 4, 2.5, 2.5]);
    assert.equal(spearman([1, 2, 3], [10, 20, 30]), 1);
    assert.equal(spearman([1, 2, 3], [3, 2, 1]), -1);
    assert.equal(spearman([1, 1, 1], [1, 2, 3]), null);
    assert.deepEqual(topK([0.1, 0.9, 0.5, 0.9], 2), [1, 3]);
    const ag = targetAgreement(
      new Map([
        ["a", [0.9, 0.1, 0.5]],
        ["b", [0.8, 0.0, 0.6]],
        ["c", [0.0, 0.9, 0.1]],
      ]),
      1,
    );
    assert.equal(ag.pairs.length, 3);
    assert.equal(ag.pairs.find((p) => p.a === "a" && p.b === "b")!.spearman, 1);
    assert.equal(ag.pairs.find((p) => p.a === "a" && p.b === "b")!.topOverlap, 1);
    assert.equal(ag.pairs.find((p) => p.a === "a" && p.b === "c")!.topOverlap, 0);
    assert.ok(ag.spearman! < 1);
  });
});
