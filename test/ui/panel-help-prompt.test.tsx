// The targets panel with one target and after an undo, the help overlay's headings, editing keys
// typed in one burst with the text of a prompt, and a replayed session on the Race screen.
import { test, describe, afterEach } from "node:test";
import assert from "node:assert/strict";
import { render, cleanup } from "ink-testing-library";
import stripAnsi from "strip-ansi";
import type { Chain } from "../../src/core/chain.js";
import { App } from "../../src/ui/App.js";
import { createConcordStore, type Roles } from "../../src/state/store.js";
import { loadTheme } from "../../src/ui/theme.js";
import { DEFAULT_BINDINGS } from "../../src/ui/keys.js";
import { count } from "../../src/core/words.js";
import { ScriptedDriver, demoProblem } from "../doubles/scripted-driver.js";
import { eventually } from "../wait.js";

const theme = loadTheme({ theme: "dark", env: {} });
afterEach(() => cleanup());

async function setup(opts: { size?: { columns: number; rows: number }; targets?: string[]; replay?: Chain } = {}) {
  const driver = new ScriptedDriver();
  const roles: Roles = { generators: ["alpha"], evaluators: ["judge"], targets: opts.targets ?? ["t1", "t2"] };
  const store = createConcordStore({ flushMs: 5, createRace: (_p, chain) => ({ builder: chain ? new ScriptedDriver(chain) : driver, roles }) });
  const ui = render(<App store={store} theme={theme} size={opts.size ?? { columns: 100, rows: 30 }} />);
  await store.getState().openProblem(demoProblem, opts.replay ? { chain: opts.replay, roles, replay: true } : undefined);
  const frame = () => stripAnsi(ui.lastFrame() ?? "");
  await eventually(() => assert.match(frame(), /── chain:/));
  /** Applies queued engine events now; the checks that follow wait for the frame. */
  const settle = async () => {
    store.getState().flush();
  };
  /** Types keys; the checks that follow wait for their outcome. */
  const press = async (k: string) => {
    ui.stdin.write(k);
  };
  return { driver, store, frame, settle, press };
}

const answer = (target: string, chainLength: number, a: string) => ({
  type: "target-answer" as const,
  answer: { target, chainLength, raw: a, grade: { answer: a, correct: a === "42" } },
});

describe("targets panel", () => {
  test("one target: no pairs, so consistency and its split are '-', not 0.00", async () => {
    const { driver, frame, settle } = await setup({ targets: ["t1"] });
    driver.write("Six sevens.");
    driver.emit(answer("t1", 1, "42"));
    driver.emit({
      type: "consistency",
      snapshot: { chainLength: 1, pairs: {}, consistency: 0, accuracy: 1, split: { consistentCorrect: 0, consistentWrong: 0, inconsistent: 0 } },
    });
    await settle();
    await eventually(() => assert.match(frame(), /chain 1\/1 cons - acc 1\.00 · CC - CW - I - \(one target: no pairs\)/));
    const f = frame();
    assert.doesNotMatch(f, /cons 0\.00|CC 0\.00/);
  });

  test("after an undo the panel shows the chain as it stands: no point beyond it, the earlier answers", async () => {
    const { driver, store, frame, settle, press } = await setup({ size: { columns: 120, rows: 30 } });
    const snap = (l: number, agree: boolean) => ({
      type: "consistency" as const,
      snapshot: {
        chainLength: l,
        pairs: { "t1|t2": agree },
        consistency: agree ? 1 : 0,
        accuracy: 0.5,
        split: { consistentCorrect: 0, consistentWrong: agree ? 1 : 0, inconsistent: agree ? 0 : 1 },
      },
    });
    driver.write("One.");
    driver.emit(answer("t1", 1, "41"));
    driver.emit(answer("t2", 1, "41"));
    driver.emit(snap(1, true));
    driver.write(" Two.");
    driver.emit(answer("t1", 2, "42"));
    driver.emit(answer("t2", 2, "40"));
    driver.emit(snap(2, false));
    await settle();
    await eventually(() => assert.match(frame(), /chain 2\/2/));
    assert.match(frame(), /consistency █▁/);
    await press("u");
    await eventually(() => assert.equal(store.getState().chain.sentences.length, 1));
    await settle();
    await eventually(() => assert.match(frame(), /chain 1\/1/));
    const f = frame();
    assert.doesNotMatch(f, /chain 2\/1/);
    assert.match(f, /consistency █(\s|$)/m, "one point: the undone sentence's is gone");
    assert.match(f, /t1 +41 +✗/);
  });

  test("a chain the targets were not asked about is marked stale", async () => {
    const { driver, frame, settle } = await setup();
    driver.write("One.");
    driver.emit(answer("t1", 1, "41"));
    driver.emit({
      type: "consistency",
      snapshot: { chainLength: 1, pairs: { "t1|t2": true }, consistency: 1, accuracy: 0, split: { consistentCorrect: 0, consistentWrong: 1, inconsistent: 0 } },
    });
    driver.write(" Two.");
    await settle();
    await eventually(() => assert.match(frame(), /chain 1\/2 · stale \(s asks again\)/));
    driver.emit({ type: "target-start", target: "t1", chainLength: 2 });
    await settle();
    await eventually(() => assert.match(frame(), /chain 1\/2 · asking/));
  });
});

describe("help overlay", () => {
  for (const size of [
    { columns: 80, rows: 24 },
    { columns: 100, rows: 30 },
    { columns: 160, rows: 24 },
  ]) {
    test(`${size.columns}x${size.rows}: every key of another screen is below a heading naming its screens, in its column`, async () => {
      const { frame, press } = await setup({ size });
      await press("?");
      await eventually(() => assert.match(frame(), /── on \w/));
      const lines = frame().split("\n").slice(2, -1);
      // Headings found where they are drawn: [row, column start, the screens it names].
      const headings: Array<{ row: number; x: number; where: string }> = [];
      lines.forEach((l, row) => {
        for (const m of l.matchAll(/── on ([A-Za-z, ]+?) (?:\(cont\.\) )?─/g)) headings.push({ row, x: m.index!, where: m[1] });
      });
      for (const h of headings) assert.ok((lines[h.row + 1] ?? "").slice(h.x, h.x + 12).trim() !== "", "a heading is never the last line of its column");
      let checked = 0;
      lines.forEach((l, row) => {
        for (const b of DEFAULT_BINDINGS.filter((x) => x.screens !== "all" && !x.screens.includes("race"))) {
          const i = l.indexOf(b.description);
          if (i < 0) continue;
          checked++;
          // The nearest heading above it in its own column: the rightmost column starting at or
          // before it (a row may join two actions, "first item / last item", so its text runs on).
          const above = headings.filter((h) => h.row < row && h.x <= i).sort((p, q) => q.x - p.x || q.row - p.row)[0];
          assert.ok(above, `"${b.description}" is under a heading:\n${lines.join("\n")}`);
          const names = (b.screens as string[]).map(
            (x) => ({ problems: "Problems", relay: "Relay", results: "Results", settings: "Models", tree: "Tree", tokens: "Tokens" })[x],
          );
          // Grouped by screen where that fits; where it would push keys off the screen, one heading.
          if (above.where !== "other screens") assert.equal(above.where, names.join(", "), `"${b.description}" is listed under the screens it belongs to`);
        }
      });
      assert.ok(checked >= 8, `found ${checked} keys of other screens`);
    });
  }
});

describe("prompt: editing keys in one burst", () => {
  test("n, then Backspace, 3 and Enter in one chunk: 3 steps", async () => {
    const { driver, press } = await setup();
    await press("n");
    await press("\u007f3\r");
    await eventually(() =>
      assert.deepEqual(
        driver.calls.find((c) => c[0] === "runSteps"),
        ["runSteps", 3],
      ),
    );
  });

  test("n with Backspace and the number in the same chunk", async () => {
    const { driver, press } = await setup();
    await press("n\u007f\u007f12\r");
    await eventually(() =>
      assert.deepEqual(
        driver.calls.find((c) => c[0] === "runSteps"),
        ["runSteps", 12],
      ),
    );
  });

  test("ctrl+w, ctrl+a, ctrl+k, ctrl+e, ctrl+d and ctrl+b inside a burst edit the line as typed", async () => {
    const { driver, press } = await setup();
    // "one two" → ctrl+w → "one " → "one three" → ctrl+a, ctrl+k clears → "Four." → ctrl+b twice, ctrl+d → "Fou." → ctrl+e "!"
    await press("wone two\u0017three\u0001\u000bFour.\u0002\u0002\u0004\u0005!\r");
    await eventually(() =>
      assert.deepEqual(
        driver.calls.find((c) => c[0] === "write"),
        ["write", "Fou.!"],
      ),
    );
  });

  test("ctrl+c inside a burst closes the prompt without submitting", async () => {
    const { driver, press, frame } = await setup();
    // The "p" after it is a command only once the prompt is closed: its answer marks that moment.
    await press("wabc\u0003p");
    await eventually(() => assert.match(frame(), /no auto-run to pause/));
    assert.doesNotMatch(frame(), /your sentence:/);
    assert.ok(!driver.calls.some((c) => c[0] === "write"));
  });
});

describe("replayed session on the race screen", () => {
  const chain: Chain = {
    sentences: [
      {
        text: "One.",
        author: "alpha",
        decision: "evaluator",
        candidates: [{ id: "alpha#0", generator: "alpha", sampleIndex: 0, text: "One.", raw: "One.", scores: [], meanPerplexity: 2, endOfThought: false }],
        evaluatorPick: "alpha#0",
        acceptedId: "alpha#0",
        at: "t",
      },
      { text: " Two.", author: "human", decision: "human-written", candidates: [], at: "t" },
    ],
    finished: false,
  };

  test("the step line says replay and how to go live; a follows the record; L continues live", async () => {
    const { store, frame, press, settle } = await setup({ replay: chain });
    await settle();
    await eventually(() => assert.match(frame(), /replay 0\/2 · L: live/));
    assert.match(frame(), /alpha#0 +One\./);
    await press("a");
    await settle();
    await eventually(() => assert.match(frame(), /replay 1\/2 · L: live/));
    assert.match(frame(), /chain: 1 sentence /);
    await press("L");
    await eventually(() => assert.equal(store.getState().replay, undefined));
    await settle();
    await eventually(() => assert.doesNotMatch(frame(), /replay \d/));
    assert.equal(store.getState().chain.sentences.length, 1);
  });
});

test("counts are singular for one", () => {
  assert.equal(count(1, "sentence"), "1 sentence");
  assert.equal(count(0, "sentence"), "0 sentences");
  assert.equal(count(2, "step"), "2 steps");
});
