// What to call a problem in a list, and the question it asks, for people: a MedCalc-Bench prompt
// begins with the same words in every row ("Here is the patient note…"), so it is titled by its
// calculator and note instead, and the question is the task line, not the whole prompt.
import type { Problem } from "./types.js";

const text = (v: string | number | null | undefined) => (v === null || v === undefined ? "" : String(v).trim());

/** The question itself (the task), without the material it is asked about. */
export function problemQuestion(p: Problem): string {
  const q = text(p.meta.question);
  if (q) return q;
  const user = [...p.messages].reverse().find((m) => m.role === "user");
  return (user ?? p.messages.at(-1))?.content.trim() ?? "";
}

/** A short title that tells problems of one set apart. */
export function problemTitle(p: Problem): string {
  const calculator = text(p.meta.calculatorName);
  if (calculator) {
    const note = text(p.meta.noteId);
    return note ? `${calculator} · note ${note}` : calculator;
  }
  const task = text(p.meta.task);
  const q = problemQuestion(p).replace(/\s+/g, " ");
  return task && !q.startsWith(`[${task}]`) ? `[${task}] ${q}` : q;
}
