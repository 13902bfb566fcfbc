// The Tree screen: the outline (one indent below each fork, who chose each sentence, perplexity,
// consistency, where the person is), the cursor keys from the key table, marking and comparing
// two branches, and model text kept from reaching the terminal as escape sequences.
import { test, describe, afterEach } from "node:test";
import assert from "node:assert/strict";
import { render, cleanup } from "ink-testing-library";
import stripAnsi from "strip-ansi";
import type { Candidate, ChainSentence } from "../../src/core/chain.js";
import { accept, emptyTree, moveTo, withAnswer, withConsistency, type Tree } from "../../src/core/tree.js";
import { App } from "../../src/ui/App.js";
import { createConcordStore } from "../../src/state/store.js";
import { loadTheme } from "../../src/ui/theme.js";
import { helpRows, DEFAULT_BINDINGS } from "../../src/ui/keys.js";
import { demoProblem } from "../doubles/scripted-driver.js";
import { eventually } from "../wait.js";

const theme = loadTheme({ theme: "dark", env: {} });
const cand = (id: string, text: string, ppl: number): Candidate => ({
  id,
  generator: id.split("#")[0]!,
  sampleIndex: 0,
  text,
  raw: text,
  scores: [{ evaluator: "judge", meanNll: Math.log(ppl), perplexity: ppl }],
  meanPerplexity: ppl,
  endOfThought: false,
});
function sentence(text: string, ppl: number, human = false): ChainSentence {
  const c = cand("alpha#0", text, ppl);
  return {
    text,
    author: "alpha",
    decision: human ? "human-pick" : "evaluator",
    candidates: [c, cand("beta#0", "other.", 9)],
    evaluatorPick: "alpha#0",
    acceptedId: "alpha#0",
    at: "2026-01-01T00:00:00.000Z",
  };
}
const snap = (chainLength: number, consistency: number) => ({
  chainLength,
  pairs: { "t1|t2": consistency > 0.5 },
  consistency,
  accuracy: 1,
  split: { consistentCorrect: 1, consistentWrong: 0, inconsistent: 0 },
});

/** n1 "Start." -> n2 "Left way." -> n3 "Left end."; at n1 also n4 "Right \e[31mway\e[0m." (the current node). */
function tree(): Tree {
  let t = emptyTree();
  t = accept(t, t.current, sentence("Start.", 2.5));
  t = accept(t, t.current, sentence(" Left way.", 3.25));
  t = accept(t, t.current, sentence(" Left end.", 4));
  t = withConsistency(t, "n3", snap(3, 1));
  t = withAnswer(t, "n3", { target: "t1", chainLength: 3, raw: "42", grade: { answer: "42", correct: true } });
  t = accept(moveTo(t, "n1"), "n1", sentence(" Right \u001b[31mway\u001b[0m.", 5.5, true));
  t = withConsistency(t, "n4", snap(2, 0));
  return t;
}

async function setup() {
  const store = createConcordStore({ initial: { problem: demoProblem, tree: tree() } });
  const ui = render(<App store={store} theme={theme} size={{ columns: 100, rows: 24 }} />);
  store.getState().openTree();
  const frame = () => stripAnsi(ui.lastFrame() ?? "");
  await eventually(() => /── tree:/.test(frame()));
  return { store, ui, frame };
}
afterEach(() => cleanup());

describe("tree screen", () => {
  test("the outline: forks indented, who chose, perplexity, consistency, the current node; no escape reaches the screen", async () => {
    const { ui, frame } = await setup();
    const f = frame();
    assert.match(f, /── tree: 4 sentences in 2 branches · you are at n4 \(branch 2, sentence 2\)/);
    assert.match(f, /^ │ n1 +alpha +2\.50 +- +Start\.$/m);
    assert.match(f, /^ {3}⑂ n2 +alpha +3\.25 +- +Left way\.$/m);
    assert.match(f, /^ {3}· n3 +alpha +4\.00 +1\.00 +Left end\.$/m);
    assert.match(f, /^▸ {2}● n4 +alpha✎ +5\.50 +0\.00 +Right way\.$/m);
    assert.ok(!(ui.lastFrame() ?? "").includes("\u001b[31m"), "the model's escape sequence is not passed on");
    assert.match(f, /n4 · sentence 2 · branch 2\/2 · sibling 2\/2/);
  });

  test("keys move the cursor: parent, child toward where the person is, siblings, branches", async () => {
    const { ui, frame } = await setup();
    const cursorAt = (id: string) => eventually(() => new RegExp(`^▸ *\\S ${id} `, "m").test(frame()) && new RegExp(`^${id} · sentence`, "m").test(frame()));
    ui.stdin.write("k"); // previous sibling
    await cursorAt("n2");
    ui.stdin.write("l"); // child
    await cursorAt("n3");
    ui.stdin.write("h"); // parent
    await cursorAt("n2");
    ui.stdin.write("h");
    await cursorAt("n1");
    ui.stdin.write("l"); // the child on the way to the current node
    await cursorAt("n4");
    ui.stdin.write("\u001b[5~"); // page up: previous branch
    await cursorAt("n2");
    ui.stdin.write("\u001b[6~"); // page down: next branch
    await cursorAt("n4");
  });

  test("mark a branch, move to the other, compare: where they part, sentences, consistency, final answers", async () => {
    const { ui, frame, store } = await setup();
    ui.stdin.write("c");
    await eventually(() => store.getState().treeView.marked === "n4");
    ui.stdin.write("k");
    await eventually(() => /^n2 · sentence/m.test(frame()));
    ui.stdin.write("c");
    const f = await eventually(() => (/── compare n4 \| n3/.test(frame()) ? frame() : false));
    assert.match(f, /they part after sentence 1 \(at n1\)/);
    assert.match(f, /branch n4 · 1 sentence after/);
    assert.match(f, /branch n3 · 2 sentences after/);
    assert.match(f, /final: t1 42 ✓/);
    assert.match(f, /2 +0\.00 Right way\./);
    assert.match(f, /3 +1\.00 Left end\./);
    ui.stdin.write("b");
    await eventually(() => /── tree:/.test(frame()));
    ui.stdin.write("b");
    await eventually(() => store.getState().screen === "race");
  });

  test("the keys are in the key table, so Help lists them", () => {
    const rows = helpRows(DEFAULT_BINDINGS, "tree").map((r) => `${r.keys} ${r.description}`);
    for (const want of [
      "left / h parent",
      "right / l child",
      "up / k move up",
      "down / j move down",
      "pageup page up",
      "pagedown page down",
      "enter open the selected item",
      "c compare",
      "b session tree / back",
    ])
      assert.ok(rows.includes(want), `${want} in ${rows.join("; ")}`);
    assert.ok(helpRows(DEFAULT_BINDINGS, "race").some((r) => r.keys === "b" && /session tree/.test(r.description)));
  });
});
