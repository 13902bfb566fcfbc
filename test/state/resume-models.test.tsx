// Resuming a session under other models says what differs, on the Race, instead of swapping
// them in silently (#12.15).
import { test } from "node:test";
import assert from "node:assert/strict";
import { render, cleanup } from "ink-testing-library";
import stripAnsi from "strip-ansi";
import { App } from "../../src/ui/App.js";
import { createConcordStore } from "../../src/state/store.js";
import { loadTheme } from "../../src/ui/theme.js";
import { ScriptedDriver, demoProblem } from "../doubles/scripted-driver.js";
import { eventually } from "../wait.js";

test("a session saved with other models resumes with a line saying which roles run on what now", async () => {
  const driver = new ScriptedDriver();
  const store = createConcordStore({
    flushMs: 5,
    createRace: () => ({ builder: driver, roles: { generators: ["local"], evaluators: ["local"], targets: ["local"] } }),
  });
  const ui = render(<App store={store} theme={loadTheme({ theme: "mono", env: {} })} size={{ columns: 120, rows: 30 }} />);
  try {
    const chain = { sentences: [{ text: "One.", author: "qwq", decision: "evaluator" as const, candidates: [], at: "" }], finished: false };
    await store.getState().openProblem(demoProblem, { chain, roles: { generators: ["qwq", "dapo"], evaluators: ["oss"], targets: ["local"] } });
    assert.equal(store.getState().modelsChanged, "resumed on other models: generators qwq,dapo → local; evaluators oss → local");
    await eventually(() => assert.match(stripAnsi(ui.lastFrame() ?? ""), /resumed on other models: generators qwq,dapo → local; evaluators oss → local/));
    // The same models: nothing to say.
    await store.getState().openProblem(demoProblem, { chain, roles: { generators: ["local"], evaluators: ["local"], targets: ["local"] } });
    assert.equal(store.getState().modelsChanged, undefined);
  } finally {
    cleanup();
  }
});
