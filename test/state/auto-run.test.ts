// Pausing an auto-run that was started while a step was still generating: G and n cancel that
// step first, and its "cancelled" report must not hide the run from pause.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createConcordStore } from "../../src/state/store.js";
import { ScriptedDriver, demoProblem, tick } from "../doubles/scripted-driver.js";
import { statusLine as statusOf } from "../../src/ui/keys.js";

/** A ScriptedDriver whose runSteps really runs: one accepted sentence per tick until paused. */
class RunningDriver extends ScriptedDriver {
  private pauseAsked = false;
  cancelDelayMs = 0;
  override async runSteps(n: number | "end") {
    this.calls.push(["runSteps", n]);
    this.pauseAsked = false;
    for (let done = 0; n === "end" || done < n; done++) {
      if (this.pauseAsked) return "paused";
      if (done >= 40) return "count"; // a run nobody paused: the test sees 40 sentences
      this.startStep();
      this.stream(`a#0`, [`S${this.chain.sentences.length + 1}.`], 2);
      this.accept("a#0");
      await tick(2);
    }
    return "count";
  }
  override pause() {
    this.calls.push(["pause"]);
    this.pauseAsked = true;
  }
  override async cancel() {
    this.pauseAsked = true;
    await super.cancel();
    if (this.cancelDelayMs) await tick(this.cancelDelayMs);
  }
}

async function openGenerating() {
  const driver = new RunningDriver();
  const store = createConcordStore({ flushMs: 5, createRace: () => ({ builder: driver, roles: { generators: ["a"], evaluators: ["j"], targets: [] } }) });
  await store.getState().openProblem(demoProblem);
  store.getState().flush();
  assert.equal(store.getState().race.generating, true, "the first step is still generating");
  return { driver, store };
}

async function until(cond: () => boolean, ms = 2000) {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await tick(5);
}

test("G on a generating step, then p: the run stops after the current step", async () => {
  const { driver, store } = await openGenerating();
  store.getState().autoRun("end");
  await until(() => store.getState().chain.sentences.length >= 2);
  store.getState().flush();
  store.getState().pause();
  assert.equal(statusOf(store.getState()), "pausing after this step");
  assert.equal(store.getState().paused, true);
  assert.ok(
    driver.calls.some((c) => c[0] === "pause"),
    "the pause reached the engine",
  );
  const at = store.getState().chain.sentences.length;
  await until(() => store.getState().auto.mode === "off" && !store.getState().paused);
  await tick(30);
  store.getState().flush();
  const after = store.getState().chain.sentences.length;
  assert.ok(after <= at + 1, `paused at ${at}, went on to ${after}`);
  assert.equal(store.getState().auto.mode, "off");
  assert.equal(driver.calls.at(-1)?.[0], "startStep", "a step waits for a human again");
});

test("n on a generating step shows the run as going, with its count", async () => {
  const { store } = await openGenerating();
  store.getState().autoRun(30);
  await until(() => store.getState().chain.sentences.length >= 1);
  store.getState().flush();
  assert.equal(store.getState().auto.mode, "steps", "the cancelled step did not end the run it started");
});

test("p while the step is still being cancelled: the run never starts", async () => {
  const { driver, store } = await openGenerating();
  driver.cancelDelayMs = 40;
  store.getState().autoRun(5);
  await tick(5);
  store.getState().pause();
  assert.equal(statusOf(store.getState()), "pausing after this step");
  await until(() => store.getState().auto.mode === "off");
  await tick(60);
  assert.ok(!driver.calls.some((c) => c[0] === "runSteps"), "no steps were run after the pause");
  assert.equal(store.getState().chain.sentences.length, 0);
});

test("Esc during the run: nothing more runs, and pause then says there is no run", async () => {
  const { driver, store } = await openGenerating();
  store.getState().autoRun("end");
  await until(() => store.getState().chain.sentences.length >= 1);
  store.getState().cancel();
  await tick(30);
  store.getState().flush();
  const n = store.getState().chain.sentences.length;
  await tick(30);
  assert.equal(store.getState().chain.sentences.length, n);
  store.getState().pause();
  assert.equal(statusOf(store.getState()), "no auto-run to pause (n or G starts one)");
  assert.ok(driver.calls.some((c) => c[0] === "cancel"));
});
