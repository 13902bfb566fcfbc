// The session tree in the store, on the real ChainBuilder: undo keeps the race (another
// candidate is taken without a new race), going to an earlier node and taking another candidate
// starts a branch, nothing is lost, and the saved file holds every branch.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChainBuilder } from "../../src/engine/ensemble.js";
import type { ModelHandle } from "../../src/engine/models.js";
import { createConcordStore, type ConcordStore, type SessionSnapshot } from "../../src/state/store.js";
import { branches, chainAt, nodeOf } from "../../src/core/tree.js";
import { loadSession, toSessionFile, writeSession } from "../../src/state/sessions.js";
import { ScriptedBackend } from "../doubles/scripted-backend.js";
import type { Chain } from "../../src/core/chain.js";
import { noticeLine } from "../../src/ui/keys.js";
import { demoProblem } from "../doubles/scripted-driver.js";
import { eventually } from "../wait.js";

function rig() {
  const gen = new ScriptedBackend({ name: "g", respond: (_req, call) => ` Thought ${call} is here. Then more follows.`, tokenDelayMs: 0 });
  const judge = new ScriptedBackend({ name: "judge", respond: () => "", logprobFor: (c) => -(c.length % 7) / 3 - 0.1 });
  const generators: ModelHandle[] = [{ name: "g", backend: gen, thinkingFormat: "think-tags" }];
  const evaluators: ModelHandle[] = [{ name: "judge", backend: judge, thinkingFormat: "think-tags" }];
  let last: SessionSnapshot | undefined;
  const store = createConcordStore({
    flushMs: 5,
    save: (s) => {
      last = s;
    },
    createRace: (problem, chain) => ({
      builder: new ChainBuilder({ problem, generators, evaluators, k: 3, chain }),
      roles: { generators: ["g"], evaluators: ["judge"], targets: [] },
    }),
  });
  return { store, gen, saved: () => last };
}

/** Wait until the step of this many sentences waits for a decision with every candidate scored. */
async function awaitingAt(store: ConcordStore, length: number) {
  await eventually(() => {
    store.getState().flush();
    const s = store.getState();
    return (
      s.chain.sentences.length === length && s.race.awaiting && s.race.lanes.length === 3 && s.race.lanes.every((l) => l.mean !== undefined) && !!s.race.pick
    );
  });
}

describe("session tree in the store", () => {
  test("undo keeps the race, another candidate is a branch, an earlier node branches too, all saved", async () => {
    const { store, gen, saved } = rig();
    await store.getState().openProblem(demoProblem);
    await awaitingAt(store, 0);
    store.getState().acceptPick();
    await awaitingAt(store, 1);
    const step2 = store.getState().race.lanes.map((l) => l.text);
    store.getState().select(1);
    const overridden = store.getState().race.lanes[1]!.id;
    store.getState().choose();
    await awaitingAt(store, 2);
    const streamsBefore = gen.streamCalls.length;

    // Undo: back at sentence 1, the race of sentence 2 is shown again, nothing generated.
    store.getState().undo();
    await eventually(() => store.getState().race.kept === true);
    let s = store.getState();
    assert.equal(s.chain.sentences.length, 1);
    assert.deepEqual(
      s.race.lanes.map((l) => l.text),
      step2,
    );
    assert.equal(s.race.lanes[s.selected]!.id, overridden, "the candidate taken before is selected");
    assert.equal(gen.streamCalls.length, streamsBefore);
    const n1 = s.tree.current;
    assert.equal(nodeOf(s.tree, n1).races.length, 1);

    // Another candidate of the kept race: a second branch at sentence 2.
    store.getState().select(1); // the next lane after the one taken before
    const other = store.getState().race.lanes[store.getState().selected]!;
    store.getState().choose();
    await awaitingAt(store, 2);
    s = store.getState();
    assert.equal(s.chain.sentences[1]!.text, other.candidate!.text);
    assert.equal(s.chain.sentences[1]!.candidates.length, 3, "the sentence keeps its race's candidates");
    assert.equal(nodeOf(s.tree, n1).children.length, 2);
    assert.equal(gen.streamCalls.length, streamsBefore + 3, "only the next step raced");

    // Go to the root: its kept race is shown, and a third candidate is a branch there.
    await store.getState().goToNode(s.tree.root);
    s = store.getState();
    assert.equal(s.chain.sentences.length, 0);
    assert.equal(s.race.kept, true);
    assert.equal(s.screen, "race");
    const rootPick = s.race.pick;
    const third = s.race.lanes.findIndex((l) => l.id !== rootPick);
    store.getState().select(third - s.selected);
    store.getState().choose();
    await awaitingAt(store, 1);
    s = store.getState();
    assert.equal(s.chain.sentences[0]!.decision, "human-pick");
    assert.equal(nodeOf(s.tree, s.tree.root).children.length, 2);
    assert.deepEqual(s.chain, chainAt(s.tree, s.tree.current), "the chain is the path to the current node");
    const all = branches(s.tree);
    assert.equal(all.length, 3);

    // Every branch is in the saved session and comes back from the file.
    await eventually(() => saved()?.tree === store.getState().tree || (store.getState().persist(), false));
    const dir = mkdtempSync(join(tmpdir(), "concord-tree-"));
    const file = join(dir, "s.json");
    await writeSession(file, toSessionFile(saved()!));
    const back = await loadSession(file);
    assert.equal(back.schema, 2);
    assert.deepEqual(
      branches(back.tree!).map((b) => chainAt(back.tree!, b.id).sentences.map((x) => x.text)),
      all.map((b) => chainAt(s.tree, b.id).sentences.map((x) => x.text)),
    );
    assert.deepEqual(
      back.chain.sentences.map((x) => x.text),
      s.chain.sentences.map((x) => x.text),
    );
    await store.getState().dispose();
  });

  test("a race regenerated is kept beside the new one", async () => {
    const { store } = rig();
    await store.getState().openProblem(demoProblem);
    await awaitingAt(store, 0);
    const first = store.getState().race.lanes.map((l) => l.text);
    store.getState().regenerate();
    await eventually(() => {
      store.getState().flush();
      const s = store.getState();
      return s.race.awaiting && s.race.lanes.length === 3 && s.race.lanes[0]!.text !== first[0] && s.race.lanes.every((l) => l.mean !== undefined);
    });
    const t = store.getState().tree;
    const races = nodeOf(t, t.root).races;
    assert.equal(races.length, 1, "the regenerated race is kept; the one on view is kept when it is left");
    assert.deepEqual(
      races[0]!.candidates.map((c) => c.text),
      first,
    );
    store.getState().acceptPick();
    await awaitingAt(store, 1);
    assert.equal(nodeOf(store.getState().tree, store.getState().tree.root).races.length, 2);
    await store.getState().dispose();
  });

  test("a replay is the main branch: following it stays on it, going live and deciding otherwise forks beside it", async () => {
    const { store } = rig();
    const recorded: Chain = {
      finished: false,
      sentences: [
        { text: "First recorded.", author: "old", decision: "evaluator", candidates: [], at: "2026-01-01T00:00:00.000Z" },
        { text: " Second recorded.", author: "old", decision: "evaluator", candidates: [], at: "2026-01-01T00:00:00.000Z" },
      ],
    };
    await store.getState().openProblem(demoProblem, { chain: recorded, replay: true, info: { id: "orig", createdAt: "2026-01-01T00:00:00.000Z" } });
    let s = store.getState();
    assert.equal(s.tree.current, s.tree.root, "a replay starts at the root of its tree");
    assert.equal(branches(s.tree).length, 1);
    store.getState().acceptPick(); // follows the record
    await eventually(() => (store.getState().flush(), store.getState().chain.sentences.length === 1));
    s = store.getState();
    assert.equal(s.tree.nodes.size, 3, "following the record adds no node");
    assert.equal(s.tree.current, "n1");
    // Going to a node is refused in a replay: it follows the record.
    await store.getState().goToNode("n2");
    assert.match(noticeLine(store.getState().notices.tree), /a replay follows the record: L continues live/);
    assert.equal(store.getState().tree.current, "n1");
    await store.getState().goLive();
    await awaitingAt(store, 1);
    s = store.getState();
    assert.equal(s.replay, undefined);
    assert.equal(s.tree.current, "n1");
    assert.ok(s.tree.nodes.has("n2"), "the recorded branch stays reachable");
    store.getState().acceptPick();
    await awaitingAt(store, 2);
    s = store.getState();
    assert.deepEqual(nodeOf(s.tree, "n1").children.length, 2);
    assert.deepEqual(
      branches(s.tree).map((b) => chainAt(s.tree, b.id).sentences.length),
      [2, 2],
    );
    assert.equal(chainAt(s.tree, "n2").sentences[1]!.text, " Second recorded.");
    await store.getState().dispose();
  });

  test("auto-run from a kept race takes its pick as it stands", async () => {
    const { store } = rig();
    await store.getState().openProblem(demoProblem);
    await awaitingAt(store, 0);
    store.getState().acceptPick();
    await awaitingAt(store, 1);
    store.getState().undo();
    await eventually(() => store.getState().race.kept === true);
    const pick = store.getState().race.lanes.find((l) => l.id === store.getState().race.pick)!.candidate!;
    store.getState().autoRun(1);
    await awaitingAt(store, 1);
    const s = store.getState();
    assert.equal(s.chain.sentences[0]!.text, pick.text);
    assert.equal(s.chain.sentences[0]!.decision, "evaluator");
    assert.equal(nodeOf(s.tree, s.tree.root).children.length, 1, "the same candidate again: the same branch");
    await store.getState().dispose();
  });
});
