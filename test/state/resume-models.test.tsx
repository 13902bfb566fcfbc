// Resuming a session under other models says what differs, on the Race, instead of swapping
// them in silently (#12.15).
import { test } from "node:test";
import assert from "node:assert/strict";
import { render, cleanup } from "ink-testing-library";
import stripAnsi from "strip-ansi";
import { App } from "../../src/ui/App.js";
import { targetsSummary } from "../../src/ui/screens/Targets.js";
import { createConcordStore } from "../../src/state/store.js";
import { loadTheme } from "../../src/ui/theme.js";
import { ScriptedDriver, demoProblem } from "../doubles/scripted-driver.js";
import { eventually } from "../wait.js";
import { ownRoles } from "../../src/app/race.js";
import type { OpenedModels } from "../../src/engine/models.js";

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

test("a session resumes on its own models when every one is available, else on the configured ones", () => {
  const profiles = [
    { name: "qwq", backend: "local", model: "qwq", path: "/m/qwq.gguf" },
    { name: "oss", backend: "local", model: "oss", path: "/m/oss.gguf" },
    { name: "local", backend: "local", model: "tiny", path: "/m/tiny.gguf" },
  ] as unknown as OpenedModels["profiles"];
  const models = { profiles, roles: { generators: ["local"], evaluators: ["local"], targets: ["local"], continuers: [] } };
  const saved = { generators: ["qwq"], evaluators: ["oss"], targets: ["qwq", "oss"] };
  assert.deepEqual(ownRoles(models, saved), saved);
  assert.deepEqual(ownRoles(models, { ...saved, models: { qwq: "/m/qwq.gguf", oss: "/m/oss.gguf" } }), saved);
  // One model missing, or a name that now points at another file: the configured roles.
  assert.deepEqual(ownRoles(models, { ...saved, targets: ["dapo"] }), models.roles);
  assert.deepEqual(ownRoles(models, { ...saved, models: { qwq: "/elsewhere/qwq.gguf" } }), models.roles);
  assert.deepEqual(ownRoles(models, undefined), models.roles);
});

test("resumed on other targets: the old targets' answers stay in the session, out of the new targets' panel", async () => {
  const driver = new ScriptedDriver();
  const store = createConcordStore({
    flushMs: 5,
    createRace: (_p, _c, prefer) => {
      seen.push(prefer);
      return { builder: driver, roles: { generators: ["local"], evaluators: ["local"], targets: ["t-new"] } };
    },
  });
  const seen: unknown[] = [];
  const chain = { sentences: [{ text: "One.", author: "qwq", decision: "evaluator" as const, candidates: [], at: "" }], finished: false };
  const grade = { answer: "7", correct: true };
  const answers = [
    { target: "t-old-a", chainLength: 1, raw: "7", grade },
    { target: "t-old-b", chainLength: 1, raw: "7", grade },
  ];
  const roles = { generators: ["qwq"], evaluators: ["oss"], targets: ["t-old-a", "t-old-b"] };
  const oldPoint = {
    chainLength: 1,
    pairs: { "t-old-a|t-old-b": true },
    consistency: 1,
    accuracy: 1,
    split: { consistentCorrect: 1, consistentWrong: 0, inconsistent: 0 },
  };
  await store.getState().openProblem(demoProblem, { chain, roles, targets: { answers, consistency: [oldPoint] } });
  await eventually(() => assert.match(store.getState().modelsChanged ?? "", /targets/));
  assert.deepEqual(seen, [roles], "the race was asked for the session's own models first");
  const t = store.getState().targets;
  assert.deepEqual(Object.keys(t.answers), [], "no old answer is shown as a new target's");
  assert.deepEqual(
    t.log.map((a) => a.target),
    ["t-old-a", "t-old-b"],
    "the old answers are kept in the session",
  );
  assert.match(store.getState().modelsChanged ?? "", /targets t-old-a,t-old-b → t-new/);
  // The old pair's consistency stays in the session, but is not the new panel's point or curve.
  assert.deepEqual(t.history, [oldPoint]);
  const shown = targetsSummary(t, ["t-new"], 1, 80);
  assert.equal(shown.snap, undefined);
  assert.equal(shown.spark, "");
  assert.match(shown.numbers, /no consistency yet/);
  assert.equal(targetsSummary(t, ["t-old-a", "t-old-b"], 1, 80).snap, oldPoint, "the old panel's own point");
  await store.getState().dispose();
});
