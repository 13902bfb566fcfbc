// Cancellations in the store: a cancelled step can no longer be chosen from; a superseded
// targets round does not stop an auto-run; pause needs an auto-run to pause.
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyEvents, createConcordStore, type ConcordData } from "../../src/state/store.js";
import { ScriptedDriver, demoProblem, tick } from "../doubles/scripted-driver.js";

test("a superseded targets round leaves the auto-run going; a cancelled step ends it and closes the decision", () => {
  const base = createConcordStore().getState() as ConcordData;
  const running: ConcordData = { ...base, auto: { mode: "steps", remaining: 10 }, race: { step: 3, lanes: [], awaiting: true, generating: false, pick: "a#0" } };
  const t = applyEvents(running, [{ type: "cancelled", what: "targets at 3 sentences" }]);
  assert.deepEqual(t.auto, { mode: "steps", remaining: 10 });
  assert.equal(t.race?.awaiting, true);
  const s = applyEvents(running, [{ type: "cancelled", what: "step 4" }]);
  assert.deepEqual(s.auto, { mode: "off" });
  assert.equal(s.race?.awaiting, false);
  assert.equal(s.status, "cancelled step 4 (s starts a new one)");
});

test("after Esc on a waiting step, choosing says how to go on instead of failing in the engine", async () => {
  const driver = new ScriptedDriver();
  const store = createConcordStore({ flushMs: 5, createRace: () => ({ builder: driver, roles: { generators: ["a"], evaluators: ["j"], targets: [] } }) });
  await store.getState().openProblem(demoProblem);
  driver.stream("a#0", ["Six sevens."], 2);
  driver.decide("a#0");
  store.getState().flush();
  store.getState().cancel();
  await tick(20);
  store.getState().flush();
  store.getState().choose();
  assert.equal(store.getState().status, "no step is open: s starts the next one");
  store.getState().acceptPick();
  assert.ok(!driver.calls.some((c) => c[0] === "accept"), "nothing reached the engine");
  store.getState().pause();
  assert.equal(store.getState().status, "no auto-run to pause (n or G starts one)");
  assert.ok(!driver.calls.some((c) => c[0] === "pause"));
});
