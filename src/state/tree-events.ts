// How engine events grow the session tree (core/tree.ts): an accepted sentence is an edge (a
// new branch when the node had another), an undo moves to the parent, answers and consistency
// land on the node of their chain length. Pure, like applyEvents.
import type { Candidate } from "../core/chain.js";
import { accept, ancestorAt, keepRace, moveTo, nodeOf, setFinished, withAnswer, withConsistency, type Race, type Tree } from "../core/tree.js";
import type { EngineEvent } from "../engine/events.js";
import type { Lane, RaceView } from "./types.js";

/** The finished candidates on view, as a race worth keeping (none when nothing could be taken). */
export function raceOfLanes(race: RaceView): Race | undefined {
  const candidates: Candidate[] = [];
  for (const l of race.lanes) if (l.done && !l.cancelled && l.candidate && !l.candidate.error) candidates.push(l.candidate);
  if (!candidates.length) return undefined;
  const out: Race = { candidates };
  if (race.pick !== undefined) out.evaluatorPick = race.pick;
  return out;
}

/** Keep the race on view at the current node, unless it was decided (its sentence kept it) or
 * is itself a kept race. */
export function keepRaceOnView(tree: Tree, race: RaceView): Tree {
  if (race.kept || race.acceptedId !== undefined) return tree;
  const r = raceOfLanes(race);
  return r ? keepRace(tree, tree.current, r).tree : tree;
}

/** Lanes for a race kept in the tree: finished, scored, none streaming. */
export function lanesOfRace(race: Race): Lane[] {
  return race.candidates.map((c) => {
    const scores: Lane["scores"] = {};
    for (const s of c.scores) scores[s.evaluator] = { meanNll: s.meanNll, perplexity: s.perplexity };
    const lane: Lane = { id: c.id, generator: c.generator, sampleIndex: c.sampleIndex, text: c.text, reasoning: "", done: true, candidate: c, scores };
    if (c.meanPerplexity !== undefined) lane.mean = c.meanPerplexity;
    return lane;
  });
}

/** The tree after a batch of events; `race` is the race on view before the batch. */
export function treeAfterEvents(tree: Tree, events: EngineEvent[], race: RaceView): Tree {
  let t = tree;
  let kept = false;
  const keepOnce = () => {
    if (kept) return;
    kept = true;
    t = keepRaceOnView(t, race);
  };
  for (const ev of events) {
    switch (ev.type) {
      case "step-start":
        // A race regenerated or left behind is kept where it ran.
        keepOnce();
        break;
      case "sentence-accepted": {
        kept = true; // its candidates are the race it came from
        const at = ancestorAt(t, t.current, ev.step);
        t = accept(t, at, ev.sentence, false);
        break;
      }
      case "sentence-undone":
        keepOnce();
        t = moveTo(t, ancestorAt(t, t.current, ev.step));
        break;
      case "chain-finished":
        if (ev.reason !== "stopped") t = setFinished(t, t.current, true);
        break;
      case "target-answer":
        if (ev.answer.chainLength <= nodeOf(t, t.current).depth) t = withAnswer(t, ancestorAt(t, t.current, ev.answer.chainLength), ev.answer);
        break;
      case "consistency":
        if (ev.snapshot.chainLength <= nodeOf(t, t.current).depth) t = withConsistency(t, ancestorAt(t, t.current, ev.snapshot.chainLength), ev.snapshot);
        break;
      default:
        break;
    }
  }
  return t;
}
