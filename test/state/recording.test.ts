// A replayed recording: a decision of one's own leaves it, with a notice saying so and how to
// go on live; going live races the chain so far on the configured models (#12.8).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createConcordStore } from "../../src/state/store.js";
import { statusLine, withOverrides } from "../../src/ui/keys.js";
import { ScriptedDriver, demoProblem } from "../doubles/scripted-driver.js";
import { eventually } from "../wait.js";

test("an override in a recording says the chain left it; L continues live on the configured models", async () => {
  const recorded = new ScriptedDriver();
  const live = new ScriptedDriver();
  let liveOpened = 0;
  const store = createConcordStore({
    flushMs: 5,
    createRace: () => ({ builder: recorded, roles: { generators: ["a"], evaluators: ["j"], targets: [] }, recording: true }),
    createLiveRace: (_p, chain) => {
      liveOpened++;
      live.chain = { sentences: [...(chain?.sentences ?? [])], finished: false };
      return { builder: live, roles: { generators: ["live"], evaluators: ["j"], targets: [] } };
    },
  });
  await store.getState().openProblem(demoProblem);
  recorded.stream("a#0", ["Recorded."], 2);
  recorded.stream("a#1", ["Mine."], 5);
  recorded.decide("a#0");
  store.getState().flush();
  store.getState().select(1);
  store.getState().choose(); // an override: a#1 is not the recorded pick
  await eventually(() => (store.getState().flush(), store.getState().chain.sentences.length === 1));
  recorded.emit({ type: "awaiting-decision", step: 1 });
  store.getState().flush();
  assert.match(statusLine(store.getState()), /left the recording: its next steps were never recorded · L continues live, u goes back/);
  assert.match(statusLine(store.getState(), withOverrides({ "go-live": ["ctrl+l"] })), /ctrl\+l continues live/, "the key shown is the one bound now");
  await store.getState().goLive();
  assert.equal(liveOpened, 1);
  assert.equal(store.getState().handle?.builder, live);
  assert.deepEqual(
    store.getState().chain.sentences.map((s) => s.text),
    ["Mine."],
    "the chain so far goes on live",
  );
  assert.deepEqual(store.getState().roles.generators, ["live"]);
});

test("undoing the sentence that left the recording brings the replay back into it", async () => {
  const recorded = new ScriptedDriver();
  const store = createConcordStore({
    flushMs: 5,
    autoAdvance: false,
    createRace: () => ({ builder: recorded, roles: { generators: ["a"], evaluators: ["j"], targets: [] }, recording: true }),
  });
  await store.getState().openProblem(demoProblem);
  recorded.stream("a#0", ["Recorded."], 2);
  recorded.stream("a#1", ["Mine."], 5);
  recorded.decide("a#0");
  store.getState().flush();
  store.getState().select(1);
  store.getState().choose();
  await eventually(() => (store.getState().flush(), assert.equal(store.getState().leftRecordingAt, 1)));
  store.getState().undo();
  await eventually(() => (store.getState().flush(), store.getState().chain.sentences.length === 0));
  assert.equal(store.getState().leftRecordingAt, undefined);
  assert.doesNotMatch(statusLine(store.getState()), /left the recording/);
});
