// How engine events change what the store holds: pure, so a batch of events (many candidates
// streaming at once) is applied in one go and tested without timers.
import type { Candidate, Chain } from "../core/chain.js";
import type { ConsistencySnapshot, EngineEvent, TargetAnswer } from "../engine/events.js";
import { oneLine } from "../errors.js";
import { count } from "../core/words.js";
import { act, failure, info, type Notice } from "./notices.js";
import type { ConcordData, Lane, RaceView, TargetsView } from "./types.js";

export const EMPTY_RACE: RaceView = { step: 0, lanes: [], awaiting: false, generating: false };
export const EMPTY_TARGETS: TargetsView = { answers: {}, pending: {}, log: [], valid: [], history: [] };
export const MAX_ERRORS = 20;

/** Latest answer per target: the one for the longest chain, the later one on a tie. */
function latestAnswers(valid: TargetAnswer[]): Record<string, TargetAnswer> {
  const out: Record<string, TargetAnswer> = {};
  for (const a of valid) if (!out[a.target] || out[a.target].chainLength <= a.chainLength) out[a.target] = a;
  return out;
}

/** The targets view of a chain of `length` sentences: what belongs to a longer chain is dropped. */
export function targetsUpTo(t: TargetsView, length: number, keepLength = true): TargetsView {
  const fits = (l: number) => (keepLength ? l <= length : l < length);
  const valid = t.valid.filter((a) => fits(a.chainLength));
  const pending = Object.fromEntries(Object.entries(t.pending).filter(([, l]) => l <= length));
  return { ...t, valid, answers: latestAnswers(valid), pending, history: t.history.filter((h) => fits(h.chainLength)) };
}

/**
 * Consistency points these targets could have made: every pair among them. A point of other
 * targets (a session resumed on a new panel) is kept in the session but is not theirs to show.
 * A point with no pairs (one target) names no one and is kept.
 */
export function historyOf(history: readonly ConsistencySnapshot[], targets: readonly string[]): ConsistencySnapshot[] {
  const ours = new Set(targets);
  return history.filter((h) => Object.keys(h.pairs).every((key) => key.split("|").every((name) => ours.has(name))));
}

/** The view of only these targets' answers (the log keeps every answer). */
export function targetsOnly(t: TargetsView, targets: readonly string[]): TargetsView {
  const valid = t.valid.filter((a) => targets.includes(a.target));
  return { ...t, valid, answers: latestAnswers(valid) };
}

/** Lanes keep one order whatever order their candidates arrive in: by generator as the roles
 * list them, then by sample. */
function laneFor(lanes: Lane[], id: string, generator: string, order: string[]): [Lane[], number] {
  const i = lanes.findIndex((l) => l.id === id);
  if (i >= 0) return [lanes, i];
  const hash = id.lastIndexOf("#");
  const sampleIndex = hash >= 0 ? Number(id.slice(hash + 1)) || 0 : 0;
  const lane: Lane = { id, generator, sampleIndex, text: "", reasoning: "", done: false, scores: {} };
  const rank = (l: Pick<Lane, "generator" | "sampleIndex" | "id">) => {
    const g = order.indexOf(l.generator);
    return [g < 0 ? order.length : g, l.generator, l.sampleIndex, l.id] as const;
  };
  const before = (a: Lane, b: Lane) => {
    const [ga, na, sa, ia] = rank(a);
    const [gb, nb, sb, ib] = rank(b);
    return ga !== gb ? ga < gb : na !== nb ? na < nb : sa !== sb ? sa < sb : ia < ib;
  };
  let at = lanes.findIndex((l) => before(lane, l));
  if (at < 0) at = lanes.length;
  lanes.splice(at, 0, lane);
  return [lanes, at];
}

function scoresOf(c: Candidate, base: Lane["scores"]): Lane["scores"] {
  const scores = { ...base };
  for (const sc of c.scores) scores[sc.evaluator] = { meanNll: sc.meanNll, perplexity: sc.perplexity };
  return scores;
}

/** Apply a batch of events to the data (pure; returns the changed fields). `chainFrom` gives
 * the engine's own chain when a sentence was accepted or undone. */
export function applyEvents(s: ConcordData, events: EngineEvent[], chainFrom?: () => Chain): Partial<ConcordData> {
  let race = s.race;
  let targets = s.targets;
  let chain = s.chain;
  let auto = s.auto;
  let notice: Notice | undefined;
  let errors = s.errors;
  // The selection follows its candidate, not its row: lanes arriving or scores coming in never move it.
  let selectedId: string | undefined = s.race.lanes[s.selected]?.id;
  // The chain length as the events in this batch leave it (the engine's may be further on).
  let length = s.chain.sentences.length;
  let lanesCopied = false;
  let chainChanged = false;
  const order = s.roles.generators;
  const lanes = () => {
    if (!lanesCopied) {
      race = { ...race, lanes: [...race.lanes] };
      lanesCopied = true;
    }
    return race.lanes;
  };
  for (const ev of events) {
    switch (ev.type) {
      case "step-start":
        race = { step: ev.step, lanes: [], awaiting: false, generating: true };
        lanesCopied = true;
        selectedId = undefined;
        notice = info`step ${ev.step + 1}: generating`;
        break;
      case "candidate-token": {
        if (ev.step !== race.step && race.lanes.length) break; // a late token of a step already left
        const [ls, i] = laneFor(lanes(), ev.candidateId, ev.generator, order);
        const l = ls[i];
        ls[i] = ev.channel === "reasoning" ? { ...l, reasoning: l.reasoning + ev.text } : { ...l, text: l.text + ev.text };
        break;
      }
      case "candidate-done": {
        const c = ev.candidate;
        const [ls, i] = laneFor(lanes(), c.id, c.generator, order);
        const l = ls[i];
        const scores = scoresOf(c, l.scores);
        // A cancel keeps what was streamed, marked as cut short.
        if (c.error === "cancelled") ls[i] = { ...l, done: true, cancelled: true, candidate: c, text: l.text || c.text || "", scores };
        // Written whole but not scored (an evaluator failed, or a trace kept only the winner's
        // score): the text is shown, and the score column says it was not scored.
        else if (c.error && c.text && s.roles.evaluators.some((e) => c.error!.startsWith(`${e}: `)))
          ls[i] = { ...l, done: true, candidate: c, text: c.text, scores, mean: c.meanPerplexity ?? l.mean, unscored: c.error };
        else ls[i] = { ...l, done: true, candidate: c, text: c.text || c.raw || l.text, scores, mean: c.meanPerplexity ?? l.mean, error: c.error };
        break;
      }
      case "candidate-scored": {
        const c = ev.candidate;
        const [ls, i] = laneFor(lanes(), c.id, c.generator, order);
        ls[i] = {
          ...ls[i],
          candidate: { ...(ls[i].candidate ?? c), scores: c.scores, meanPerplexity: c.meanPerplexity },
          scores: scoresOf(c, ls[i].scores),
          mean: c.meanPerplexity,
        };
        break;
      }
      case "score": {
        const [ls, i] = laneFor(lanes(), ev.candidateId, ev.candidateId.split("#")[0], order);
        ls[i] = { ...ls[i], scores: { ...ls[i].scores, [ev.evaluator]: { meanNll: ev.meanNll, perplexity: ev.perplexity } } };
        break;
      }
      case "pick": {
        // The pick is a mark: the selection stays where the person put it.
        race = { ...race, pick: ev.candidateId };
        const ls = lanes();
        const i = ls.findIndex((l) => l.id === ev.candidateId);
        if (i >= 0) ls[i] = { ...ls[i], mean: ev.meanPerplexity };
        break;
      }
      case "awaiting-decision": {
        race = { ...race, awaiting: true, generating: false };
        // Every candidate failed (e.g. the prompt does not fit the model): say why, once.
        const failed = race.lanes.length > 0 && race.lanes.every((l) => l.error);
        notice = failed
          ? failure`step ${ev.step + 1}: no candidate could be made: ${oneLine(race.lanes[0].error!)}`
          : info`step ${ev.step + 1}: choose a candidate`;
        break;
      }
      case "sentence-accepted":
        race = { ...race, awaiting: false, generating: false, acceptedId: ev.sentence.acceptedId };
        chain = chainFrom ? chainFrom() : { ...chain, sentences: [...chain.sentences, ev.sentence] };
        chainChanged = true;
        length = ev.step + 1;
        // Answers at this length were for another sentence here (one since undone).
        targets = targetsUpTo(targets, length, false);
        if (auto.mode === "steps") auto = auto.remaining <= 1 ? { mode: "off" } : { mode: "steps", remaining: auto.remaining - 1 };
        notice = info`sentence ${length} accepted (${ev.sentence.decision})`;
        break;
      case "sentence-undone":
        race = { ...EMPTY_RACE, step: ev.step };
        lanesCopied = true;
        chain = chainFrom ? chainFrom() : { ...chain, sentences: chain.sentences.slice(0, -1), finished: false };
        chainChanged = true;
        length = ev.step;
        targets = targetsUpTo(targets, length);
        notice = info`undone: ${count(length, "sentence")} left`;
        break;
      case "chain-finished": {
        const base = chainFrom ? chainFrom() : chain;
        // A chain that reached its budget is finished as much as one that ended its thought.
        chain = { ...base, finished: ev.reason === "end-of-thought" || ev.reason === "budget" || base.finished };
        chainChanged = true;
        race = { ...race, generating: false, awaiting: false };
        auto = { mode: "off" };
        notice =
          ev.reason === "stopped"
            ? info`chain stopped`
            : ev.reason === "budget"
              ? info`chain finished: its budget is reached`
              : info`chain finished (end of thought)`;
        break;
      }
      case "target-start":
        targets = { ...targets, pending: { ...targets.pending, [ev.target]: ev.chainLength } };
        break;
      case "target-answer": {
        const a = ev.answer;
        const pending = { ...targets.pending };
        if (pending[a.target] !== undefined && pending[a.target] <= a.chainLength) delete pending[a.target];
        // Kept in the log either way; shown only while its chain is (part of) the one on screen.
        const valid = a.chainLength <= length ? [...targets.valid, a] : targets.valid;
        targets = { ...targets, valid, answers: latestAnswers(valid), pending, log: [...targets.log, a] };
        break;
      }
      case "consistency":
        if (ev.snapshot.chainLength > length) break;
        targets = { ...targets, history: [...targets.history.filter((h) => h.chainLength !== ev.snapshot.chainLength), ev.snapshot] };
        break;
      case "progress":
        notice = info`${ev.label} ${ev.done}/${ev.total}`;
        break;
      case "targets-cancelled":
        // Targets cancel a round whenever a newer sentence supersedes it: that must not stop an auto-run.
        targets = { ...targets, pending: Object.fromEntries(Object.entries(targets.pending).filter(([, l]) => l !== ev.chainLength)) };
        break;
      case "step-cancelled": {
        // A cancelled step is over in the engine: its candidates stay in view with what they
        // streamed, but none can be chosen.
        const ls = lanes();
        for (let i = 0; i < ls.length; i++) if (!ls[i].done) ls[i] = { ...ls[i], done: true, cancelled: true };
        race = { ...race, generating: false, awaiting: false };
        auto = { mode: "off" };
        notice = info`cancelled step ${ev.step + 1} (${act("next-step")} starts a new one)`;
        break;
      }
      case "cancelled":
        break;
      case "error":
        errors = [...errors, `${ev.source}: ${oneLine(ev.message)}`].slice(-MAX_ERRORS);
        notice = failure`${ev.source}: ${oneLine(ev.message)}`;
        break;
    }
  }
  let selected = selectedId ? race.lanes.findIndex((l) => l.id === selectedId) : 0;
  if (selected < 0) selected = 0;
  if (selected >= race.lanes.length) selected = Math.max(0, race.lanes.length - 1);
  const out: Partial<ConcordData> = { race, targets, auto, errors, selected };
  if (notice) out.notices = { ...s.notices, race: notice };
  if (chainChanged) out.chain = chain;
  return out;
}

export function copyChain(c: Chain): Chain {
  return { sentences: [...c.sentences], finished: c.finished };
}
