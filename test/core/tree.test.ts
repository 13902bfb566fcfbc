// The session tree: races kept at their nodes, branches from any earlier step, navigation,
// per-node answers and consistency, and the file form.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import type { Candidate, ChainSentence } from "../../src/core/chain.js";
import {
  accept,
  branchOf,
  branches,
  chainAt,
  childOf,
  compareBranches,
  divergence,
  emptyTree,
  keepRace,
  latestRace,
  locate,
  moveTo,
  nextBranch,
  nodeOf,
  outline,
  parentOf,
  pathTo,
  siblingOf,
  targetsAlong,
  treeFileSchema,
  treeFromChain,
  treeFromFile,
  treeToFile,
  withAnswer,
  withConsistency,
  type Tree,
} from "../../src/core/tree.js";

const cand = (id: string, text: string, ppl: number): Candidate => ({
  id,
  generator: id.split("#")[0]!,
  sampleIndex: Number(id.split("#")[1]),
  text,
  raw: text,
  tokens: [{ token: text, logprob: -1 }],
  scores: [{ evaluator: "judge", meanNll: Math.log(ppl), perplexity: ppl }],
  meanPerplexity: ppl,
  endOfThought: false,
});

/** A step's sentence taking `take` from candidates a/b/c (a is the evaluator's pick). */
function step(prefix: string, take: "a" | "b" | "c"): ChainSentence {
  const candidates = [cand("alpha#0", `${prefix} A.`, 2), cand("alpha#1", `${prefix} B.`, 3), cand("beta#0", `${prefix} C.`, 4)];
  const chosen = candidates[{ a: 0, b: 1, c: 2 }[take]]!;
  return {
    text: chosen.text,
    author: chosen.generator,
    decision: take === "a" ? "evaluator" : "human-pick",
    candidates,
    evaluatorPick: "alpha#0",
    acceptedId: chosen.id,
    at: "2026-01-01T00:00:00.000Z",
  };
}

const snap = (chainLength: number, consistency: number, pairs: Record<string, boolean> = { "t1|t2": consistency > 0.5 }) => ({
  chainLength,
  pairs,
  consistency,
  accuracy: 0.5,
  split: { consistentCorrect: 0, consistentWrong: 0, inconsistent: 1 },
});

/** root -a-> n1 -a-> n2 -a-> n3, then back at n1 take b (n4) and at the root take c (n5). */
function forked(): Tree {
  let t = emptyTree();
  t = accept(t, t.current, step("one", "a"));
  t = accept(t, t.current, step("two", "a"));
  t = accept(t, t.current, step("three", "a"));
  t = moveTo(t, "n1");
  t = accept(t, t.current, step("two", "b"));
  t = moveTo(t, t.root);
  t = accept(t, t.current, step("one", "c"));
  return t;
}

describe("session tree", () => {
  test("accepting builds a branch; the chain at a node carries its race's candidates", () => {
    let t = emptyTree();
    t = accept(t, t.current, step("one", "a"));
    t = accept(t, t.current, step("two", "b"));
    const chain = chainAt(t, t.current);
    assert.deepEqual(
      chain.sentences.map((s) => s.text),
      ["one A.", "two B."],
    );
    assert.equal(chain.sentences[1]!.candidates.length, 3);
    assert.equal(chain.sentences[1]!.acceptedId, "alpha#1");
    assert.equal(chain.sentences[1]!.decision, "human-pick");
    assert.equal(nodeOf(t, t.current).depth, 2);
  });

  test("undo keeps the race: the parent still holds it, and another candidate starts a sibling", () => {
    let t = emptyTree();
    t = accept(t, t.current, step("one", "a"));
    const first = t.current;
    t = moveTo(t, parentOf(t, t.current));
    assert.equal(t.current, t.root);
    const race = latestRace(t, t.root)!;
    assert.deepEqual(
      race.candidates.map((c) => c.id),
      ["alpha#0", "alpha#1", "beta#0"],
    );
    t = accept(t, t.current, step("one", "b"));
    assert.notEqual(t.current, first);
    assert.deepEqual(nodeOf(t, t.root).children, [first, t.current]);
    // the same race is kept once, both edges point at it
    assert.equal(nodeOf(t, t.root).races.length, 1);
    assert.equal(nodeOf(t, t.current).edge!.race, 0);
    assert.equal(nodeOf(t, first).edge!.race, 0);
    // taking the first candidate again goes back to the first child, not a third
    t = moveTo(t, t.root);
    t = accept(t, t.current, step("one", "a"));
    assert.equal(t.current, first);
    assert.equal(nodeOf(t, t.root).children.length, 2);
  });

  test("a regenerated race is kept beside the first; a race kept twice is kept once", () => {
    let t = emptyTree();
    const r1 = { candidates: [cand("alpha#0", "x.", 2)], evaluatorPick: "alpha#0" };
    const r2 = { candidates: [cand("alpha#0", "y.", 5)], evaluatorPick: "alpha#0" };
    t = keepRace(t, t.root, r1).tree;
    t = keepRace(t, t.root, r2).tree;
    const again = keepRace(t, t.root, r1);
    assert.equal(again.index, 0);
    assert.equal(again.tree, t);
    assert.equal(nodeOf(t, t.root).races.length, 2);
    assert.equal(latestRace(t, t.root)!.candidates[0]!.text, "y.");
  });

  test("navigation: parent, child toward the current node, siblings, next branch", () => {
    const t = forked();
    // n1: children n2 (a) and n4 (b); root: children n1 and n5
    assert.deepEqual(nodeOf(t, "n1").children, ["n2", "n4"]);
    assert.deepEqual(nodeOf(t, t.root).children, ["n1", "n5"]);
    assert.equal(t.current, "n5");
    assert.equal(parentOf(t, "n3"), "n2");
    assert.equal(parentOf(t, t.root), t.root);
    assert.equal(childOf(t, t.root), "n5"); // toward the current node
    assert.equal(childOf(t, "n1"), "n4"); // newest child when off the current path
    assert.equal(childOf(t, "n3"), "n3"); // a leaf stays
    assert.equal(siblingOf(t, "n2", 1), "n4");
    assert.equal(siblingOf(t, "n4", 1), "n4");
    assert.equal(siblingOf(t, "n4", -1), "n2");
    // next branch from deep inside the first branch: n3 -> (n2's next sibling) n4 -> (n1's) n5
    assert.equal(nextBranch(t, "n3"), "n4");
    assert.equal(nextBranch(t, "n4"), "n5");
    assert.equal(nextBranch(t, "n5"), "n5");
    assert.equal(nextBranch(t, "n5", -1), "n1");
  });

  test("branches are every root-to-leaf path in outline order; divergence and comparison", () => {
    const t = forked();
    const bs = branches(t);
    assert.deepEqual(
      bs.map((b) => b.id),
      ["n3", "n4", "n5"],
    );
    assert.deepEqual(
      bs.map((b) => chainAt(t, b.id).sentences.map((s) => s.text)),
      [["one A.", "two A.", "three A."], ["one A.", "two B."], ["one C."]],
    );
    assert.equal(divergence(t, "n3", "n4"), "n1");
    assert.equal(divergence(t, "n3", "n5"), t.root);
    assert.equal(branchOf(t, "n1"), "n4");
    let u = withConsistency(t, "n2", snap(2, 1));
    u = withConsistency(u, "n3", snap(3, 0.5));
    u = withAnswer(u, "n3", { target: "t1", chainLength: 3, raw: "7", grade: { answer: "7", correct: true } });
    u = withAnswer(u, "n4", { target: "t1", chainLength: 2, raw: "8", grade: { answer: "8", correct: false } });
    const cmp = compareBranches(u, "n3", "n4");
    assert.equal(cmp.divergence, "n1");
    assert.equal(cmp.shared, 1);
    assert.deepEqual(cmp.sides[0]!.sentences, ["two A.", "three A."]);
    assert.deepEqual(cmp.sides[0]!.consistency, [1, 0.5]);
    assert.deepEqual(cmp.sides[1]!.sentences, ["two B."]);
    assert.deepEqual(cmp.sides[1]!.consistency, [undefined]);
    assert.equal(cmp.sides[0]!.answers[0]!.grade.answer, "7");
    assert.equal(cmp.sides[1]!.answers[0]!.grade.answer, "8");
  });

  test("answers and consistency belong to their node: each branch has its own trajectory", () => {
    let t = forked();
    t = withAnswer(t, "n2", { target: "t1", chainLength: 2, raw: "1", grade: { answer: "1", correct: false } });
    t = withAnswer(t, "n2", { target: "t1", chainLength: 2, raw: "2", grade: { answer: "2", correct: true } });
    t = withAnswer(t, "n4", { target: "t1", chainLength: 2, raw: "9", grade: { answer: "9", correct: false } });
    t = withConsistency(t, "n4", snap(2, 0.25));
    assert.deepEqual(
      nodeOf(t, "n2").answers.map((a) => a.raw),
      ["2"],
    );
    assert.deepEqual(
      targetsAlong(t, "n3").answers.map((a) => a.raw),
      ["2"],
    );
    assert.deepEqual(
      targetsAlong(t, "n4").answers.map((a) => a.raw),
      ["9"],
    );
    assert.deepEqual(
      targetsAlong(t, "n4").consistency.map((c) => c.consistency),
      [0.25],
    );
    assert.deepEqual(targetsAlong(t, "n3").consistency, []);
  });

  test("a chain becomes one branch with its answers at their lengths", () => {
    const sentences = [step("one", "a"), step("two", "c")];
    const t = treeFromChain(
      { sentences, finished: true },
      { answers: [{ target: "t1", chainLength: 2, raw: "4", grade: { answer: "4", correct: true } }], consistency: [snap(1, 1)] },
    );
    assert.deepEqual(pathTo(t, t.current), ["n0", "n1", "n2"]);
    assert.deepEqual(chainAt(t, t.current), { sentences, finished: true });
    assert.equal(nodeOf(t, "n2").answers[0]!.raw, "4");
    assert.equal(nodeOf(t, "n1").consistency!.consistency, 1);
  });

  test("outline: one indent below every fork, chosen sentence, perplexity, consistency, where the person is", () => {
    const t = withConsistency(forked(), "n2", snap(2, 0.5));
    const rows = outline(t);
    assert.deepEqual(
      rows.map((r) => [r.id, r.indent]),
      [
        ["n0", 0],
        ["n1", 1],
        ["n2", 2],
        ["n3", 2],
        ["n4", 2],
        ["n5", 1],
      ],
    );
    const n2 = rows.find((r) => r.id === "n2")!;
    assert.equal(n2.edge!.text, "two A.");
    assert.equal(n2.perplexity, 2);
    assert.equal(n2.consistency, 0.5);
    assert.equal(rows.find((r) => r.id === "n4")!.perplexity, 3);
    assert.deepEqual(
      rows.filter((r) => r.onPath).map((r) => r.id),
      ["n0", "n5"],
    );
    assert.equal(rows.find((r) => r.current)!.id, "n5");
    const loc = locate(t);
    assert.deepEqual([loc.depth, loc.branch, loc.branches, loc.sibling, loc.siblings, loc.nodes], [1, 3, 3, 2, 2, 6]);
  });

  test("file form round-trips; a broken file is an error naming the node", () => {
    const t = withAnswer(forked(), "n3", { target: "t1", chainLength: 3, raw: "x", grade: { answer: "x", correct: false } });
    const file = treeFileSchema.parse(JSON.parse(JSON.stringify(treeToFile(t))));
    const back = treeFromFile(file);
    assert.deepEqual(back, t);
    const bad = structuredClone(file);
    bad.nodes[2]!.parent = "n9";
    assert.throws(() => treeFromFile(bad), /tree node n2: parent n9 is not before it/);
    const badRace = structuredClone(file);
    badRace.nodes[1]!.edge!.race = 4;
    assert.throws(() => treeFromFile(badRace), /race 4 is not kept at n0/);
    const twoRoots = structuredClone(file);
    delete twoRoots.nodes[1]!.parent;
    assert.throws(() => treeFromFile(twoRoots), /second root/);
    assert.throws(() => treeFromFile({ ...file, current: "n77" }), /current node n77/);
  });

  test("a deep branch (3,000 sentences) needs no recursion", () => {
    const sentences = Array.from({ length: 3000 }, (_, i) => step(`s${i}`, "a"));
    let t = treeFromChain({ sentences, finished: false });
    assert.deepEqual(chainAt(t, t.current).sentences, sentences);
    t = accept(moveTo(t, "n1500"), "n1500", step("s1500", "b"));
    assert.equal(nodeOf(t, t.current).depth, 1501);
    assert.equal(outline(t).length, 3002);
    assert.equal(branches(t)[0]!.path.length, 3001);
    assert.equal(branches(t)[1]!.path.length, 1502);
    assert.equal(treeFromFile(treeToFile(t)).current, t.current);
  });
});

test("a snapshot with no pair of answers is no consistency at its node", () => {
  let t = accept(emptyTree(), "n0", step("one", "a"));
  t = withConsistency(t, "n1", snap(1, 0, {}));
  assert.equal(outline(t)[1]!.consistency, undefined);
  t = withConsistency(t, "n1", snap(1, 0, { "t1|t2": false }));
  assert.equal(outline(t)[1]!.consistency, 0);
});
