import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { cutPoints, windowedMean, type CutToken } from "../../src/core/cutpoints.js";
import { splitSentences } from "../../src/core/sentences.js";

// Ten sentences of five one-word tokens each ("w0 w1 w2 w3 end. "), so token i lies in sentence floor(i/5).
const text = Array.from({ length: 10 }, (_, s) => `W${s} b c d end. `).join("");
const sentences = splitSentences(text);
function tokensFor(logprob: (i: number) => number): CutToken[] {
  return text
    .split(/(?<= )/)
    .filter((t) => t !== "")
    .map((token, i) => ({ token, logprob: logprob(i) }));
}

describe("cutPoints", () => {
  test("fixture: 10 sentences, 50 tokens", () => {
    assert.equal(sentences.length, 10);
    assert.equal(tokensFor(() => -1).length, 50);
  });

  test("quantile: 25/50/75% of 50 tokens snap to the sentence holding that token", () => {
    // round(12.5)=13 -> token 13 is in sentence 2; 25 starts sentence 5, so the boundary
    // after sentence 4 is at that position; round(37.5)=38 -> 7
    const c = cutPoints(
      tokensFor(() => -1),
      sentences,
      { rule: "quantile" },
    );
    assert.deepEqual([c.early.sentence, c.mid.sentence, c.late.sentence], [2, 4, 7]);
    assert.deepEqual([c.early.token, c.mid.token, c.late.token], [15, 25, 40]);
  });

  test("a position exactly on a boundary cuts there, not one sentence later", () => {
    const c = cutPoints(
      tokensFor(() => -1),
      sentences,
      { rule: "quantile", quantiles: [0.1, 0.2, 0.3] },
    );
    // token 5 starts sentence 1, i.e. the boundary after sentence 0
    assert.deepEqual([c.early.sentence, c.mid.sentence, c.late.sentence], [0, 1, 2]);
  });

  test("never after the last sentence; never before the first", () => {
    const c = cutPoints(
      tokensFor(() => -1),
      sentences,
      { rule: "quantile", quantiles: [0, 0.99, 1] },
    );
    assert.equal(c.early.sentence, 0);
    assert.equal(c.mid.sentence, 8);
    assert.equal(c.late.sentence, 8);
  });

  test("cumulative: cuts follow surprisal, not length", () => {
    // All surprisal sits in sentence 6: every quantile of it is reached there.
    const c = cutPoints(
      tokensFor((i) => (Math.floor(i / 5) === 6 ? -10 : -0.001)),
      sentences,
      { rule: "cumulative" },
    );
    assert.deepEqual([c.early.sentence, c.mid.sentence, c.late.sentence], [6, 6, 6]);
  });

  test("threshold: the first dip after each quantile position, else the quantile itself", () => {
    // Confident everywhere except a dip in sentence 4 (tokens 20-24).
    const tokens = tokensFor((i) => (i >= 20 && i < 25 ? -8 : -0.1));
    const c = cutPoints(tokens, sentences, { rule: "threshold", window: 1, threshold: -3 });
    assert.equal(c.early.sentence, 4); // from token 13 the first dip is token 20, in sentence 4
    assert.equal(c.early.fallback, false);
    assert.equal(c.mid.sentence, 4); // no dip from token 25 on: the quantile position (boundary after 4)
    assert.equal(c.mid.fallback, true);
    assert.equal(c.late.sentence, 7);
  });

  test("threshold default is mean - 1 sd of the windowed series", () => {
    const tokens = tokensFor((i) => (i >= 40 && i < 45 ? -6 : -0.2));
    const c = cutPoints(tokens, sentences, { rule: "threshold", window: 4 });
    assert.equal(c.late.sentence, 8);
    assert.equal(c.late.fallback, false);
  });

  test("degenerate inputs", () => {
    const two = splitSentences("One here. Two there.");
    const toks: CutToken[] = [
      { token: "One here. ", logprob: -1 },
      { token: "Two there.", logprob: -1 },
    ];
    const c = cutPoints(toks, two, { rule: "quantile" });
    assert.deepEqual([c.early.sentence, c.mid.sentence, c.late.sentence], [0, 0, 0]);
    assert.throws(() => cutPoints(toks, splitSentences("Only one."), { rule: "quantile" }), /at least 2 sentences/);
    assert.throws(() => cutPoints([], two, { rule: "quantile" }), /no tokens/);
    assert.throws(() => cutPoints(toks, two, { rule: "quantile", quantiles: [0.1, 2, 0.3] }), /not in \[0, 1\]/);
  });

  test("explicit character offsets are used when given", () => {
    const at = (offset: number) =>
      cutPoints(
        [
          { token: "x", logprob: -1, offset: 0 },
          { token: "y", logprob: -1, offset },
        ],
        sentences,
        { rule: "quantile", quantiles: [0.5, 0.5, 0.5] },
      ).mid.sentence;
    assert.equal(at(text.indexOf("W8") + 1), 8); // inside sentence 8
    assert.equal(at(text.indexOf("W8")), 7); // exactly at the boundary after sentence 7
    assert.equal(at(text.indexOf("W3") + 1), 3);
  });
});

test("windowedMean", () => {
  assert.deepEqual(windowedMean([-1, -3, -5, -7], 2), [-1, -2, -4, -6]);
});
