// The Race as a researcher drives it: the selection is theirs, lanes keep their places, a
// cancel keeps what was written, the targets row stays, scores can be told apart, thinking
// models stream, the chain scrolls, and notices stay on their own screen.
import { test, describe, afterEach } from "node:test";
import assert from "node:assert/strict";
import { render, cleanup } from "ink-testing-library";
import stripAnsi from "strip-ansi";
import { App } from "../../src/ui/App.js";
import { createConcordStore } from "../../src/state/store.js";
import { loadTheme } from "../../src/ui/theme.js";
import { withOverrides } from "../../src/ui/keys.js";
import { MARK_CANCELLED, MARK_PICK, MARK_SELECTED } from "../../src/ui/screens/Race.js";
import type { ChainSentence } from "../../src/core/chain.js";
import { ScriptedDriver, demoProblem } from "../doubles/scripted-driver.js";
import { eventually } from "../wait.js";

const theme = loadTheme({ theme: "mono", env: {} });

async function setup(
  opts: {
    size?: { columns: number; rows: number };
    generators?: string[];
    targets?: string[];
    chain?: ChainSentence[];
    bindings?: ReturnType<typeof withOverrides>;
  } = {},
) {
  const driver = new ScriptedDriver(opts.chain ? { sentences: opts.chain, finished: false } : undefined);
  const store = createConcordStore({
    flushMs: 10,
    createRace: () => ({
      builder: driver,
      roles: { generators: opts.generators ?? ["alpha", "beta", "gamma"], evaluators: ["judge"], targets: opts.targets ?? ["t1", "t2"] },
    }),
  });
  const ui = render(<App store={store} theme={theme} size={opts.size ?? { columns: 100, rows: 30 }} bindings={opts.bindings} />);
  await store.getState().openProblem(demoProblem, opts.chain ? { chain: { sentences: opts.chain, finished: false } } : undefined);
  const frame = () => stripAnsi(ui.lastFrame() ?? "");
  await eventually(() => assert.match(frame(), /step 1/));
  /** Pushes the store's pending events out, then waits until `done` holds (an assertion, say). */
  const settle = async (done: () => unknown) => {
    store.getState().flush();
    await eventually(done);
  };
  /** Types a key, then waits until what it should do has happened. */
  const press = async (k: string, done: () => unknown) => {
    ui.stdin.write(k);
    await settle(done);
  };
  const laneLines = () =>
    frame()
      .split("\n")
      .filter((l) => /^[▸ ][★ ][✓ ] \S+#\d/.test(l));
  return { driver, store, ui, frame, settle, press, laneLines };
}

const token = (driver: ScriptedDriver, id: string, text: string, channel: "content" | "reasoning" = "content") =>
  driver.emit({ type: "candidate-token", step: driver.step, candidateId: id, generator: id.split("#")[0], text, channel });

afterEach(() => cleanup());

describe("the Race holds up", () => {
  test("scores arriving never move the cursor: Enter right after takes the candidate the person selected (#12.5)", async () => {
    const s = await setup();
    token(s.driver, "alpha#0", "Alpha says so.");
    token(s.driver, "beta#0", "Beta says so.");
    await s.settle(() => assert.equal(s.laneLines().length, 2));
    // The person selects beta#0.
    await s.press("j", () =>
      assert.ok(
        s
          .laneLines()
          .find((l) => l.includes("beta#0"))!
          .startsWith(MARK_SELECTED),
      ),
    );
    s.driver.stream("alpha#0", ["Alpha says so."], 2.0);
    s.driver.stream("beta#0", ["Beta says so."], 9.0);
    s.driver.decide("alpha#0"); // the evaluator picks alpha
    await s.settle(() =>
      assert.ok(
        s
          .laneLines()
          .find((l) => l.includes("alpha#0"))!
          .includes(MARK_PICK),
        s.frame(),
      ),
    );
    const beta = s.laneLines().find((l) => l.includes("beta#0"))!;
    const alpha = s.laneLines().find((l) => l.includes("alpha#0"))!;
    assert.ok(beta.startsWith(MARK_SELECTED), `the cursor stayed on beta:\n${s.frame()}`);
    assert.ok(alpha.includes(MARK_PICK) && !alpha.startsWith(MARK_SELECTED), "the pick is a mark");
    await s.press("\r", () => assert.ok(s.driver.calls.some((c) => c[0] === "accept")));
    assert.deepEqual(
      s.driver.calls.find((c) => c[0] === "accept"),
      ["accept", "beta#0"],
    );
  });

  test("lanes keep one order, by generator then sample, whatever order they arrive in (#12.2)", async () => {
    const s = await setup();
    token(s.driver, "gamma#0", "G");
    token(s.driver, "beta#1", "B1");
    token(s.driver, "alpha#0", "A");
    token(s.driver, "beta#0", "B0");
    await s.settle(() => assert.equal(s.laneLines().length, 4));
    assert.deepEqual(
      s.laneLines().map((l) => /(\S+#\d)/.exec(l)![1]),
      ["alpha#0", "beta#0", "beta#1", "gamma#0"],
    );
  });

  test("Esc keeps each lane's partial text, marked cancelled (#12.3)", async () => {
    const s = await setup();
    token(s.driver, "alpha#0", "Half of a sent");
    token(s.driver, "beta#0", "Another beginn");
    await s.settle(() => assert.equal(s.laneLines().length, 2));
    await s.press("\u001b", () => assert.equal(s.laneLines().filter((l) => l.includes(MARK_CANCELLED)).length, 2));
    const lanes = s.laneLines();
    assert.ok(
      lanes.some((l) => l.includes("Half of a sent") && l.includes(MARK_CANCELLED)),
      s.frame(),
    );
    assert.ok(
      lanes.some((l) => l.includes("Another beginn") && l.includes(MARK_CANCELLED)),
      s.frame(),
    );
  });

  test("with nine lanes streaming at 80x20 the targets row stays on screen and lanes fold (#12.4)", async () => {
    const s = await setup({ size: { columns: 80, rows: 20 }, generators: ["g"] });
    const rows: string[] = [];
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 9; i++) token(s.driver, `g#${i}`, `word${round} `);
      await s.settle(() => assert.match(s.frame(), new RegExp(`word${round}`)));
      rows.push(s.frame());
    }
    for (const f of rows) {
      assert.match(f, /── targets \(2\)/, f);
      assert.match(f, /\+\d+ more/, f);
      assert.ok(f.split("\n").length <= 20, `the frame fits the terminal:\n${f}`);
    }
  });

  test("perplexities show enough digits to tell candidates apart (#12.6)", async () => {
    const s = await setup();
    s.driver.stream("alpha#0", ["One."], 3.4412);
    s.driver.stream("beta#0", ["Two."], 3.4438);
    s.driver.decide("alpha#0");
    await s.settle(() => assert.ok(s.frame().includes(MARK_PICK)));
    assert.ok(
      s.laneLines().some((l) => l.includes("3.441")),
      s.frame(),
    );
    assert.ok(
      s.laneLines().some((l) => l.includes("3.444")),
      s.frame(),
    );
  });

  test("a thinking model's reasoning tokens stream into its lane (#12.1)", async () => {
    const s = await setup();
    token(s.driver, "alpha#0", "Let me think about the apples", "reasoning");
    await s.settle(() => assert.ok(s.laneLines().some((l) => l.includes("alpha#0"))));
    const lane = s.laneLines().find((l) => l.includes("alpha#0"))!;
    assert.match(lane, /thinking: Let me think about the apples/);
  });

  test("the selected candidate's line is labelled and an error is read whole there (#12.7)", async () => {
    const s = await setup({ size: { columns: 60, rows: 24 } });
    const error = "the server refused the request because the prompt has 9000 tokens and the context holds 4096";
    s.driver.emit({
      type: "candidate-done",
      step: 0,
      candidate: { id: "alpha#0", generator: "alpha", sampleIndex: 0, text: "", raw: "", scores: [], endOfThought: false, error },
    });
    await s.settle(() => assert.match(s.frame().replace(/\s+/g, " "), /selected alpha#0 \(failed\):/));
    const flat = s.frame().replace(/\s+/g, " ");
    assert.ok(flat.includes("context holds 4096"), `the whole error is on screen:\n${s.frame()}`);
  });

  test("PgUp scrolls a long chain back with a count of earlier sentences; PgDn returns (#12.14)", async () => {
    const chain: ChainSentence[] = Array.from({ length: 120 }, (_, i) => ({
      text: `Sentence number ${i + 1} is here.`,
      author: "alpha",
      decision: "evaluator",
      candidates: [],
      at: "",
    }));
    const s = await setup({ chain, size: { columns: 80, rows: 24 } });
    const flat = () => s.frame().replace(/\s+/g, " ");
    assert.match(flat(), /Sentence number 120 is here\./);
    await s.press("\u001b[5~", () => assert.match(s.frame(), /↑ \d+ earlier sentences · pageup\/pagedown scroll/));
    const back = s.frame();
    assert.doesNotMatch(back.replace(/\s+/g, " "), /Sentence number 120 is here\./);
    /** Presses `key` a page at a time, each press waited for, until `reached` or 40 pages. */
    const pageUntil = async (key: string, reached: RegExp) => {
      for (let i = 0; i < 40 && !reached.test(flat()); i++) {
        const before = s.frame();
        await s.press(key, () => assert.notEqual(s.frame(), before));
      }
    };
    await pageUntil("\u001b[5~", /Sentence number 1 is here\./);
    assert.match(flat(), /Sentence number 1 is here\./, "the first sentence can be reached");
    await pageUntil("\u001b[6~", /Sentence number 120 is here\./);
    assert.match(flat(), /Sentence number 120 is here\./);
  });

  test("replaying a session saved from a trace shows every candidate's text; the score column says which were not scored (#12.10)", async () => {
    const store = createConcordStore({ flushMs: 10 });
    const ui = render(<App store={store} theme={theme} size={{ columns: 100, rows: 30 }} />);
    const evaluator = "openai/gpt-oss-20b";
    const cand = (id: string, text: string, ppl?: number) => ({
      id,
      generator: id.split("#")[0],
      sampleIndex: Number(id.split("#")[1]),
      text,
      raw: text,
      endOfThought: false,
      scores: ppl === undefined ? [] : [{ evaluator, meanNll: Math.log(ppl), perplexity: ppl }],
      ...(ppl === undefined ? { error: `${evaluator}: not scored in the trace (it kept only the winner's score)` } : { meanPerplexity: ppl }),
    });
    const sentence: ChainSentence = {
      text: "Winner text.",
      author: "QwQ",
      decision: "evaluator",
      candidates: [cand("QwQ#0", "Winner text.", 1.8), cand("QwQ#1", "A loser's own words.")],
      evaluatorPick: "QwQ#0",
      acceptedId: "QwQ#0",
      at: "",
    };
    await store.getState().openProblem(demoProblem, {
      chain: { sentences: [sentence], finished: false },
      roles: { generators: ["QwQ"], evaluators: [evaluator], targets: [] },
      replay: true,
    });
    store.getState().flush();
    await eventually(() => assert.match(stripAnsi(ui.lastFrame() ?? ""), /QwQ#1.*not scored/));
    const f = stripAnsi(ui.lastFrame() ?? "");
    const loser = f.split("\n").find((l) => l.includes("QwQ#1"))!;
    assert.match(loser, /A loser's own words\./, f);
    assert.match(loser, /not scored\s*$/);
    assert.doesNotMatch(f, /\[.*not scored in the trace/);
  });

  test("a notice stays on its screen and names the key bound now (#12.25)", async () => {
    const s = await setup({ bindings: withOverrides({ "next-step": ["N"] }) });
    s.driver.stream("alpha#0", ["One."], 2);
    s.driver.decide("alpha#0");
    await s.settle(() => assert.ok(s.frame().includes(MARK_PICK)));
    const last = () => s.frame().trimEnd().split("\n").at(-1) ?? "";
    await s.press("\u001b", () => assert.match(last(), /cancelled step 1 \(N starts a new one\)/));
    await s.press("3", () => assert.match(s.frame(), /initiator|relay/i));
    assert.doesNotMatch(last(), /cancelled/, "the Race's notice is not shown on the Relay screen");
    await s.press("2", () => assert.match(last(), /cancelled step 1/));
  });
});
