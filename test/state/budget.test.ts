// A chain stopped by its budget is a finished chain: saved as finished, exported as finished,
// and no next step is started on it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createConcordStore, type SessionSnapshot } from "../../src/state/store.js";
import { exportSessionMarkdown, toSessionFile } from "../../src/state/sessions.js";
import { statusLine } from "../../src/ui/keys.js";
import { ScriptedDriver, demoProblem } from "../doubles/scripted-driver.js";
import { eventually } from "../wait.js";

test("a chain that reached its sentence budget is saved and exported as finished (#12.17)", async () => {
  const driver = new ScriptedDriver();
  const saved: SessionSnapshot[] = [];
  const store = createConcordStore({
    flushMs: 5,
    save: (s) => void saved.push(s),
    createRace: () => ({ builder: driver, roles: { generators: ["a"], evaluators: ["j"], targets: [] } }),
  });
  await store.getState().openProblem(demoProblem);
  driver.stream("a#0", ["Six sevens."], 2);
  driver.decide("a#0");
  store.getState().flush();
  // What the engine does when the budget is reached: the sentence, then chain-finished (budget).
  driver.chain = { sentences: [{ text: "Six sevens.", author: "a", decision: "evaluator", candidates: [], at: "" }], finished: false };
  driver.emit({ type: "sentence-accepted", step: 0, sentence: driver.chain.sentences[0] });
  driver.emit({ type: "chain-finished", reason: "budget" });
  store.getState().flush();
  await eventually(() => saved.at(-1)?.chain.finished === true);
  const s = store.getState();
  assert.equal(s.chain.finished, true);
  assert.match(statusLine(s), /chain finished: its budget is reached/);
  const last = saved.at(-1)!;
  assert.equal(last.chain.finished, true, "saved as finished");
  assert.match(exportSessionMarkdown(toSessionFile(last)), /chain finished/);
  assert.doesNotMatch(exportSessionMarkdown(toSessionFile(last)), /chain open/);
  const steps = driver.calls.filter((c) => c[0] === "startStep").length;
  store.getState().startStep();
  assert.equal(driver.calls.filter((c) => c[0] === "startStep").length, steps, "no step starts on a finished chain");
  assert.match(statusLine(store.getState()), /the chain is finished \(u undoes the last sentence\)/);
});
