// Debugging a relay at scale: the failing cases of a relay results folder (a hybrid that
// answered wrong), those where the initiator was right first, and each case as the relay
// view shows a one-problem relay (the initiator's chain beside each continuation, cut by cut).
import type { RelayResult, RelayRun } from "../engine/relay.js";
import type { Grade } from "../core/types.js";
import type { RelayRecord } from "../results/relay-store.js";

export interface RelayCase {
  problemId: string;
  dataset: string;
  initiator: string;
  continuer: string;
  stage: string;
  sample: number;
  /** The initiator alone was right (and the hybrid wrong): the relay broke the chain. */
  broken: boolean;
  hybrid: RelayRecord;
  initiatorRecord?: RelayRecord;
}

const problemOf = (r: Pick<RelayRecord, "dataset" | "problemId">) => `${r.dataset}\u241f${r.problemId}`;
const STAGES = ["early", "mid", "late"];

/** Hybrids that answered wrong: broken ones (initiator right) first, then by problem, pair, stage and sample. */
export function failingCases(records: readonly RelayRecord[]): RelayCase[] {
  const initiators = new Map(records.filter((r) => r.role === "initiator").map((r) => [`${problemOf(r)}\u241f${r.initiator}`, r]));
  const cases = records
    .filter((r) => r.role === "hybrid" && !r.correct)
    .map((h): RelayCase => {
      const init = initiators.get(`${problemOf(h)}\u241f${h.initiator}`);
      return {
        problemId: h.problemId,
        dataset: h.dataset,
        initiator: h.initiator ?? "?",
        continuer: h.continuer ?? "?",
        stage: h.stage ?? "?",
        sample: h.sample ?? 0,
        broken: init?.correct === true,
        hybrid: h,
        ...(init ? { initiatorRecord: init } : {}),
      };
    });
  return cases.sort(
    (a, b) =>
      Number(b.broken) - Number(a.broken) ||
      a.problemId.localeCompare(b.problemId, undefined, { numeric: true }) ||
      a.initiator.localeCompare(b.initiator) ||
      a.continuer.localeCompare(b.continuer) ||
      STAGES.indexOf(a.stage) - STAGES.indexOf(b.stage) ||
      a.sample - b.sample,
  );
}

const grade = (r: RelayRecord): Grade => ({ answer: r.answer, correct: r.correct });

/**
 * A case as a relay result: the initiator's chain (from its record, or the hybrid's prefix when
 * that record is missing), and the continuations of the same problem, pair and sample at every
 * stage, so the view can move between the cuts.
 */
export function caseRelayResult(records: readonly RelayRecord[], c: RelayCase): RelayResult {
  const siblings = records.filter(
    (r) => r.role === "hybrid" && problemOf(r) === problemOf(c) && r.initiator === c.initiator && r.continuer === c.continuer && (r.sample ?? 0) === c.sample,
  );
  const init = c.initiatorRecord;
  const sentences = init?.sentences ?? c.hybrid.sentences.slice(0, c.hybrid.handover ?? 0);
  const cut = (stage: string) => siblings.find((r) => r.stage === stage)?.cutSentence ?? c.hybrid.cutSentence ?? 0;
  // Stages that fell on one sentence share a continuation: one run per cut, the case's own first.
  const byCut = new Map<number, RelayRecord>();
  for (const r of [c.hybrid, ...siblings]) if (!byCut.has(r.cutSentence ?? 0)) byCut.set(r.cutSentence ?? 0, r);
  const runs: RelayRun[] = [...byCut.values()].map((r) => ({
    cut: (r.stage ?? "mid") as RelayRun["cut"],
    cutSentence: r.cutSentence ?? 0,
    continuer: r.continuer ?? "?",
    continuation: r.sentences.slice(r.handover ?? 0).join(""),
    sentences: r.sentences,
    handover: r.handover ?? 0,
    answer: { target: r.continuer ?? "?", raw: r.answerRaw, grade: grade(r) },
    agrees: r.comparison === "agrees",
    ...(r.comparison ? { comparison: r.comparison } : {}),
    ...(r.stepScores ? { stepScores: r.stepScores } : {}),
    departure: r.departure ? { sentence: r.departure.sentence, answer: r.departure.answer } : null,
  }));
  return {
    problemId: c.problemId,
    initiator: {
      model: c.initiator,
      cot: sentences.join(""),
      sentences,
      tokens: [],
      answer: init ? { target: c.initiator, raw: init.answerRaw, grade: grade(init) } : { target: c.initiator, raw: "", grade: { answer: "", correct: false } },
      ...(init?.stepScores ? { stepScores: init.stepScores } : {}),
    },
    cutPoints: { early: cut("early"), mid: cut("mid"), late: cut("late") },
    runs,
    ...(c.hybrid.scorer ? { scorer: c.hybrid.scorer } : {}),
  };
}
