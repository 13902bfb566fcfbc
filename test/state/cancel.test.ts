// Cancellations in the store: a cancelled step can no longer be chosen from; a superseded
// targets round does not stop an auto-run; pause needs an auto-run to pause.
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyEvents, createConcordStore, type ConcordData } from "../../src/state/store.js";
import { ScriptedDriver, demoProblem } from "../doubles/scripted-driver.js";
import { eventually } from "../wait.js";
import { noticeLine, statusLine as statusOf, withOverrides } from "../../src/ui/keys.js";

test("a superseded targets round leaves the auto-run going; a cancelled step ends it and closes the decision", () => {
  const base = createConcordStore().getState() as ConcordData;
  const running: ConcordData = {
    ...base,
    auto: { mode: "steps", remaining: 10 },
    race: { step: 3, lanes: [], awaiting: true, generating: false, pick: "a#0" },
  };
  const t = applyEvents(running, [{ type: "targets-cancelled", chainLength: 3 }]);
  assert.deepEqual(t.auto, { mode: "steps", remaining: 10 });
  assert.equal(t.race?.awaiting, true);
  const s = applyEvents(running, [{ type: "step-cancelled", step: 3 }]);
  assert.deepEqual(s.auto, { mode: "off" });
  assert.equal(s.race?.awaiting, false);
  assert.equal(noticeLine(s.notices?.race), "cancelled step 4 (s starts a new one)");
  // The notice names the action: with the key rebound, it names the new key.
  assert.equal(noticeLine(s.notices?.race, withOverrides({ "next-step": ["N"] })), "cancelled step 4 (N starts a new one)");
});

test("after Esc on a waiting step, choosing says how to go on instead of failing in the engine", async () => {
  const driver = new ScriptedDriver();
  const store = createConcordStore({ flushMs: 5, createRace: () => ({ builder: driver, roles: { generators: ["a"], evaluators: ["j"], targets: [] } }) });
  await store.getState().openProblem(demoProblem);
  driver.stream("a#0", ["Six sevens."], 2);
  driver.decide("a#0");
  store.getState().flush();
  store.getState().cancel();
  await eventually(() => driver.calls.some((c) => c[0] === "cancel") && (store.getState().flush(), !store.getState().race.awaiting));
  store.getState().choose();
  assert.equal(statusOf(store.getState()), "no step is open: s starts the next one");
  store.getState().acceptPick();
  assert.ok(!driver.calls.some((c) => c[0] === "accept"), "nothing reached the engine");
  store.getState().pause();
  assert.equal(statusOf(store.getState()), "no auto-run to pause (n or G starts one)");
  assert.ok(!driver.calls.some((c) => c[0] === "pause"));
});
