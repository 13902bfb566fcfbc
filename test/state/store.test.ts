import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createConcordStore, applyEvents, mergeRelay, type SessionSnapshot } from "../../src/state/store.js";
import type { RelayResult, RelayRun } from "../../src/engine/relay.js";
import type { ChainSentence } from "../../src/core/chain.js";
import { ScriptedDriver, demoProblem } from "../doubles/scripted-driver.js";
import { eventually } from "../wait.js";
import { statusLine as statusOf } from "../../src/ui/keys.js";

async function openRace(opts: { flushMs?: number; save?: (s: SessionSnapshot) => void } = {}) {
  const driver = new ScriptedDriver();
  const store = createConcordStore({
    flushMs: opts.flushMs ?? 40,
    save: opts.save,
    createRace: () => ({ builder: driver, roles: { generators: ["alpha", "beta"], evaluators: ["judge"], targets: ["t1", "t2"] } }),
  });
  await store.getState().openProblem(demoProblem);
  store.getState().flush();
  return { driver, store };
}

describe("store", () => {
  test("opening a problem starts the first step", async () => {
    const { driver, store } = await openRace();
    assert.deepEqual(driver.calls[0], ["startStep"]);
    assert.equal(store.getState().race.generating, true);
    assert.equal(store.getState().roles.generators.length, 2);
  });

  test("a burst of token events is applied in one batch, not one render per token", async (t) => {
    const { driver, store } = await openRace({ flushMs: 40 });
    store.getState().flush(); // what opening queued
    t.mock.timers.enable({ apis: ["setTimeout"] });
    let renders = 0;
    const off = store.subscribe(() => renders++);
    const before = store.flushCount();
    for (let i = 0; i < 2000; i++)
      driver.emit({ type: "candidate-token", step: 0, candidateId: `alpha#${i % 6}`, generator: "alpha", text: "x", channel: "content" });
    t.mock.timers.tick(39);
    assert.equal(renders, 0, "nothing is applied before the flush interval");
    t.mock.timers.tick(1);
    assert.equal(store.flushCount() - before, 1);
    assert.equal(renders, 1);
    const lanes = store.getState().race.lanes;
    assert.equal(lanes.length, 6);
    assert.equal(
      lanes.reduce((n, l) => n + l.text.length, 0),
      2000,
    );
    off();
  });

  test("flushes are spaced by the interval while streaming continues", async (t) => {
    const { driver, store } = await openRace({ flushMs: 30 });
    store.getState().flush(); // what opening queued
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const before = store.flushCount();
    // A token every millisecond for 200 ms: one flush per 30 ms, then the last batch.
    for (let ms = 0; ms < 200; ms++) {
      driver.emit({ type: "candidate-token", step: 0, candidateId: "alpha#0", generator: "alpha", text: "y", channel: "content" });
      t.mock.timers.tick(1);
    }
    assert.equal(store.flushCount() - before, 6, "flushed at 30, 60, ... 180 ms");
    t.mock.timers.tick(30);
    assert.equal(store.flushCount() - before, 7);
    assert.equal(store.getState().race.lanes[0]?.text.length, 200);
  });

  test("scores, pick and accept: the chain grows and the next step starts", async () => {
    const { driver, store } = await openRace();
    driver.stream("alpha#0", ["Six ", "sevens."], 3.2);
    driver.stream("beta#0", ["Forty ", "two."], 2.1);
    driver.decide("beta#0");
    store.getState().flush();
    const s = store.getState();
    assert.equal(s.race.pick, "beta#0");
    assert.equal(s.race.awaiting, true);
    assert.equal(s.race.lanes.find((l) => l.id === "beta#0")?.mean, 2.1);
    s.acceptPick();
    await eventually(() => assert.equal(driver.calls.filter((c) => c[0] === "startStep").length, 2, "next step started after the decision"));
    assert.deepEqual(
      driver.calls.filter((c) => c[0] === "accept"),
      [["accept", "beta#0"]],
    );
    assert.equal(store.getState().chain.sentences[0].text, "Forty two.");
  });

  test("override: choosing another candidate accepts it as a human pick", async () => {
    const { driver, store } = await openRace();
    driver.stream("alpha#0", ["Six sevens."], 3.2);
    driver.stream("beta#0", ["Forty two."], 2.1);
    driver.decide("beta#0");
    store.getState().flush();
    store.getState().selectId("alpha#0");
    store.getState().choose();
    await eventually(() => store.getState().chain.sentences.length === 1);
    const sent = store.getState().chain.sentences[0];
    assert.equal(sent.text, "Six sevens.");
    assert.equal(sent.decision, "human-pick");
  });

  test("edit, write and undo reach the engine; empty text does not", async () => {
    const { driver, store } = await openRace();
    driver.stream("alpha#0", ["Six sevens."], 3.2);
    driver.decide("alpha#0");
    store.getState().flush();
    store.getState().edit("   ");
    store.getState().edit("Six times seven.");
    await eventually(() => store.getState().chain.sentences.length === 1);
    store.getState().write("I check it.");
    await eventually(() => store.getState().chain.sentences.length === 2);
    assert.deepEqual(
      store.getState().chain.sentences.map((s) => s.decision),
      ["human-edit", "human-written"],
    );
    store.getState().undo();
    await eventually(() => store.getState().chain.sentences.length === 1);
    assert.equal(driver.calls.filter((c) => c[0] === "acceptEdited").length, 1);
  });

  test("engine errors become a status line, not an exception", async () => {
    const { driver, store } = await openRace();
    driver.accept = () => {
      throw new Error("candidate x has not finished\nat stack");
    };
    driver.stream("alpha#0", ["A."], 2);
    driver.decide("alpha#0");
    store.getState().flush();
    store.getState().acceptPick();
    await eventually(() => assert.match(statusOf(store.getState()), /^error: accept: candidate x has not finished at stack$/));
  });

  test("auto-run cancels the waiting step, runs, then waits for a human again", async () => {
    const { driver, store } = await openRace();
    store.getState().autoRun(3);
    assert.equal(store.getState().auto.mode, "steps");
    await eventually(() => store.getState().auto.mode === "off");
    const names = driver.calls.map((c) => c[0]);
    assert.deepEqual(names.slice(-3), ["cancel", "runSteps", "startStep"]);
  });

  test("auto-run on a step already picked: the pick is its first step, nothing is drawn again", async () => {
    const { driver, store } = await openRace();
    driver.stream("alpha#0", ["A."], 2);
    driver.decide("alpha#0");
    store.getState().flush();
    store.getState().autoRun(3);
    await eventually(() => store.getState().auto.mode === "off");
    const names = driver.calls.map((c) => c[0]);
    assert.deepEqual(
      driver.calls.find((c) => c[0] === "accept"),
      ["accept", "alpha#0"],
    );
    assert.ok(!names.includes("cancel"), `no cancel: ${names}`);
    assert.deepEqual(
      driver.calls.find((c) => c[0] === "runSteps"),
      ["runSteps", 2],
    );
    assert.equal(store.getState().chain.sentences[0].decision, "evaluator");
  });

  test("expected errors of a replayed trace stay off the status line and the lanes", async () => {
    const driver = (await openRace()).driver;
    const store = createConcordStore({
      flushMs: 5,
      createRace: () => ({
        builder: driver,
        roles: { generators: ["alpha"], evaluators: ["judge"], targets: [] },
        ignoreError: (m) => m.includes("not scored in the trace"),
      }),
    });
    await store.getState().openProblem(demoProblem);
    driver.stream("alpha#0", ["A."]);
    driver.emit({
      type: "candidate-done",
      step: 0,
      candidate: {
        id: "alpha#1",
        generator: "alpha",
        sampleIndex: 1,
        text: "B.",
        raw: "B.",
        scores: [],
        endOfThought: false,
        error: "judge: not scored in the trace",
      },
    });
    driver.emit({ type: "error", source: "judge", message: "judge: not scored in the trace" });
    driver.emit({ type: "error", source: "alpha", message: "alpha: the server went away" });
    store.getState().flush();
    const s = store.getState();
    assert.equal(s.race.lanes.find((l) => l.id === "alpha#1")!.error, undefined);
    assert.equal(s.errors.length, 1);
    assert.match(statusOf(s), /the server went away/);
  });

  test("opening a second problem while the first still loads keeps only the second race", async () => {
    const first = new ScriptedDriver();
    const second = new ScriptedDriver();
    let secondLoaded!: () => void;
    const secondDone = new Promise<void>((r) => (secondLoaded = r));
    const store = createConcordStore({
      flushMs: 5,
      createRace: async (p) => {
        // The first race finishes loading only after the second has.
        if (p.id === "a") await secondDone;
        else setImmediate(secondLoaded);
        return { builder: p.id === "a" ? first : second, roles: { generators: ["alpha"], evaluators: ["judge"], targets: [] } };
      },
    });
    await Promise.all([store.getState().openProblem({ ...demoProblem, id: "a" }), store.getState().openProblem({ ...demoProblem, id: "b" })]);
    assert.equal(store.getState().problem?.id, "b");
    assert.ok(
      first.calls.some((c) => c[0] === "cancel"),
      "the stale race is stopped",
    );
    first.stream("alpha#0", ["stale."], 1);
    second.stream("alpha#0", ["fresh."], 1);
    store.getState().flush();
    assert.deepEqual(
      store.getState().race.lanes.map((l) => l.text),
      ["fresh."],
      "only the shown race feeds the lanes",
    );
  });

  test("a relay from a cut by hand joins the earlier result, replacing only that cut's runs", () => {
    const run = (cutSentence: number, continuer: string, answer: string): RelayRun =>
      ({
        cut: cutSentence,
        cutSentence,
        continuer,
        continuation: "",
        sentences: [],
        handover: cutSentence + 1,
        answer: { target: continuer, raw: answer, grade: { answer, correct: false } },
        agrees: false,
        departure: null,
      }) as RelayRun;
    const base = { problemId: "p", initiator: {} as RelayResult["initiator"], cutPoints: { early: 0, mid: 1, late: 2 } };
    const before: RelayResult = { ...base, runs: [run(0, "a", "1"), run(1, "a", "2"), run(1, "b", "3")] };
    const after: RelayResult = { ...base, cutPoints: { early: 9, mid: 9, late: 9 }, runs: [run(1, "a", "20"), run(3, "a", "4")] };
    const merged = mergeRelay(before, after);
    assert.deepEqual(
      merged.runs.map((r) => `${r.cutSentence}${r.continuer}${r.answer.raw}`),
      ["0a1", "1b3", "1a20", "3a4"],
    );
    assert.deepEqual(merged.cutPoints, before.cutPoints, "the named cuts are those of the first run");
  });

  test("targets: answers and consistency snapshots are kept, latest per target", () => {
    const sentence = (text: string): ChainSentence => ({ text, author: "alpha", decision: "evaluator", candidates: [], at: new Date(0).toISOString() });
    const base = createConcordStore({ initial: { chain: { sentences: [sentence("A."), sentence(" B.")], finished: false } } }).getState();
    const grade = (answer: string, correct: boolean) => ({ answer, correct });
    const out = applyEvents(base, [
      { type: "target-start", target: "t1", chainLength: 1 },
      { type: "target-answer", answer: { target: "t1", chainLength: 1, raw: "41", grade: grade("41", false) } },
      { type: "target-answer", answer: { target: "t1", chainLength: 2, raw: "42", grade: grade("42", true) } },
      {
        type: "consistency",
        snapshot: {
          chainLength: 2,
          pairs: { "t1|t2": true },
          consistency: 1,
          accuracy: 1,
          split: { consistentCorrect: 1, consistentWrong: 0, inconsistent: 0 },
        },
      },
    ]);
    assert.equal(out.targets!.answers.t1.grade.answer, "42");
    assert.equal(out.targets!.log.length, 2);
    assert.deepEqual(out.targets!.pending, {});
    assert.equal(out.targets!.history.length, 1);
  });

  test("every kept change is saved", async () => {
    const saved: SessionSnapshot[] = [];
    const { driver, store } = await openRace({ save: (s) => void saved.push(structuredClone(s)) });
    const n = saved.length;
    driver.stream("alpha#0", ["A."], 2);
    driver.decide("alpha#0");
    store.getState().flush();
    assert.equal(saved.length, n, "streaming alone is not saved");
    store.getState().acceptPick();
    await eventually(() => assert.equal(saved.at(-1)!.chain.sentences.length, 1));
    assert.equal(saved.at(-1)!.problem.id, "t-1");
  });
});
