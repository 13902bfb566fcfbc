// Component tests of the Relay, Results, Problems and Help screens (ink-testing-library).
import "./_force-color.mjs";
import { test, describe, afterEach } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { render, cleanup } from "ink-testing-library";
import stripAnsi from "strip-ansi";
import stringWidth from "string-width";
import { App } from "../../src/ui/App.js";
import { screenPorts } from "../../src/app/ports/screen-ports.js";
import { createConcordStore, type RelayPort } from "../../src/state/store.js";
import { fileCatalog } from "../../src/state/catalog.js";
import { loadTheme } from "../../src/ui/theme.js";
import { DEFAULT_BINDINGS } from "../../src/ui/keys.js";
import { tokensBySentence } from "../../src/ui/screens/Relay.js";
import { heatRole } from "../../src/ui/screens/Results.js";
import type { RelayResult } from "../../src/engine/relay.js";
import type { Problem } from "../../src/core/types.js";
import { ScriptedDriver, demoProblem } from "../doubles/scripted-driver.js";
import { statusLine as statusOf } from "../../src/ui/keys.js";
import { eventually } from "../wait.js";

const theme = loadTheme({ theme: "dark", env: {} });
afterEach(() => cleanup());

const sentences = ["First we add.", " Then we carry the one.", " So the sum is 42.", " Done."];
const cot = sentences.join("");
/** A relay as runRelay returns it: the initiator's chain with token log-probs, one continuer that departs. */
function scriptedResult(cut: number): RelayResult {
  const tokens = cot.match(/\s*\S+/g)!.map((token, i) => ({ token, logprob: -(i % 4) }));
  const hybrid = [...sentences.slice(0, cut + 1), " Wait, it is 41.", " Answer 41."];
  return {
    problemId: demoProblem.id,
    initiator: {
      model: "init",
      cot,
      sentences,
      tokens,
      answer: { target: "init", raw: "42", grade: { answer: "42", correct: true } },
      stepScores: [1, 0.5, 1, null],
    },
    cutPoints: { early: 0, mid: 1, late: 2 },
    runs: [
      {
        cut,
        cutSentence: cut,
        continuer: "cont",
        continuation: hybrid.slice(cut + 1).join(""),
        sentences: hybrid,
        handover: cut + 1,
        answer: { target: "cont", raw: "41", grade: { answer: "41", correct: false } },
        agrees: false,
        stepScores: hybrid.map(() => 0.5),
        departure: { sentence: cut + 1, answer: "41" },
      },
    ],
    scorer: "judge:init",
  };
}

/** A RelayPort double that answers from `scriptedResult` when released, and records what it was asked. */
function scriptedRelay() {
  const calls: Array<{ cuts: Array<string | number>; signal: AbortSignal }> = [];
  let release: (() => void) | undefined;
  const port: RelayPort = {
    describe: () => ({ initiator: "init", continuers: ["cont"] }),
    run: (_problem, req) => {
      calls.push({ cuts: req.cuts, signal: req.signal });
      req.onEvent({ type: "progress", done: 0, total: 1, label: "init writes the chain" });
      return new Promise((resolve, reject) => {
        req.signal.addEventListener("abort", () => reject(Object.assign(new Error("cancelled"), { name: "AbortError" })));
        release = () => resolve(scriptedResult(typeof req.cuts[0] === "number" ? req.cuts[0] : 1));
      });
    },
  };
  return { port, calls, release: () => release?.() };
}

async function setup(
  opts: {
    relay?: RelayPort;
    catalog?: ReturnType<typeof fileCatalog>;
    resultsRoot?: string;
    resultsDirs?: string[];
    size?: { columns: number; rows: number };
  } = {},
) {
  const driver = new ScriptedDriver();
  const opened: Problem[] = [];
  const store = createConcordStore({
    flushMs: 5,
    relay: opts.relay,
    createRace: (p) => {
      opened.push(p);
      return { builder: driver, roles: { generators: ["alpha"], evaluators: ["judge"], targets: [] } };
    },
  });
  const ui = render(
    <App
      store={store}
      theme={theme}
      size={opts.size ?? { columns: 110, rows: 30 }}
      ports={screenPorts({ catalog: opts.catalog, resultsRoot: opts.resultsRoot ?? join(tmpdir(), "concord-no-results"), resultsDirs: opts.resultsDirs })}
    />,
  );
  await store.getState().openProblem(demoProblem);
  const frame = () => stripAnsi(ui.lastFrame() ?? "");
  await eventually(() => assert.match(frame(), /step 1/));
  /** Types keys, then waits until what they should do has happened. */
  const press = async (k: string, done: () => unknown) => {
    ui.stdin.write(k);
    await eventually(done);
  };
  return { store, ui, frame, press, opened };
}

describe("relay screen", () => {
  test("runs the relay, shades the initiator, shows the continuer's answer, step scores and departure", async () => {
    const relay = scriptedRelay();
    const { frame, press } = await setup({ relay: relay.port });
    await press("3", () => assert.match(frame(), /initiator init writes a chain; continuers cont/));
    await press("\r", () => assert.match(frame(), /running: init writes the chain/));
    assert.deepEqual(relay.calls[0].cuts, ["early", "mid", "late"]);
    relay.release();
    await eventually(() => assert.match(frame(), /◆ departs here/));
    const f = frame();
    assert.match(f, /initiator init: 4 sentences, answer "42" ✓/);
    assert.match(f, /cut after 2: mid/, "the mid cut is marked in the chain");
    assert.match(f, /cont "41" ✗ differs/);
    assert.match(f, /◆ departs here: answer "41"/);
    assert.match(f, /\s3\s+\.50 Wait, it is 41\./, "the continuer's own sentences carry their step scores");
  });

  test("a cut by hand runs from that sentence only; Esc cancels a run", async () => {
    const relay = scriptedRelay();
    const { frame, press, store } = await setup({ relay: relay.port });
    await press("3", () => assert.match(frame(), /initiator init writes a chain/));
    await press("\r", () => assert.equal(relay.calls.length, 1));
    relay.release();
    await eventually(() => assert.match(frame(), /initiator init: 4 sentences/));
    await press("l", () => assert.match(frame(), /cut after sentence 3 \(late\)/)); // by the key table
    await press("h", () => assert.match(frame(), /cut after sentence 2 \(mid\)/));
    await press("h", () => assert.match(frame(), /cut after sentence 1 \(early\)/));
    assert.match(frame(), /no continuation from sentence 1 yet/);
    await press("\r", () => assert.equal(relay.calls.length, 2));
    assert.deepEqual(relay.calls[1].cuts, [0]);
    await press("\u001b", () => assert.equal(store.getState().relay.status, "cancelled"));
    assert.equal(relay.calls[1].signal.aborted, true, "Esc aborts the engine's run");
    await eventually(() => assert.match(frame(), /cancelled/));
    assert.match(frame(), /cancelled/);
    // The earlier result is still there to read.
    assert.match(frame(), /initiator init: 4 sentences/);
  });

  test("tokens are grouped by the sentence they start in", () => {
    const tokens = [
      { token: "A b.", logprob: -1 },
      { token: " C", logprob: -2 },
      { token: " d.", logprob: -3 },
    ];
    const g = tokensBySentence("A b. C d.", ["A b.", " C d."], tokens)!;
    assert.deepEqual(
      g.map((x) => x.map((t) => t.token).join("")),
      ["A b.", " C d."],
    );
    assert.equal(tokensBySentence("other text", ["other text"], tokens), null, "tokens that do not spell the chain are not used");
  });
});

function record(kind: "transfer" | "empty", target: string, problemId: string, answer: string, correct: boolean) {
  return {
    schema: 1,
    condition: kind === "transfer" ? { kind, source: "Qwen/QwQ-32B", variant: "full" } : { kind, variant: "full" },
    target,
    problemId,
    dataset: "medcalc-bench",
    reference: { kind: "integer", value: "3" },
    answerRaw: answer,
    answer,
    correct,
    meta: {},
  };
}

describe("results screen", () => {
  test("lists results folders, shows conditions x metrics (paper and strict) and a coloured heatmap", async () => {
    const root = mkdtempSync(join(tmpdir(), "concord-results-"));
    const a = join(root, "exp-a");
    mkdirSync(a);
    const recs = [];
    for (const p of ["1", "2", "3", "4"]) {
      recs.push(
        record("transfer", "alpha", p, "3", true),
        record("transfer", "beta", p, "3", true),
        record("transfer", "gamma", p, p === "1" ? "3" : "9", p === "1"),
      );
      recs.push(record("empty", "alpha", p, "3", true), record("empty", "beta", p, p, p === "3"), record("empty", "gamma", p, "7", false));
    }
    writeFileSync(join(a, "results.jsonl"), recs.map((r) => JSON.stringify(r)).join("\n") + "\n{torn\n");
    const extra = mkdtempSync(join(tmpdir(), "concord-extra-"));
    const { frame, press, ui, store } = await setup({ resultsRoot: root, resultsDirs: [extra] });
    await press("4", () => assert.match(frame(), /paper +strict/));
    let f = frame();
    assert.match(f, /results folders 2/);
    assert.ok(f.includes(a) && f.includes(extra), "both the folder under the root and the one passed are listed");
    assert.match(f, /paper +strict/);
    assert.match(f, /Empty/);
    assert.match(f, /Transfer/);
    assert.match(statusOf(store.getState()), /1 bad line/, "the torn line is reported once");
    // Conditions: select the transfer row, the heatmap follows it.
    const before = f.split("pairwise consistency")[1];
    await press("\t", () => assert.notEqual(frame(), f));
    // The heatmap follows the selected condition.
    await press("j", () => assert.notEqual(frame().split("pairwise consistency")[1], before));
    f = frame();
    const alphaRow = f.split("\n").find((l) => /^alpha\s/.test(l.trim()) && /1\.00|0\.\d\d/.test(l))!;
    assert.ok(alphaRow, f);
    // Colour from theme roles: the agreeing pair is drawn with the "agree" role (green background).
    assert.match(ui.lastFrame()!, /\u001b\[42m(?:\u001b\[\d+m)*[^\u001b]*1\.00/);
    assert.equal(heatRole(0.9), "agree");
    assert.equal(heatRole(0.6), "warning");
    assert.equal(heatRole(0.1), "disagree");
  });
});

describe("problems screen", () => {
  test("a set loads lazily with a count, bad rows are one status line, filter, reveal, open", async () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-sets-"));
    const file = join(dir, "set.jsonl");
    const lines = Array.from({ length: 250 }, (_, i) => JSON.stringify({ id: `q${i}`, question: `What is ${i} plus 1?`, answer: String(i + 1) }));
    lines.splice(5, 0, "{not json", "{also not");
    writeFileSync(file, lines.join("\n") + "\n");
    const catalog = fileCatalog({ memory: { demo: [demoProblem] }, files: [{ name: "set.jsonl", path: file }], batch: 50 });
    const { frame, press, store, opened, ui } = await setup({ catalog });
    await press("1", () => assert.match(frame(), /set\.jsonl/));
    assert.match(frame(), /demo/);
    await press("j", () => assert.match(frame(), /problems 1\/250 /));
    let f = frame();
    assert.match(f, /problems 1\/250/, f);
    assert.match(statusOf(store.getState()), /set\.jsonl: 2 bad rows skipped \(first: .*line 6/);
    // Enter moves into the list (keys are taken in order, so the filter below applies there).
    ui.stdin.write("\r");
    await press("/", () => assert.match(frame(), /filter: /));
    let typed = "";
    for (const ch of "q17") {
      typed += ch;
      await press(ch, () => assert.match(frame(), new RegExp(`filter: ${typed}(?!\\w)`)));
    }
    await press("\r", () => assert.match(frame(), /problems 1\/11 \/q17/));
    f = frame();
    assert.match(f, /problems 1\/11 \/q17/, "q17 and q170-q179 match");
    assert.match(f, /What is 17 plus 1\?/);
    assert.match(f, /reference hidden \(v shows it\)/);
    await press("v", () => assert.match(frame(), /reference \(\w+\): 18/));
    await press("j", () => assert.match(frame(), /set\.jsonl\/q170/));
    assert.match(frame(), /reference hidden/, "the next problem's reference stays hidden");
    await press("k", () => assert.match(frame(), /set\.jsonl\/q17 /));
    await press("\r", () => assert.equal(opened.at(-1)?.id, "q17"));
    assert.equal(store.getState().screen, "race");
  });

  test("every candidate failing (a prompt too long for the model) gives one clear status line", async () => {
    const { store } = await setup();
    const message = "the prompt is 3268 tokens, more than the 2048-token context of model local";
    for (const id of ["alpha#0", "alpha#1"]) {
      store.getState().dispatch({
        type: "candidate-done",
        step: 0,
        candidate: { id, generator: "alpha", sampleIndex: 0, text: "", raw: "", scores: [], endOfThought: false, error: message },
      });
      store.getState().dispatch({ type: "error", source: "alpha", message });
    }
    store.getState().dispatch({ type: "awaiting-decision", step: 0 });
    store.getState().flush();
    assert.equal(statusOf(store.getState()), `error: step 1: no candidate could be made: ${message}`);
  });
});

describe("help overlay", () => {
  test("at 80x24 every description is readable in full and no line is wider than the terminal", async () => {
    const { frame, press } = await setup({ size: { columns: 80, rows: 24 } });
    const last = DEFAULT_BINDINGS.at(-1)!.description.replace(/\s+/g, "");
    await press("?", () => assert.ok(frame().replace(/\s+/g, "").includes(last)));
    const f = frame();
    assert.doesNotMatch(f, /more: enlarge the terminal/);
    for (const line of f.split("\n")) assert.ok(stringWidth(line) <= 80, `too wide: ${line}`);
    const squeezed = f.replace(/\s+/g, "");
    for (const b of DEFAULT_BINDINGS) {
      assert.ok(squeezed.includes(b.description.replace(/\s+/g, "")), `help shows "${b.description}" in full`);
    }
    assert.doesNotMatch(f, /…/, "nothing is cut off");
  });
});
