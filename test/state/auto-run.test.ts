// Pausing an auto-run that was started while a step was still generating: G and n cancel that
// step first, and its "cancelled" report must not hide the run from pause.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createConcordStore } from "../../src/state/store.js";
import { ScriptedDriver, demoProblem } from "../doubles/scripted-driver.js";
import { statusLine as statusOf } from "../../src/ui/keys.js";
import { eventually } from "../wait.js";

/** A released gate: a promise and the function that resolves it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

/**
 * A ScriptedDriver whose runSteps really runs: one accepted sentence per turn of the event loop
 * until paused. The test can hold the run after a given sentence, and hold a cancel, so what it
 * does "meanwhile" happens at a known point rather than after a guessed time.
 */
class RunningDriver extends ScriptedDriver {
  private pauseAsked = false;
  /** runSteps calls still going. */
  running = 0;
  /** Hold the run once the chain has this many sentences, until `resume()`. */
  holdAt?: number;
  held = false;
  private hold = gate();
  /** When set, cancel() returns only once this opens. */
  cancelGate?: Promise<void>;
  resume() {
    this.holdAt = undefined;
    this.hold.open();
  }
  override async runSteps(n: number | "end") {
    this.calls.push(["runSteps", n]);
    this.pauseAsked = false;
    this.running++;
    try {
      for (let done = 0; n === "end" || done < n; done++) {
        if (this.pauseAsked) return "paused";
        if (done >= 40) return "count"; // a run nobody paused: the test sees 40 sentences
        this.startStep();
        this.stream(`a#0`, [`S${this.chain.sentences.length + 1}.`], 2);
        this.accept("a#0");
        if (this.holdAt !== undefined && this.chain.sentences.length >= this.holdAt) {
          this.held = true;
          await this.hold.wait;
          this.held = false;
        }
        await new Promise((r) => setImmediate(r));
      }
      return "count";
    } finally {
      this.running--;
    }
  }
  override pause() {
    this.calls.push(["pause"]);
    this.pauseAsked = true;
  }
  override async cancel() {
    this.pauseAsked = true;
    await super.cancel();
    if (this.cancelGate) await this.cancelGate;
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

/** The auto-run is over: the store says so and the engine's run has returned. */
const runOver = (driver: RunningDriver, store: Awaited<ReturnType<typeof openGenerating>>["store"]) => () =>
  store.getState().auto.mode === "off" && !store.getState().autoDrive.live && driver.running === 0;

test("G on a generating step, then p: the run stops after the current step", async () => {
  const { driver, store } = await openGenerating();
  driver.holdAt = 2;
  store.getState().autoRun("end");
  await eventually(() => driver.held);
  store.getState().flush();
  store.getState().pause();
  assert.equal(statusOf(store.getState()), "pausing after this step");
  assert.equal(store.getState().paused, true);
  assert.ok(
    driver.calls.some((c) => c[0] === "pause"),
    "the pause reached the engine",
  );
  const at = store.getState().chain.sentences.length;
  driver.resume();
  await eventually(() => runOver(driver, store)() && !store.getState().paused);
  store.getState().flush();
  const after = store.getState().chain.sentences.length;
  assert.ok(after <= at + 1, `paused at ${at}, went on to ${after}`);
  assert.equal(store.getState().auto.mode, "off");
  assert.equal(driver.calls.at(-1)?.[0], "startStep", "a step waits for a human again");
});

test("n on a generating step shows the run as going, with its count", async () => {
  const { driver, store } = await openGenerating();
  driver.holdAt = 1;
  store.getState().autoRun(30);
  await eventually(() => driver.held);
  store.getState().flush();
  assert.equal(store.getState().auto.mode, "steps", "the cancelled step did not end the run it started");
  driver.resume();
  await eventually(runOver(driver, store));
});

test("p while the step is still being cancelled: the run never starts", async () => {
  const { driver, store } = await openGenerating();
  const cancelling = gate();
  driver.cancelGate = cancelling.wait;
  store.getState().autoRun(5);
  await eventually(() => driver.calls.some((c) => c[0] === "cancel"));
  store.getState().pause();
  assert.equal(statusOf(store.getState()), "pausing after this step");
  cancelling.open();
  await eventually(runOver(driver, store));
  assert.ok(!driver.calls.some((c) => c[0] === "runSteps"), "no steps were run after the pause");
  assert.equal(store.getState().chain.sentences.length, 0);
});

test("Esc during the run: nothing more runs, and pause then says there is no run", async () => {
  const { driver, store } = await openGenerating();
  driver.holdAt = 1;
  store.getState().autoRun("end");
  await eventually(() => driver.held);
  store.getState().cancel();
  driver.resume();
  // The engine's run has returned: nothing is left that could add a sentence.
  await eventually(() => driver.running === 0);
  store.getState().flush();
  const n = store.getState().chain.sentences.length;
  assert.ok(n <= 2, `the run went on to ${n} sentences after Esc`);
  store.getState().pause();
  assert.equal(statusOf(store.getState()), "no auto-run to pause (n or G starts one)");
  assert.ok(driver.calls.some((c) => c[0] === "cancel"));
});
