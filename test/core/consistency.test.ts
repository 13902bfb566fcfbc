import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { computeConsistency, hasSkipPhrase, meanStd, sortTargets, type TargetAnswer } from "../../src/core/consistency.js";

const ans = (target: string, itemId: string, answer: string | null, correct: boolean, recorded?: string | null): TargetAnswer =>
  recorded === undefined ? { target, itemId, answer, correct } : { target, itemId, answer, correct, recorded };

describe("meanStd", () => {
  test("population std (ddof = 0)", () => {
    const r = meanStd([1, 0.5, 0])!;
    assert.equal(r.mean, 0.5);
    // sqrt(((0.5)^2 + 0 + (0.5)^2) / 3) = sqrt(1/6)
    assert.ok(Math.abs(r.std - Math.sqrt(1 / 6)) < 1e-12);
    assert.equal(r.n, 3);
  });
  test("empty list gives null", () => assert.equal(meanStd([]), null));
});

describe("skip phrases", () => {
  test("crash texts are recognised", () => {
    assert.ok(hasSkipPhrase("name 'N' is not defined"));
    assert.ok(hasSkipPhrase("time data 'N/A' does not match format '%m/%d/%Y'"));
    assert.ok(hasSkipPhrase("Extra inputs are not permitted"));
    assert.ok(!hasSkipPhrase("12.5"));
  });
});

describe("two targets", () => {
  // item 1: same wrong answer; item 2: different answers, both correct (decimal range);
  // item 3: different, one correct; item 4: a crash text on A's side (skipped in both readings).
  const answers = [
    ans("A", "1", "5", false),
    ans("B", "1", "5", false),
    ans("A", "2", "10.1", true),
    ans("B", "2", "10.3", true),
    ans("A", "3", "7", true),
    ans("B", "3", "8", false),
    ans("A", "4", null, false, "name 'N' is not defined"),
    ans("B", "4", "3", false),
  ];
  test("strict: 2 of 3 kept items agree", () => {
    const r = computeConsistency(answers, "strict");
    assert.deepEqual(r.targets, ["A", "B"]);
    const p = r.pairs[0];
    assert.equal(p.kept, 3);
    assert.equal(p.skipped, 1);
    assert.equal(p.agree, 2);
    assert.equal(p.consistentCorrect, 1);
    assert.equal(p.consistentWrong, 1);
    assert.equal(p.inconsistent, 1);
    assert.equal(p.value, 2 / 3);
    assert.equal(r.consistency!.mean, 2 / 3);
    assert.equal(r.consistency!.std, 0);
    assert.deepEqual(r.matrix, [
      [1, 2 / 3],
      [2 / 3, 1],
    ]);
  });
  test("paper reading skips the crash text too", () => {
    const r = computeConsistency(answers, "paper");
    assert.equal(r.pairs[0].kept, 3);
    assert.equal(r.pairs[0].value, 2 / 3);
  });
  test("accuracy counts every item, crashed ones as wrong", () => {
    const r = computeConsistency(answers, "strict");
    assert.deepEqual(
      r.accuracy.map((a) => [a.target, a.correct, a.total]),
      [
        ["A", 2, 4],
        ["B", 1, 4],
      ],
    );
    assert.equal(r.accuracy[0].accuracy, 0.5);
  });
});

describe("absent answers (transfer files)", () => {
  // Both targets crashed on item 2: the field was absent (recorded null).
  const answers = [ans("A", "1", "1", false), ans("B", "1", "2", false), ans("A", "2", null, false, null), ans("B", "2", null, false, null)];
  test("strict skips them", () => {
    const p = computeConsistency(answers, "strict").pairs[0];
    assert.equal(p.kept, 1);
    assert.equal(p.value, 0);
  });
  test("paper reads them as empty strings that agree", () => {
    const p = computeConsistency(answers, "paper").pairs[0];
    assert.equal(p.kept, 2);
    assert.equal(p.agree, 1);
    assert.equal(p.consistentWrong, 1);
    assert.equal(p.value, 0.5);
  });
  test("paper reading uses the answer when no recorded text is given", () => {
    const plain = [ans("A", "1", "4", false), ans("B", "1", "4", false)];
    assert.equal(computeConsistency(plain, "paper").pairs[0].value, 1);
  });
});

describe("three targets", () => {
  // Items 1..2. A,B,C answers: item1 = x,x,y (all wrong); item2 = p,q,r (A and C correct).
  const answers = [
    ans("A", "1", "x", false),
    ans("B", "1", "x", false),
    ans("C", "1", "y", false),
    ans("A", "2", "p", true),
    ans("B", "2", "q", false),
    ans("C", "2", "r", true),
  ];
  const r = computeConsistency(answers, "strict", ["C", "A"]);
  test("order puts given targets first, then the rest", () => {
    assert.deepEqual(r.targets, ["C", "A", "B"]);
  });
  test("pair values: CA 1/2, CB 0, AB 1/2", () => {
    const v = Object.fromEntries(r.pairs.map((p) => [p.a + p.b, p.value]));
    assert.deepEqual(v, { CA: 0.5, CB: 0, AB: 0.5 });
  });
  test("mean and population std over the 3 pairs", () => {
    assert.ok(Math.abs(r.consistency!.mean - 1 / 3) < 1e-12);
    // values 0.5, 0, 0.5 around 1/3: variance = (1/36 + 1/9 + 1/36) / 3 = 1/18
    assert.ok(Math.abs(r.consistency!.std - Math.sqrt(1 / 18)) < 1e-12);
  });
  test("the split sums to 1 and its agreeing parts to the mean", () => {
    const s = r.split!;
    // CA: item2 both correct -> cc; AB: item1 same wrong -> cw; CB: nothing.
    assert.ok(Math.abs(s.consistentCorrect - 0.5 / 3) < 1e-12);
    assert.ok(Math.abs(s.consistentWrong - 0.5 / 3) < 1e-12);
    assert.ok(Math.abs(s.consistentCorrect + s.consistentWrong + s.inconsistent - 1) < 1e-12);
    assert.ok(Math.abs(s.consistentCorrect + s.consistentWrong - r.consistency!.mean) < 1e-12);
  });
});

describe("edge cases", () => {
  test("items only one target answered are skipped", () => {
    const r = computeConsistency([ans("A", "1", "1", true), ans("B", "2", "1", true)], "strict");
    assert.equal(r.pairs[0].kept, 0);
    assert.equal(r.pairs[0].value, null);
    assert.equal(r.consistency, null);
    assert.equal(r.split, null);
  });
  test("a single target has no pairs", () => {
    const r = computeConsistency([ans("A", "1", "1", true)], "paper");
    assert.equal(r.pairs.length, 0);
    assert.equal(r.consistency, null);
    assert.deepEqual(r.matrix, [[1]]);
  });
  test("sortTargets is stable for unknown names", () => {
    assert.deepEqual(sortTargets(["b", "a", "z"], ["z"]), ["z", "a", "b"]);
  });
});
