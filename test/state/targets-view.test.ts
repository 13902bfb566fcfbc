// The targets view follows the chain: an undo drops the answers and consistency of the removed
// sentences (the earlier ones come back), a resumed chain is asked again, and a chain left
// behind by a cancel is asked again when the next step starts.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Chain, ChainSentence } from "../../src/core/chain.js";
import type { ConsistencySnapshot, EngineListener, TargetAnswer } from "../../src/engine/events.js";
import { createConcordStore, type EventSource } from "../../src/state/store.js";
import { ScriptedDriver, demoProblem } from "../doubles/scripted-driver.js";
import { eventually } from "../wait.js";
import { statusLine as statusOf } from "../../src/ui/keys.js";

/** Stands in for the TargetPanel: records what it is asked, emits what the test says. */
class TargetsDouble implements EventSource {
  asked: Array<{ length: number; force?: boolean }> = [];
  cancels = 0;
  private listeners = new Set<EngineListener>();
  on(l: EngineListener) {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  emit(ev: Parameters<EngineListener>[0]) {
    for (const l of this.listeners) l(ev);
  }
  update(chain: Chain, opts: { force?: boolean } = {}) {
    this.asked.push({ length: chain.sentences.length, force: opts.force });
    for (const t of ["t1", "t2"]) this.emit({ type: "target-start", target: t, chainLength: chain.sentences.length });
    return Promise.resolve(null);
  }
  cancel() {
    this.cancels++;
  }
  /** A whole round: both answers, then the consistency of the pair. */
  answer(length: number, a1: string, a2: string) {
    const ans = (target: string, answer: string): TargetAnswer => ({ target, chainLength: length, raw: answer, grade: { answer, correct: answer === "42" } });
    this.emit({ type: "target-answer", answer: ans("t1", a1) });
    this.emit({ type: "target-answer", answer: ans("t2", a2) });
    this.emit({ type: "consistency", snapshot: snap(length, a1 === a2) });
  }
}

function snap(chainLength: number, agree: boolean): ConsistencySnapshot {
  return {
    chainLength,
    pairs: { "t1|t2": agree },
    consistency: agree ? 1 : 0,
    accuracy: 0.5,
    split: { consistentCorrect: 0, consistentWrong: agree ? 1 : 0, inconsistent: agree ? 0 : 1 },
  };
}

const sentence = (text: string): ChainSentence => ({ text, author: "a", decision: "evaluator", candidates: [], at: new Date(0).toISOString() });

async function open(chain?: Chain, saved?: { answers: TargetAnswer[]; consistency: ConsistencySnapshot[] }) {
  const driver = new ScriptedDriver(chain);
  const targets = new TargetsDouble();
  const store = createConcordStore({
    flushMs: 5,
    createRace: () => ({ builder: driver, targets, roles: { generators: ["a"], evaluators: ["j"], targets: ["t1", "t2"] } }),
  });
  await store.getState().openProblem(demoProblem, chain ? { chain, targets: saved } : undefined);
  const opened = statusOf(store.getState());
  store.getState().flush();
  return { driver, targets, store, opened };
}

test("undo: the removed sentence's answers and consistency go; the earlier ones are shown again", async () => {
  const { driver, targets, store } = await open();
  driver.write("A.");
  targets.answer(1, "41", "41");
  driver.write(" B.");
  targets.answer(2, "42", "40");
  store.getState().flush();
  assert.equal(store.getState().targets.answers.t1.grade.answer, "42");
  assert.deepEqual(
    store.getState().targets.history.map((h) => h.chainLength),
    [1, 2],
  );
  store.getState().undo();
  await eventually(() => (store.getState().flush(), store.getState().chain.sentences.length === 1));
  const t = store.getState().targets;
  assert.equal(store.getState().chain.sentences.length, 1);
  assert.equal(t.answers.t1.grade.answer, "41", "the answer for the chain as it stands");
  assert.equal(t.answers.t2.chainLength, 1);
  assert.deepEqual(
    t.history.map((h) => h.chainLength),
    [1],
    "no point beyond the chain",
  );
  assert.equal(t.log.length, 4, "the session keeps every answer given");
  // Another second sentence: the answers for the undone one do not come back.
  driver.write(" C.");
  store.getState().flush();
  assert.equal(store.getState().targets.answers.t1.chainLength, 1);
  assert.deepEqual(
    store.getState().targets.history.map((h) => h.chainLength),
    [1],
  );
});

test("an answer for a chain already undone (late in the same batch) is not shown", async () => {
  const { driver, targets, store } = await open();
  driver.write("A.");
  driver.write(" B.");
  await driver.undo();
  targets.answer(2, "42", "42");
  store.getState().flush();
  assert.deepEqual(store.getState().targets.answers, {});
  assert.deepEqual(store.getState().targets.history, []);
});

test("a resumed chain is asked again; saved points beyond it are not shown", async () => {
  const chain: Chain = { sentences: [sentence("A."), sentence(" B."), sentence(" C.")], finished: false };
  const ans = (l: number, a: string): TargetAnswer => ({ target: "t1", chainLength: l, raw: a, grade: { answer: a, correct: false } });
  const { targets, store, opened } = await open(chain, { answers: [ans(1, "7"), ans(5, "9")], consistency: [snap(1, true), snap(5, false)] });
  assert.deepEqual(targets.asked[0], { length: 3, force: true });
  const t = store.getState().targets;
  assert.deepEqual(
    t.history.map((h) => h.chainLength),
    [1],
  );
  assert.equal(t.answers.t1.grade.answer, "7");
  assert.equal(t.pending.t1, 3, "the panel shows the round as asked");
  assert.equal(opened, "resumed (live): 3 sentences");
});

test("after Esc the answers are behind the chain; the next step asks again, once", async () => {
  const { driver, targets, store } = await open();
  driver.write("A.");
  targets.answer(1, "41", "41");
  driver.write(" B.");
  targets.emit({ type: "target-start", target: "t1", chainLength: 2 });
  store.getState().flush();
  store.getState().cancel();
  // The panel reports its round as cancelled: nothing is pending any more.
  targets.emit({ type: "targets-cancelled", chainLength: 2 });
  await eventually(() => targets.cancels === 1);
  store.getState().flush();
  assert.equal(targets.cancels, 1);
  assert.deepEqual(store.getState().targets.pending, {});
  assert.equal(targets.asked.length, 0);
  store.getState().startStep();
  store.getState().startStep();
  assert.deepEqual(targets.asked, [{ length: 2, force: true }]);
});
