// `concord replay <session>`: the saved chain is stepped through with its recorded candidates,
// scores, picks and decisions, without models and without rewriting the file; L continues live.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Candidate, Chain } from "../../src/core/chain.js";
import type { TargetAnswer } from "../../src/engine/events.js";
import { createConcordStore, type SessionSnapshot } from "../../src/state/store.js";
import { ScriptedDriver, demoProblem } from "../doubles/scripted-driver.js";
import { eventually } from "../wait.js";
import { statusLine as statusOf } from "../../src/ui/keys.js";

const cand = (id: string, text: string, ppl: number): Candidate => ({
  id,
  generator: id.split("#")[0],
  sampleIndex: Number(id.split("#")[1]),
  text,
  raw: text,
  scores: [{ evaluator: "judge", meanNll: Math.log(ppl), perplexity: ppl }],
  meanPerplexity: ppl,
  endOfThought: false,
});

const saved: Chain = {
  sentences: [
    // The evaluator preferred beta#0; the human took alpha#0.
    {
      text: "Six sevens.",
      author: "alpha",
      decision: "human-pick",
      candidates: [cand("alpha#0", "Six sevens.", 3), cand("beta#0", "Seven sixes.", 2)],
      evaluatorPick: "beta#0",
      acceptedId: "alpha#0",
      at: "2026-01-01T00:00:00.000Z",
    },
    { text: " That is 42.", author: "human", decision: "human-written", candidates: [], at: "2026-01-01T00:00:01.000Z" },
  ],
  finished: false,
};
const answer: TargetAnswer = { target: "t1", chainLength: 1, raw: "42", grade: { answer: "42", correct: true } };

async function openReplay() {
  const live: Array<Chain | undefined> = [];
  const saves: SessionSnapshot[] = [];
  const store = createConcordStore({
    flushMs: 5,
    save: (s) => void saves.push(s),
    createRace: (_p, chain) => {
      live.push(chain);
      return { builder: new ScriptedDriver(chain), roles: { generators: ["live"], evaluators: ["judge"], targets: [] } };
    },
  });
  await store.getState().openProblem(demoProblem, {
    chain: saved,
    roles: { generators: ["alpha", "beta"], evaluators: ["judge"], targets: ["t1"] },
    targets: { answers: [answer], consistency: [] },
    replay: true,
    info: { id: "orig", file: "/x/orig.json", createdAt: "2026-01-01T00:00:00.000Z" },
  });
  store.getState().flush();
  return { store, live, saves };
}

test("a replayed step shows the recorded candidates, the pick, and the recorded choice selected", async () => {
  const { store, live } = await openReplay();
  const s = store.getState();
  assert.deepEqual(live, [], "no model is opened for a replay");
  assert.deepEqual(s.replay, { total: 2 });
  assert.equal(s.chain.sentences.length, 0);
  assert.deepEqual(
    s.race.lanes.map((l) => [l.id, l.text, l.mean]),
    [
      ["alpha#0", "Six sevens.", 3],
      ["beta#0", "Seven sixes.", 2],
    ],
  );
  assert.equal(s.race.pick, "beta#0");
  assert.equal(s.race.lanes[s.selected].id, "alpha#0", "the record's choice is selected");
  assert.match(statusOf(s), /^replay 1\/2: the record took alpha#0 \(human-pick\)/);
  assert.deepEqual(s.roles.generators, ["alpha", "beta"]);
});

test("following the record rebuilds the chain with its decisions and the saved target answers; nothing is saved", async () => {
  const { store, saves } = await openReplay();
  store.getState().acceptPick(); // a: whatever the evaluator picked, the record's decision is taken
  await eventually(() => (store.getState().flush(), assert.match(statusOf(store.getState()), /^replay 2\/2: /)));
  let s = store.getState();
  assert.deepEqual(
    s.chain.sentences.map((x) => [x.text, x.decision]),
    [["Six sevens.", "human-pick"]],
  );
  assert.equal(s.targets.answers.t1?.grade.answer, "42", "the answer saved for 1 sentence is back");
  assert.match(statusOf(s), /^replay 2\/2: the record took a sentence written by hand/);
  store.getState().write("Something else.");
  await eventually(() => assert.match(statusOf(store.getState()), /a replay follows the record: L continues live/));
  store.getState().choose();
  await eventually(() => (store.getState().flush(), assert.match(statusOf(store.getState()), /^the end of the recording/)));
  s = store.getState();
  assert.deepEqual(
    s.chain.sentences.map((x) => x.text),
    ["Six sevens.", " That is 42."],
  );
  assert.equal(statusOf(s), "the end of the recording (2 sentences): L continues live");
  store.getState().undo();
  await eventually(() => (store.getState().flush(), store.getState().chain.sentences.length === 1));
  assert.equal(saves.length, 0, "the replayed file is never rewritten");
});

test("G replays to the end; L then continues live from there as a new session", async () => {
  const { store, live, saves } = await openReplay();
  store.getState().autoRun("end");
  await eventually(() => (store.getState().flush(), store.getState().chain.sentences.length === 2));
  await store.getState().goLive();
  store.getState().flush();
  const s = store.getState();
  assert.equal(live.length, 1);
  assert.equal(live[0]!.sentences.length, 2, "live from the sentence reached");
  assert.equal(s.replay, undefined);
  assert.notEqual(s.session!.id, "orig");
  assert.equal(s.session!.file, undefined, "a new file: the replayed one keeps its chain");
  assert.deepEqual(s.roles.generators, ["live"]);
  assert.match(statusOf(s), /step 3|resumed \(live\)/);
  store.getState().write("Live now.");
  await eventually(() => saves.at(-1)?.chain.sentences.length === 3);
  assert.ok(saves.length > 0, "the live race is saved");
  assert.equal(saves.at(-1)!.chain.sentences.length, 3);
});

test("L in a live race says there is nothing to go live from", async () => {
  const store = createConcordStore({ createRace: () => ({ builder: new ScriptedDriver(), roles: { generators: [], evaluators: [], targets: [] } }) });
  await store.getState().openProblem(demoProblem);
  await store.getState().goLive();
  assert.equal(statusOf(store.getState()), "not a replay: the race is already live");
});
