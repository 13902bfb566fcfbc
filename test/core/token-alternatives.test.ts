import { test } from "node:test";
import assert from "node:assert/strict";
import { branchPrefix, hasAlternatives, otherTokens, tokenPositions } from "../../src/core/token-alternatives.js";

const c = {
  tokens: [
    {
      token: "The",
      logprob: -0.1,
      top: [
        { token: "The", logprob: -0.1 },
        { token: "A", logprob: -2.5 },
      ],
    },
    {
      token: " dose",
      logprob: -1.2,
      top: [
        { token: " weight", logprob: -0.9 },
        { token: " dose", logprob: -1.2 },
        { token: " rate", logprob: -2 },
      ],
    },
    { token: " is", logprob: -0.05 },
  ],
};

test("positions, the other tokens at each, and the text a branch starts with", () => {
  const ps = tokenPositions(c);
  assert.deepEqual(
    ps.map((p) => [p.index, p.token, p.alternatives.length]),
    [
      [0, "The", 2],
      [1, " dose", 3],
      [2, " is", 0],
    ],
  );
  assert.deepEqual(
    otherTokens(ps[1]!).map((a) => a.token),
    [" weight", " rate"],
  );
  assert.deepEqual(otherTokens(ps[2]!), []);
  assert.equal(branchPrefix(c, 1, " weight"), "The weight");
  assert.equal(branchPrefix(c, 0, "A"), "A");
  assert.throws(() => branchPrefix(c, 3, "x"), /no token 3 in a candidate of 3/);
  assert.equal(hasAlternatives(c), true);
  assert.equal(hasAlternatives({ tokens: [{ token: "x", logprob: -1 }] }), false);
  assert.equal(hasAlternatives({}), false);
});
