// One reply, two readings: the paper's grading (the authors' MedCalc code, reproduced in
// paper-grade.ts) and Concord's own (answers.ts). Pure.
import { gradeAnswer } from "./answers.js";
import { paperGradeMedcalc, type MedcalcRow } from "./paper-grade.js";
import type { Problem } from "./types.js";

export const GRADE_READINGS = ["paper", "concord"] as const;
export type GradeReading = (typeof GRADE_READINGS)[number];

export interface ReadingGrade {
  /** The answer as this reading compares it; null where the reading skips the record. */
  answer: string | null;
  correct: boolean;
  /** Left out of consistency: the paper's skip phrases, or (Concord) no answer at all. */
  excluded: boolean;
  /** Paper reading: the extraction or grading raised in Python (recorded as wrong). */
  crashed?: boolean;
  /** Paper reading: the answer field as the authors' code would have written it. */
  recorded?: string;
}

/** The dataset row a MedCalc problem came from, as the paper's code read it; null for other sets. */
export function medcalcRow(problem: Problem): MedcalcRow | null {
  const m = problem.meta;
  if (problem.source !== "medcalc-bench" || typeof m.calculatorId !== "number") return null;
  const text = (v: unknown, fallback: string): string => (typeof v === "string" ? v : fallback);
  return {
    calculatorId: m.calculatorId,
    groundTruth: text(m.groundTruthText, problem.reference.value),
    lowerLimit: text(m.lowerLimitText, problem.reference.lower === undefined ? "" : String(problem.reference.lower)),
    upperLimit: text(m.upperLimitText, problem.reference.upper === undefined ? "" : String(problem.reference.upper)),
  };
}

/** Concord's reading: its own extraction and grading; a reply with no answer is excluded. */
export function concordGrade(reply: string, problem: Problem): ReadingGrade {
  const g = gradeAnswer(reply, problem.reference);
  const answer = g.answer === "" ? null : g.answer;
  return { answer, correct: answer !== null && g.correct, excluded: answer === null };
}

/**
 * The paper's reading, for MedCalc-Bench problems (the only set the authors graded by rule);
 * null for other sets. `modelName` is the name the authors' code checked for "gpt-oss".
 */
export function paperGrade(reply: string, problem: Problem, modelName?: string): ReadingGrade | null {
  const row = medcalcRow(problem);
  if (!row) return null;
  const g = paperGradeMedcalc(reply, row, modelName);
  return { answer: g.excluded ? null : g.recorded, correct: g.correct, excluded: g.excluded, crashed: g.crashed, recorded: g.recorded };
}

/** Both readings of one reply: every results record stores them side by side. */
export function gradeBoth(reply: string, problem: Problem, modelName?: string): { paper: ReadingGrade | null; concord: ReadingGrade } {
  return { paper: paperGrade(reply, problem, modelName), concord: concordGrade(reply, problem) };
}
