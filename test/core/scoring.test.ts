import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { aggregateEvaluators, meanNll, paperPerplexity, perplexity, pickLowest, scoreFromTokens } from "../../src/core/scoring.js";

const close = (a: number, b: number, eps = 1e-12) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

describe("perplexity", () => {
  test("hand-computed: probabilities 1/2 and 1/8 give mean NLL 2 ln 2 and PPL 4", () => {
    const lps = [Math.log(0.5), Math.log(0.125)];
    close(meanNll(lps), 2 * Math.log(2));
    close(perplexity(lps), 4);
  });
  test("a uniform choice among 10 has perplexity 10", () => close(perplexity([Math.log(0.1), Math.log(0.1), Math.log(0.1)]), 10, 1e-9));
  test("scoreFromTokens returns n with the scores", () => {
    const s = scoreFromTokens([
      { token: "a", logprob: -1 },
      { token: "b", logprob: -3 },
    ]);
    assert.equal(s.n, 2);
    close(s.meanNll, 2);
    close(s.perplexity, Math.exp(2));
  });
  test("an empty candidate scores +Infinity (it can never win)", () => {
    assert.equal(meanNll([]), Infinity);
    assert.equal(perplexity([]), Infinity);
    assert.equal(scoreFromTokens([]).n, 0);
  });
  test("NaN or positive log-probabilities are rejected with a clear message", () => {
    assert.throws(() => meanNll([-1, NaN]), /token 1 has log-probability NaN/);
    assert.throws(() => meanNll([0.7]), /expected a number <= 0/);
    assert.equal(perplexity([-Infinity]), Infinity);
  });
});

describe("evaluators and picking", () => {
  test("aggregate is the mean perplexity", () => {
    close(aggregateEvaluators([{ perplexity: 2 }, { perplexity: 5 }, { perplexity: 11 }]), 6);
    assert.throws(() => aggregateEvaluators([]), /no evaluator/);
  });
  test("lowest wins; ties go to the earliest; unscored are skipped", () => {
    assert.equal(pickLowest([3, 1.5, 2]), 1);
    assert.equal(pickLowest([{ meanPerplexity: 2 }, { meanPerplexity: 1 }, { meanPerplexity: 1 }]), 1);
    assert.equal(pickLowest([{}, { meanPerplexity: NaN }, { meanPerplexity: 9 }]), 2);
    assert.equal(pickLowest([{}, undefined]), -1);
    assert.equal(pickLowest([Infinity, Infinity]), 0);
  });
});

describe("paper perplexity", () => {
  test("mean over prompt and candidate tokens together, not per part", () => {
    // prefix: -1, -1 ; candidate: -4  -> mean loss 2 -> e^2 (candidate-only would be e^4)
    close(paperPerplexity([-1, -1], [-4]), Math.exp(2));
    close(perplexity([-4]), Math.exp(4));
  });
  test("pad positions, when given, count in the mean (the published quirk)", () => {
    close(paperPerplexity([-1], [-1], [-4, -4]), Math.exp(2.5));
  });
  test("the prompt dominates: a long prompt flattens differences between candidates", () => {
    const prompt = new Array(1000).fill(-2);
    const a = paperPerplexity(prompt, [-0.1]);
    const b = paperPerplexity(prompt, [-5]);
    assert.ok(b / a < 1.01);
    assert.ok(perplexity([-5]) / perplexity([-0.1]) > 100);
  });
});
