// Every screen at any terminal size down to 60x18: a property test renders each one, filled with
// long data (many problems, continuers, conditions, profiles), at random sizes and checks that no
// frame is taller or wider than the terminal. What does not fit is folded ("+N more"), never cut
// off the bottom of the screen.
import "./_force-color.mjs";
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { render, cleanup } from "ink-testing-library";
import stripAnsi from "strip-ansi";
import stringWidth from "string-width";
import { App } from "../../src/ui/App.js";
import { createConcordStore, type RelayPort } from "../../src/state/store.js";
import { memoryCatalog } from "../../src/state/catalog.js";
import { loadTheme } from "../../src/ui/theme.js";
import type { Problem } from "../../src/core/types.js";
import type { RelayResult } from "../../src/engine/relay.js";
import type { Screen } from "../../src/ui/keys.js";
import type { ProfileRow, ScreenPorts, SettingsPort } from "../../src/ui/ports.js";
import { screenPorts } from "../../src/app/ports/screen-ports.js";
import { medcalcMessages } from "../../src/problems/medcalc.js";
import { ScriptedDriver, demoProblem } from "../doubles/scripted-driver.js";
import { eventually } from "../wait.js";

const theme = loadTheme({ theme: "dark", env: {} });
afterEach(() => cleanup());

const words = (n: number, seed: number) =>
  Array.from({ length: n }, (_, i) => ["patient", "hypertension", "creatinine", "clearance", "mg/dL", "score"][(i * 7 + seed) % 6]).join(" ");

const problems: Problem[] = Array.from({ length: 300 }, (_, i) => ({
  id: String(i + 1),
  source: "medcalc-bench",
  messages: medcalcMessages(words(120, i), "What is the patient's Creatinine Clearance using the Cockcroft-Gault Equation in terms of mL/min?"),
  reference: { kind: "decimal", value: "41.2", lower: 40, upper: 42 },
  meta: {
    question: "What is the patient's Creatinine Clearance using the Cockcroft-Gault Equation in terms of mL/min?",
    calculatorName: "Creatinine Clearance (Cockcroft-Gault Equation)",
    noteId: `pmc-${i}`,
  },
}));

function relayResult(): RelayResult {
  const sentences = Array.from({ length: 14 }, (_, i) => ` Step ${i + 1}: the ${words(9, i)} is considered.`);
  const cot = sentences.join("");
  const tokens = cot.match(/\s*\S+/g)!.map((token, i) => ({ token, logprob: -(i % 5) / 2 }));
  const reply = (target: string, answer: string, correct: boolean) => ({ target, raw: answer, grade: { answer, correct } });
  return {
    problemId: demoProblem.id,
    initiator: { model: "initiator-with-a-long-name", cot, sentences, tokens, answer: reply("init", "42", true) },
    cutPoints: { early: 2, mid: 6, late: 10 },
    runs: ["cont-a", "cont-b", "cont-c", "cont-d"].map((continuer, k) => ({
      cut: "mid" as const,
      cutSentence: 6,
      continuer,
      continuation: "",
      sentences: [...sentences.slice(0, 7), ...sentences.slice(0, 9)],
      handover: 7,
      answer: reply(continuer, k % 2 ? "41" : "42", k % 2 === 0),
      agrees: k % 2 === 0,
      departure: k % 2 ? { sentence: 9, answer: "41" } : null,
    })),
  };
}

function settingsPort(): SettingsPort {
  const rows: ProfileRow[] = Array.from({ length: 30 }, (_, i) => ({
    name: `profile-number-${i}`,
    backend: i % 2 ? "openai" : "local",
    model: `some/very-long-model-name-${i}-Instruct-GGUF`,
    apiKeyEnv: i % 2 ? "OPENAI_API_KEY" : undefined,
    roles: i % 3 === 0 ? ["generator", "evaluator", "target"] : ["target"],
    capabilities: "stream logprobs scoring prefill",
    saved: true,
  }));
  return { profiles: () => rows, toggleRole: () => {}, probe: async () => "ok", themes: ["dark"], theme: () => "dark", setTheme: () => {} };
}

function resultsRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "concord-sizes-"));
  const dir = join(root, "exp");
  mkdirSync(dir);
  const targets = ["Qwen/QwQ-32B", "BytedTsinghua-SIA/DAPO-Qwen-32B", "openai/gpt-oss-20b", "open-thoughts/OpenThinker-7B", "NousResearch/nrr"];
  const lines: string[] = [];
  for (const source of ["QwQ", "DAPO", "OSS", "OpenThinker", "NRR", "a-source-with-a-very-long-name-indeed"])
    for (const variant of ["full", "without-answer"])
      for (const t of targets)
        for (const p of ["1", "2", "3"])
          lines.push(
            JSON.stringify({
              schema: 1,
              condition: { kind: "transfer", source, variant },
              target: t,
              problemId: p,
              dataset: "medcalc-bench",
              reference: { kind: "integer", value: "3" },
              answerRaw: p,
              answer: p,
              correct: p === "3",
              meta: {},
            }),
          );
  writeFileSync(join(dir, "results.jsonl"), lines.join("\n") + "\n");
  return root;
}

/** What each screen must still show at any size: the selection, the cut, the key of help. */
const VISIBLE: Record<Screen | "help", RegExp | RegExp[]> = {
  problems: / 1 +Creatinine Clea[\s\S]*↓ \d+ more/,
  race: /step 1/,
  relay: [/cut after 7: mid/, /\+\d more continuers? \(widen|cont-d/],
  results: /▸ +Transfer|Transfer\(DAPO\)/,
  settings: /▸ +profile-numb/,
  help: /\? +show or hide this help/,
  tree: /▸ *● n0/,
  tokens: /no candidate on view/,
};

const SCREENS: Array<Screen | "help"> = ["problems", "race", "relay", "results", "settings", "tree", "tokens", "help"];

async function draw(screen: Screen | "help", size: { columns: number; rows: number }, ports: ScreenPorts): Promise<string> {
  const driver = new ScriptedDriver();
  const relay: RelayPort = { describe: () => ({ initiator: "init", continuers: ["a", "b", "c", "d"] }), run: async () => relayResult() };
  const store = createConcordStore({
    flushMs: 1,
    relay,
    createRace: () => ({ builder: driver, roles: { generators: ["alpha", "beta", "gamma"], evaluators: ["judge"], targets: ["t1", "t2", "t3"] } }),
  });
  const ui = render(<App store={store} theme={theme} size={size} ports={ports} />);
  await store.getState().openProblem({ ...demoProblem, messages: [{ role: "user", content: words(80, 3) }] });
  driver.startStep();
  for (let i = 0; i < 9; i++) driver.stream(`${["alpha", "beta", "gamma"][i % 3]}#${i}`, words(30, i).split(/(?= )/), 2 + i / 10);
  driver.decide("alpha#0");
  store.getState().flush();
  if (screen === "relay") {
    store.getState().setScreen("relay");
    store.getState().runRelay();
  } else if (screen === "help") store.getState().toggleHelp();
  else store.getState().setScreen(screen);
  // Until the screen's data is read and drawn: what it is about is in view and nothing is still
  // loading (a loading list or preview is a line holding only "…"; a line cut to fit also ends
  // in "…", so that alone is no sign of loading).
  const frame = await eventually(() => {
    const f = stripAnsi(ui.lastFrame() ?? "");
    if (/reading…|looking for|^\s*…\s*$/m.test(f)) return false;
    for (const re of [VISIBLE[screen]].flat()) if (!re.test(f)) return false;
    return f;
  }).catch(() => stripAnsi(ui.lastFrame() ?? ""));
  ui.unmount();
  return frame;
}

test("every screen fits every size from 60x18 up: no frame taller or wider than the terminal (property)", async () => {
  const ports = screenPorts({
    catalog: memoryCatalog({ "medcalc-bench": problems, demo: [demoProblem] }),
    resultsRoot: resultsRoot(),
    settings: settingsPort(),
  });
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...SCREENS), fc.integer({ min: 60, max: 160 }), fc.integer({ min: 18, max: 50 }), async (screen, columns, rows) => {
      const frame = await draw(screen, { columns, rows }, ports);
      const lines = frame.split("\n");
      assert.ok(lines.length <= rows, `${screen} at ${columns}x${rows}: ${lines.length} rows\n${frame}`);
      for (const l of lines) assert.ok(stringWidth(l) <= columns, `${screen} at ${columns}x${rows}: a line of ${stringWidth(l)} columns: ${l}`);
      // What the screen is about stays in view, folded rather than cut.
      for (const re of [VISIBLE[screen]].flat()) assert.match(frame, re, `${screen} at ${columns}x${rows}\n${frame}`);
    }),
    { numRuns: 24, seed: 12012 },
  );
});

test("the smallest size, 60x18, for each screen", async () => {
  const ports = screenPorts({ catalog: memoryCatalog({ "medcalc-bench": problems }), resultsRoot: resultsRoot(), settings: settingsPort() });
  for (const screen of SCREENS) {
    const frame = await draw(screen, { columns: 60, rows: 18 }, ports);
    const lines = frame.split("\n");
    assert.ok(lines.length <= 18, `${screen}: ${lines.length} rows\n${frame}`);
    for (const l of lines) assert.ok(stringWidth(l) <= 60, `${screen}: ${l}`);
  }
});
