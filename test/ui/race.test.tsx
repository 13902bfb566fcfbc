import { test, describe, afterEach } from "node:test";
import assert from "node:assert/strict";
import { render, cleanup } from "ink-testing-library";
import stripAnsi from "strip-ansi";
import stringWidth from "string-width";
import { App } from "../../src/ui/App.js";
import { createConcordStore } from "../../src/state/store.js";
import { loadTheme } from "../../src/ui/theme.js";
import { DEFAULT_BINDINGS } from "../../src/ui/keys.js";
import { MARK_HUMAN, MARK_PICK } from "../../src/ui/screens/Race.js";
import { ScriptedDriver, demoProblem } from "../doubles/scripted-driver.js";
import { eventually } from "../wait.js";

const theme = loadTheme({ theme: "dark", env: {} });

async function setup(size = { columns: 100, rows: 30 }) {
  const driver = new ScriptedDriver();
  const store = createConcordStore({
    flushMs: 10,
    createRace: () => ({ builder: driver, roles: { generators: ["alpha", "beta"], evaluators: ["judge"], targets: ["t1", "t2", "t3"] } }),
  });
  const ui = render(<App store={store} theme={theme} size={size} />);
  await store.getState().openProblem(demoProblem);
  const frame = () => stripAnsi(ui.lastFrame() ?? "");
  await eventually(() => assert.match(frame(), /step 1/));
  /** Pushes the store's pending events out, then waits until `done` holds (an assertion, say). */
  const settle = async (done: () => unknown) => {
    store.getState().flush();
    await eventually(done);
  };
  return { driver, store, ui, frame, settle };
}

afterEach(() => cleanup());

describe("race screen", () => {
  test("lanes fill as token events arrive, then show scores and the pick", async () => {
    const { driver, frame, settle } = await setup();
    driver.emit({ type: "candidate-token", step: 0, candidateId: "alpha#0", generator: "alpha", text: "Six times", channel: "content" });
    await settle(() => assert.match(frame(), /alpha#0 +Six times…/));
    driver.emit({ type: "candidate-token", step: 0, candidateId: "alpha#0", generator: "alpha", text: " seven", channel: "content" });
    await settle(() => assert.match(frame(), /Six times seven…/));
    driver.stream("beta#0", ["Forty ", "two."], 2.5);
    driver.emit({
      type: "candidate-done",
      step: 0,
      candidate: {
        id: "alpha#0",
        generator: "alpha",
        sampleIndex: 0,
        text: "Six times seven.",
        raw: "Six times seven.",
        scores: [{ evaluator: "judge", meanNll: 2, perplexity: 7.4 }],
        meanPerplexity: 7.4,
        endOfThought: false,
      },
    });
    driver.decide("beta#0");
    await settle(() =>
      assert.ok(
        frame()
          .split("\n")
          .find((l) => l.includes("beta#0"))
          ?.includes(MARK_PICK),
      ),
    );
    const f = frame();
    const betaLine = f.split("\n").find((l) => l.includes("beta#0"))!;
    assert.ok(betaLine.includes(MARK_PICK), betaLine);
    assert.match(betaLine, /2\.5/);
    const alphaLine = f.split("\n").find((l) => l.includes("alpha#0"))!;
    assert.ok(!alphaLine.includes(MARK_PICK));
    assert.match(alphaLine, /7\.4/);
  });

  test("override with keys: move to the other candidate, enter accepts it, marked as human", async () => {
    const { driver, ui, frame, settle, store } = await setup();
    driver.stream("alpha#0", ["Six times seven."], 7.4);
    driver.stream("beta#0", ["Forty two."], 2.5);
    driver.decide("beta#0");
    await settle(() => assert.ok(frame().includes(MARK_PICK)));
    // The pick is a mark: the selection stays on the first lane, where the person left it.
    assert.equal(store.getState().race.lanes[store.getState().selected].id, "alpha#0", "scores arriving never move the selection");
    ui.stdin.write("j"); // down to beta#0 (the pick)
    await eventually(() => assert.equal(store.getState().race.lanes[store.getState().selected].id, "beta#0"));
    ui.stdin.write("k"); // back up to alpha#0
    await eventually(() => assert.equal(store.getState().race.lanes[store.getState().selected].id, "alpha#0"));
    ui.stdin.write("\r");
    await eventually(() => assert.ok(driver.calls.some((c) => c[0] === "accept")));
    assert.deepEqual(
      driver.calls.find((c) => c[0] === "accept"),
      ["accept", "alpha#0"],
    );
    await settle(() => assert.match(frame(), /chain: 1 sentence /));
    const f = frame();
    assert.ok(f.includes(`${MARK_HUMAN}Six times seven.`), f);
  });

  test("undo key removes the last sentence from the chain shown", async () => {
    const { driver, ui, frame, settle } = await setup();
    driver.stream("alpha#0", ["Six times seven."], 7.4);
    driver.decide("alpha#0");
    await settle(() => assert.ok(frame().includes(MARK_PICK)));
    ui.stdin.write("a");
    await settle(() => assert.match(frame(), /chain: 1 sentence /));
    ui.stdin.write("u");
    await settle(() => assert.match(frame(), /chain: 0 sentences/));
    // The chain no longer holds it; its race is kept below, to take it (or another) again.
    const [chainPart, lanesPart = ""] = frame().split(/── step /);
    assert.ok(!chainPart.includes("Six times seven."));
    assert.match(lanesPart, /alpha#0 +Six times seven\./);
  });

  test("write your own sentence through the prompt", async () => {
    const { driver, ui, frame, settle } = await setup();
    ui.stdin.write("w");
    await eventually(() => assert.match(frame(), /your sentence:/));
    ui.stdin.write("I know it.");
    await eventually(() => assert.match(frame(), /your sentence: I know it\./));
    ui.stdin.write("\r");
    await settle(() => assert.ok(frame().includes(`${MARK_HUMAN}I know it.`)));
    assert.deepEqual(
      driver.calls.find((c) => c[0] === "write"),
      ["write", "I know it."],
    );
    assert.ok(frame().includes(`${MARK_HUMAN}I know it.`));
  });

  test("escape sequences and bidi controls in candidate text never reach the frame raw", async () => {
    const { driver, ui, frame, settle } = await setup();
    const evil = "ok\u001b]0;pwned\u0007 \u001b[2J\u001b[31mred\u202e\u0007 done\u009b31m.";
    driver.stream("alpha#0", [evil], 3);
    driver.decide("alpha#0");
    await settle(() => assert.match(frame(), /ok red done/));
    const raw = ui.lastFrame() ?? "";
    assert.ok(!raw.includes("\u001b]"), "no OSC");
    assert.ok(!raw.includes("\u001b[2J"), "no clear screen");
    assert.ok(!raw.includes("\u202e"), "no bidi override");
    assert.ok(!raw.includes("\u0007"), "no bell");
    assert.ok(!raw.includes("\u009b"), "no 8-bit CSI");
    assert.match(stripAnsi(raw), /ok red done/);
  });

  test("80x24: nothing is wider than 80 columns and the frame fits 24 rows", async () => {
    const { driver, frame, settle } = await setup({ columns: 80, rows: 24 });
    for (const id of ["alpha#0", "alpha#1", "beta#0", "beta#1"])
      driver.stream(id, ["A fairly long candidate sentence that keeps going well past the width of the lane. "], 4.2);
    driver.decide("beta#1");
    for (let i = 0; i < 8; i++)
      driver.emit({
        type: "target-answer",
        answer: { target: `t${(i % 3) + 1}`, chainLength: 0, raw: "x", grade: { answer: String(40 + i), correct: i % 2 === 0 } },
      });
    driver.emit({
      type: "consistency",
      snapshot: {
        chainLength: 0,
        pairs: { "t1|t2": true, "t1|t3": false, "t2|t3": false },
        consistency: 1 / 3,
        accuracy: 2 / 3,
        split: { consistentCorrect: 1 / 3, consistentWrong: 0, inconsistent: 2 / 3 },
      },
    });
    await settle(() => assert.match(frame(), /cons 0\.33 acc 0\.67/));
    const lines = frame().split("\n");
    assert.ok(lines.length <= 24, `frame has ${lines.length} rows`);
    for (const l of lines) assert.ok(stringWidth(l) <= 80, `too wide (${stringWidth(l)}): ${l}`);
    assert.match(frame(), /cons 0\.33 acc 0\.67/);
  });

  test("targets panel: answers, correctness and agreement cells change with events", async () => {
    const { driver, frame, settle, ui } = await setup({ columns: 120, rows: 30 });
    driver.emit({ type: "target-answer", answer: { target: "t1", chainLength: 0, raw: "", grade: { answer: "41", correct: false } } });
    driver.emit({
      type: "consistency",
      snapshot: {
        chainLength: 0,
        pairs: { "t1|t2": false },
        consistency: 0,
        accuracy: 0,
        split: { consistentCorrect: 0, consistentWrong: 0, inconsistent: 1 },
      },
    });
    await settle(() => assert.match(frame(), /t1 +41 +✗/));
    let f = frame();
    assert.match(f, /cons 0\.00/);
    driver.write("Six sevens."); // the chain grows to 1: answers for it are shown
    driver.emit({ type: "target-answer", answer: { target: "t1", chainLength: 1, raw: "", grade: { answer: "42", correct: true } } });
    driver.emit({
      type: "consistency",
      snapshot: { chainLength: 1, pairs: { "t1|t2": true }, consistency: 1, accuracy: 1, split: { consistentCorrect: 1, consistentWrong: 0, inconsistent: 0 } },
    });
    await settle(() => assert.match(frame(), /consistency ▁█/));
    f = frame();
    assert.match(f, /t1 +42 +✓/);
    assert.match(f, /cons 1\.00/);
    assert.match(f, /consistency ▁█/);
    ui.stdin.write("t");
    await eventually(() => assert.doesNotMatch(frame(), /cons 1\.00/, "the panel hides"));
  });

  test("why: per-token NLL of the selected candidate on demand", async () => {
    const { driver, ui, frame, settle } = await setup();
    driver.stream("alpha#0", ["Six", " sevens."], 3.2);
    driver.decide("alpha#0");
    await settle(() => assert.ok(frame().includes(MARK_PICK)));
    ui.stdin.write("y");
    await eventually(() => assert.match(frame(), /why: per-token NLL under judge/));
  });

  test("help overlay lists every binding of the table", async () => {
    const { ui, frame } = await setup({ columns: 120, rows: 40 });
    ui.stdin.write("?");
    await eventually(() => assert.match(frame(), /^Keys/m));
    const f = frame();
    for (const b of DEFAULT_BINDINGS) {
      // The help writes the page keys short (pgup, pgdn) so a pair fits its key column.
      const keys = b.keys
        .join("/")
        .replace(/\bpageup\b/g, "pgup")
        .replace(/\bpagedown\b/g, "pgdn");
      assert.ok(f.includes(keys), `help lacks keys of ${b.action}`);
      assert.ok(f.includes(b.description.slice(0, 30)), `help lacks ${b.action}: ${b.description}`);
    }
    ui.stdin.write("?");
    await eventually(() => assert.doesNotMatch(frame(), /^Keys/m));
  });
});
