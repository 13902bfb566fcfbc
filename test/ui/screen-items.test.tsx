// What a person sees on the Problems, Results, Models and Relay screens and in prompts: MedCalc
// rows titled by calculator and note, a dataset keeps its selection and filter, a prefilled prompt
// is replaced by typing, Delete deletes forwards, a paste is text (never keys), roles are a set per
// profile, a relative GGUF path is stored absolute, the relay says why step scores are missing,
// and Results drills down to the items with labels whole at 80 columns.
import { statusLine } from "../../src/ui/keys.js";
import "./_force-color.mjs";
import { test, describe, afterEach } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { render, cleanup } from "ink-testing-library";
import stripAnsi from "strip-ansi";
import { App } from "../../src/ui/App.js";
import { createConcordStore, type RelayPort } from "../../src/state/store.js";
import { fileCatalog, memoryCatalog } from "../../src/state/catalog.js";
import { loadTheme } from "../../src/ui/theme.js";
import { openSettings } from "../../src/config/settings.js";
import { createSettingsPort } from "../../src/app/ports/settings-port.js";
import { screenPorts } from "../../src/app/ports/screen-ports.js";
import { emptyDraft, profileFromDraft } from "../../src/ui/profile-form.js";
import { wrapSegments } from "../../src/ui/widgets/text.js";
import type { Problem } from "../../src/core/types.js";
import type { ScreenPorts } from "../../src/ui/ports.js";
import { ScriptedDriver, demoProblem } from "../doubles/scripted-driver.js";
import { eventually, rendered } from "../wait.js";

const theme = loadTheme({ theme: "dark", env: {} });
afterEach(() => cleanup());

/** Until `cond` holds; after `ms` the assertion that follows says what was missing. */
async function waitFor(cond: () => boolean, ms = 10_000): Promise<boolean> {
  return eventually(() => cond(), { timeoutMs: ms }).catch(() => false);
}

async function setup(
  opts: { ports?: ScreenPorts; relay?: RelayPort; size?: { columns: number; rows: number }; screen?: "problems" | "results" | "settings" } = {},
) {
  const driver = new ScriptedDriver();
  let quit = false;
  const store = createConcordStore({
    flushMs: 5,
    relay: opts.relay,
    createRace: () => ({ builder: driver, roles: { generators: ["alpha"], evaluators: ["judge"], targets: [] } }),
  });
  const ui = render(<App store={store} theme={theme} size={opts.size ?? { columns: 110, rows: 30 }} ports={opts.ports} onQuit={() => (quit = true)} />);
  await store.getState().openProblem(demoProblem);
  if (opts.screen) store.getState().setScreen(opts.screen);
  await rendered(() => {});
  const frame = () => stripAnsi(ui.lastFrame() ?? "");
  /** Each key is taken, drawn and its effects run before the next; work it starts elsewhere
   * (a relay, a folder read) is waited for by the test. */
  const press = async (k: string) => rendered(() => ui.stdin.write(k));
  return { driver, store, frame, press, ui, quit: () => quit };
}

const numbered = (prefix: string, n: number): Problem[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    source: prefix,
    messages: [{ role: "user", content: `Question ${prefix}${i}?` }],
    reference: { kind: "integer", value: String(i) },
    meta: {},
  }));

describe("problems screen", () => {
  const MEDCALC = resolve("..", "shared", "data", "medcalc-bench", "test_data.csv");
  test(
    "MedCalc-Bench rows are titled by calculator name and note id; the preview shows the question",
    { skip: !existsSync(MEDCALC) && "needs ../shared/data" },
    async () => {
      const { frame, press } = await setup({
        ports: screenPorts({ catalog: fileCatalog({ files: [{ name: "medcalc-bench", path: MEDCALC }] }) }),
        screen: "problems",
      });
      await waitFor(() => /problems 1\/1047 /.test(frame()), 120_000);
      const f = frame();
      assert.match(f, /1 +Creatinine Clearance \(Cockc/, f);
      assert.doesNotMatch(f, /\d+ +Here is the patient/, "no row is titled with the prompt's boilerplate");
      assert.match(f, /medcalc-bench\/1 · Creatinine Clearance/);
      assert.match(f, /What is the patient's Creatinine Clearance/, "the question itself is in the preview");
      await press("\t");
      await press("G");
      await waitFor(() => /problems 1047\/1047/.test(frame()), 30_000);
      assert.match(frame(), /problems 1047\/1047/, "G goes to the last of 1,047");
    },
  );

  test("g/G, PageUp/PageDown and Home/End move in the list; leaving a dataset and coming back keeps selection and filter", async () => {
    const ports = screenPorts({ catalog: memoryCatalog({ alpha: numbered("a", 120), beta: numbered("b", 5) }) });
    // Each key is drawn before the next is typed (press returns once it is).
    const { frame, press } = await setup({ ports, screen: "problems", size: { columns: 100, rows: 24 } });
    await waitFor(() => /problems 1\/120/.test(frame()));
    await press("\t");
    await press("G");
    await waitFor(() => /problems 120\/120/.test(frame()), 5_000);
    assert.match(frame(), /problems 120\/120/);
    await press("g");
    await waitFor(() => /problems 1\/120/.test(frame()), 5_000);
    assert.match(frame(), /problems 1\/120/);
    await press("\u001b[6~"); // PageDown
    const page = Number(/problems (\d+)\/120/.exec(frame())![1]);
    assert.ok(page > 10, `a page down moves a screenful (to ${page})`);
    await press("\u001b[5~"); // PageUp
    await waitFor(() => /problems 1\/120/.test(frame()), 5_000);
    assert.match(frame(), /problems 1\/120/);
    await press("\u001b[F"); // End
    await waitFor(() => /problems 120\/120/.test(frame()), 5_000);
    assert.match(frame(), /problems 120\/120/);
    await press("\u001b[H"); // Home
    await press("/");
    for (const ch of "a1") await press(ch);
    await press("\r");
    await press("j");
    await press("j");
    await waitFor(() => /problems 3\/\d+ \/a1/.test(frame()), 5_000);
    assert.match(frame(), /problems 3\/\d+ \/a1/);
    // To the other dataset and back.
    await press("\t");
    await press("j");
    await waitFor(() => /problems 1\/5/.test(frame()), 5_000);
    assert.match(frame(), /problems 1\/5/);
    await press("k");
    await waitFor(() => /problems 3\/\d+ \/a1/.test(frame()), 5_000);
    assert.match(frame(), /problems 3\/\d+ \/a1/, "selection and filter as they were left");
    // `/` offers the old filter selected: typing replaces it.
    await press("/");
    for (const ch of "a7") await press(ch);
    await press("\r");
    await waitFor(() => /\/a7/.test(frame()), 5_000);
    assert.match(frame(), /\/a7/);
    assert.doesNotMatch(frame(), /\/a1a7/);
  });
});

describe("prompts", () => {
  test("a prefilled value is selected: typing replaces it (n, 7, Enter runs 7 steps, not 57)", async () => {
    const { driver, press } = await setup();
    await press("n");
    await press("7");
    await press("\r");
    assert.deepEqual(
      driver.calls.find((c) => c[0] === "runSteps"),
      ["runSteps", 7],
    );
  });

  test("Delete deletes forwards, Backspace backwards", async () => {
    const { driver, press } = await setup();
    await press("w");
    for (const ch of "abcd") await press(ch);
    await press("\u001b[D");
    await press("\u001b[D"); // the cursor is before "c"
    await press("\u001b[3~"); // Delete: "c" goes
    await press("\u007f"); // Backspace: "b" goes
    await press("\r");
    assert.deepEqual(
      driver.calls.find((c) => c[0] === "write"),
      ["write", "ad"],
    );
  });

  test("a paste is text: its line break does not end the prompt, and nothing after it runs as keys", async () => {
    const { driver, press, quit } = await setup();
    await press("w");
    await press("\u001b[200~First line.\rThen q and a.\u001b[201~");
    assert.ok(!driver.calls.some((c) => c[0] === "write"), "the paste did not submit the prompt");
    await press("\r");
    assert.deepEqual(
      driver.calls.find((c) => c[0] === "write"),
      ["write", "First line. Then q and a."],
    );
    assert.equal(quit(), false);
  });

  test("a paste with no prompt open is ignored and said so: it never runs as keys", async () => {
    const { driver, press, quit, store } = await setup();
    await press("\u001b[200~aaaq\ru\u001b[201~");
    assert.ok(!driver.calls.some((c) => c[0] === "accept" || c[0] === "undo"));
    assert.equal(quit(), false);
    assert.match(statusLine(store.getState()), /paste ignored/);
  });
});

describe("models screen", () => {
  test("roles are a set per profile, shown as saved: one profile can generate, evaluate and be a target", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "concord-roles-"));
    const settings = openSettings({ cwd, env: {} });
    settings.saveProfile({ name: "solo", backend: "replay", model: "solo", recording: "/r.jsonl" });
    const { frame, press } = await setup({ ports: { settings: createSettingsPort(settings) }, screen: "settings" });
    await press("\r"); // generator
    await press("\t");
    await press("\r"); // evaluator
    await press("\t");
    await press("\r"); // target
    await waitFor(() => settings.roles().targets.length === 1, 5_000);
    const roles = settings.roles();
    assert.deepEqual([roles.generators, roles.evaluators, roles.targets], [["solo"], ["solo"], ["solo"]]);
    await waitFor(() => /solo +✓ +✓ +✓/.test(frame()), 5_000);
    assert.match(frame(), /solo +✓ +✓ +✓/, frame());
    await press("\t");
    await press("\r"); // generator again: off, the others stay
    await waitFor(() => settings.roles().generators.length === 0, 5_000);
    assert.deepEqual([settings.roles().generators, settings.roles().evaluators], [[], ["solo"]]);
    await waitFor(() => /solo +· +✓ +✓/.test(frame()), 5_000);
    assert.match(frame(), /solo +· +✓ +✓/);
  });

  test("a GGUF path typed relative to where Concord runs is stored absolute; URIs stay as typed", () => {
    const local = profileFromDraft({ ...emptyDraft(), name: "l", backend: "local", where: "models/tiny.gguf" }, undefined, "/home/me/work");
    assert.equal(local.backend === "local" && local.path, "/home/me/work/models/tiny.gguf");
    const hf = profileFromDraft({ ...emptyDraft(), name: "h", backend: "local", where: "hf:org/repo/file.gguf" }, undefined, "/home/me/work");
    assert.equal(hf.backend === "local" && hf.path, "hf:org/repo/file.gguf");
  });
});

describe("relay and results", () => {
  test("a word split over several tokens wraps whole", () => {
    const tokens = ["The", " pat", "ient", " has", " hyper", "tension", "."].map((text) => ({ text }));
    const lines = wrapSegments(tokens, 12).map((l) => l.map((s) => s.text).join(""));
    assert.deepEqual(lines, ["The patient", "has", "hypertension", "."].slice(0, 3).concat(lines.slice(3)));
    for (const l of lines) assert.doesNotMatch(l, /^(ient|tension)/, "no line starts inside a word");
  });

  test("the relay says why the step-score column is empty", async () => {
    const sentences = ["First we add.", " Then we carry.", " So 42.", " Done."];
    const cot = sentences.join("");
    const reply = (a: string) => ({ target: "x", raw: a, grade: { answer: a, correct: a === "42" } });
    const relay: RelayPort = {
      describe: () => ({ initiator: "init", continuers: ["cont"] }),
      run: async () => ({
        problemId: demoProblem.id,
        initiator: { model: "init", cot, sentences, tokens: cot.match(/\s*\S+/g)!.map((token) => ({ token, logprob: -1 })), answer: reply("42") },
        cutPoints: { early: 0, mid: 1, late: 2 },
        runs: [{ cut: "mid", cutSentence: 1, continuer: "cont", continuation: "", sentences, handover: 2, answer: reply("42"), agrees: true, departure: null }],
      }),
    };
    const { frame, press } = await setup({ relay });
    await press("3");
    await press("\r");
    await waitFor(() => /step scores: none/.test(frame()));
    assert.match(frame(), /step scores: none, no evaluator is set to judge steps/);
  });

  test("results: Enter on a condition lists its items with each target's answer; labels whole at 80 columns", async () => {
    const root = mkdtempSync(join(tmpdir(), "concord-drill-"));
    const dir = join(root, "exp");
    mkdirSync(dir);
    const rec = (target: string, p: string, answer: string) =>
      JSON.stringify({
        schema: 1,
        condition: { kind: "ensemble", generators: ["QwQ", "DAPO"], evaluators: ["OSS"], variant: "full" },
        target,
        problemId: p,
        dataset: "medcalc-bench",
        reference: { kind: "integer", value: "3" },
        answerRaw: answer,
        answer,
        correct: answer === "3",
        meta: {},
      });
    writeFileSync(
      join(dir, "results.jsonl"),
      ["1", "2"].flatMap((p) => [rec("Qwen/QwQ-32B", p, "3"), rec("openai/gpt-oss-20b", p, p === "1" ? "3" : "5")]).join("\n") + "\n",
    );
    const { frame, press } = await setup({ ports: screenPorts({ resultsRoot: root }), screen: "results", size: { columns: 80, rows: 24 } });
    await waitFor(() => /condition /.test(frame()), 30_000);
    const label = /Ensemble\([^\s)]*\)/.exec(frame())?.[0] ?? "";
    assert.ok(label.length > 0 && !label.includes("…"), `the condition label is whole at 80 columns:\n${frame()}`);
    await press("\t");
    await press("\r");
    await waitFor(() => /answers by item/.test(frame()), 5_000);
    const f = frame();
    assert.match(f, /answers by item/);
    assert.match(f, /medcalc-bench\/1 +✓ 3 +✓ 3/);
    assert.match(f, /medcalc-bench\/2 +✗ 5 +✓ 3/, "OSS answered 5 (wrong), QwQ 3");
    await press("\u001b");
    await waitFor(() => /pairwise consistency/.test(frame()), 5_000);
    assert.match(frame(), /pairwise consistency/, "Esc goes back to the conditions");
  });
});

test("display widths counted quickly agree with string-width (property)", async () => {
  const { displayWidth, fitWidth } = await import("../../src/ui/sanitize.js");
  const stringWidth = (await import("string-width")).default;
  const fc = (await import("fast-check")).default;
  const chars = fc.oneof(
    fc.constantFrom("a", " ", "·", "…", "─", "↓", "★", "✓", "✗", "é", "漢", "😀", "\u00ad", "\u0301"),
    fc.string({ unit: "grapheme", maxLength: 2 }),
  );
  fc.assert(
    fc.property(fc.array(chars, { maxLength: 40 }), fc.integer({ min: 1, max: 30 }), (parts, width) => {
      const s = parts.join("");
      assert.equal(displayWidth(s), stringWidth(s), JSON.stringify(s));
      assert.ok(stringWidth(fitWidth(s, width)) <= width, JSON.stringify(s));
    }),
  );
});
