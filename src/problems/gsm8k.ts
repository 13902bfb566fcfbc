// GSM8K: one problem per JSONL line ({"question", "answer": "... #### N"}).
import { extractGsm8kReference } from "../core/answers.js";
import type { ChatMessage, Problem } from "../core/types.js";
import { readLines, RowError, type Report } from "./read.js";

const GSM8K_SYSTEM = 'Solve the math word problem. Reason step by step, then give the final answer as a plain number on the last line, written as "Answer: N".';

export function gsm8kMessages(question: string): ChatMessage[] {
  return [
    { role: "system", content: GSM8K_SYSTEM },
    { role: "user", content: question },
  ];
}

/** True when a parsed first record looks like GSM8K's. */
export function isGsm8kRecord(rec: unknown): boolean {
  if (!rec || typeof rec !== "object") return false;
  const r = rec as Record<string, unknown>;
  return typeof r.question === "string" && typeof r.answer === "string" && r.answer.includes("####");
}

/** Parse one JSONL line into an object, or report why not. */
export function parseJsonLine(path: string, line: number, text: string, report: Report): Record<string, unknown> | null {
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch (err) {
    report(new RowError(path, { line }, `is not valid JSON (${(err as Error).message})`));
    return null;
  }
  if (!rec || typeof rec !== "object" || Array.isArray(rec)) {
    report(new RowError(path, { line }, "is not a JSON object"));
    return null;
  }
  return rec as Record<string, unknown>;
}

/** Stream GSM8K problems. The id is the 0-based line index, as a string. */
export async function* loadGsm8k(path: string, report: Report): AsyncGenerator<Problem> {
  for await (const { line, text } of readLines(path, report)) {
    const rec = parseJsonLine(path, line, text, report);
    if (!rec) continue;
    const bad = (field: string, problem: string) => report(new RowError(path, { line }, problem, field));
    if (typeof rec.question !== "string" || rec.question.trim() === "") {
      bad("question", rec.question === undefined ? "is missing" : "is empty or not text");
      continue;
    }
    if (typeof rec.answer !== "string") {
      bad("answer", rec.answer === undefined ? "is missing" : "is not text");
      continue;
    }
    const value = extractGsm8kReference(rec.answer);
    if (value === null) {
      bad("answer", 'has no number after "####"');
      continue;
    }
    yield {
      id: String(line - 1),
      source: "gsm8k",
      messages: gsm8kMessages(rec.question),
      reference: { kind: "number", value },
      meta: { question: rec.question, solution: rec.answer },
    };
  }
}
