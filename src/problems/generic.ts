// Any JSONL or CSV file of questions and answers, through a field mapping.
import { basename } from "node:path";
import type { AnswerKind, ChatMessage, Problem, Reference } from "../core/types.js";
import { UserError } from "../errors.js";
import { parseJsonLine } from "./gsm8k.js";
import { readCsv, readLines, RowError, type Report } from "./read.js";

/**
 * Which fields hold what. `id`, `question`, `answer` and `system` name fields (JSON keys or
 * CSV columns); `kind` is the answer kind for every row (default: "number" when the answer is
 * a number, else "exact"). Without an `id` field the id is the 0-based line index (JSONL) or
 * the 1-based data row (CSV).
 */
export interface FieldMapping {
  id?: string;
  question: string;
  answer: string;
  kind?: AnswerKind;
  system?: string;
}

const GUESS = {
  question: ["question", "prompt", "input", "problem", "query"],
  answer: ["answer", "output", "target", "solution", "label", "ground_truth", "ground truth answer", "reference"],
  id: ["id", "idx", "uid", "row number"],
};

function guess(names: string[], choices: string[]): string | undefined {
  for (const c of choices) {
    const hit = names.find((n) => n.trim().toLowerCase() === c);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/** Complete a partial mapping from the available field names; a missing question/answer field is a clear error. */
function resolveMapping(file: string, names: string[], partial: Partial<FieldMapping> = {}): FieldMapping {
  const question = partial.question ?? guess(names, GUESS.question);
  const answer = partial.answer ?? guess(names, GUESS.answer);
  const id = partial.id ?? guess(names, GUESS.id);
  const list =
    names
      .slice(0, 12)
      .map((n) => `"${n}"`)
      .join(", ") + (names.length > 12 ? ", ..." : "");
  if (question === undefined) throw new UserError(`${basename(file)}: no question field found (name one with --fields question=NAME; fields: ${list})`);
  if (answer === undefined) throw new UserError(`${basename(file)}: no answer field found (name one with --fields answer=NAME; fields: ${list})`);
  for (const [role, name] of Object.entries({ question, answer, id, system: partial.system })) {
    if (name !== undefined && !names.includes(name)) {
      throw new UserError(`${basename(file)}: missing ${role} field "${name}" (fields: ${list})`);
    }
  }
  return { question, answer, id, kind: partial.kind, system: partial.system };
}

function toText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return undefined;
}

function buildProblem(
  source: string,
  id: string,
  question: string,
  answer: string | string[],
  system: string | undefined,
  kind: AnswerKind | undefined,
): Problem {
  const first = Array.isArray(answer) ? answer[0] : answer;
  const k: AnswerKind = kind ?? (first.trim() !== "" && Number.isFinite(Number(first.replace(/,/g, ""))) ? "number" : "exact");
  const reference: Reference = { kind: k, value: first };
  if (Array.isArray(answer)) reference.alternatives = answer;
  const messages: ChatMessage[] = [];
  if (system) messages.push({ role: "system", content: system });
  messages.push({ role: "user", content: question });
  return { id, source, messages, reference, meta: { question } };
}

/** Stream problems from a JSONL file through a mapping (guessed from the first record when partial). */
export async function* loadJsonl(path: string, report: Report, partial?: Partial<FieldMapping>): AsyncGenerator<Problem> {
  let mapping: FieldMapping | null = null;
  const source = basename(path);
  const seen = new Set<string>();
  for await (const { line, text } of readLines(path, report)) {
    const rec = parseJsonLine(path, line, text, report);
    if (!rec) continue;
    mapping ??= resolveMapping(path, Object.keys(rec), partial);
    const bad = (field: string, problem: string) => report(new RowError(path, { line }, problem, field));
    const question = toText(rec[mapping.question]);
    if (question === undefined || question.trim() === "") {
      bad(mapping.question, rec[mapping.question] === undefined ? "is missing" : "is empty or not text");
      continue;
    }
    const raw = rec[mapping.answer];
    const answer = Array.isArray(raw) ? raw.map(toText).filter((a): a is string => a !== undefined && a.trim() !== "") : toText(raw);
    if (answer === undefined || answer.length === 0 || (typeof answer === "string" && answer.trim() === "")) {
      bad(mapping.answer, raw === undefined ? "is missing" : "is empty or not text");
      continue;
    }
    const id = mapping.id !== undefined ? toText(rec[mapping.id]) : String(line - 1);
    if (id === undefined || id.trim() === "") {
      bad(mapping.id!, "is missing or empty");
      continue;
    }
    if (seen.has(id)) {
      bad(mapping.id ?? "id", `repeats id ${id}`);
      continue;
    }
    seen.add(id);
    const system = mapping.system !== undefined ? toText(rec[mapping.system]) : undefined;
    yield buildProblem(source, id, question, answer, system, mapping.kind);
  }
  if (mapping === null) throw new UserError(`${basename(path)}: the file has no records`);
}

/** Stream problems from a CSV file (header row first) through a mapping. */
export async function* loadCsv(path: string, report: Report, partial?: Partial<FieldMapping>): AsyncGenerator<Problem> {
  let header: string[] | null = null;
  let mapping: FieldMapping | null = null;
  const source = basename(path);
  const seen = new Set<string>();
  for await (const rec of readCsv(path, report)) {
    if (header === null) {
      header = rec.fields.map((h) => h.trim());
      mapping = resolveMapping(path, header, partial);
      continue;
    }
    const place = { row: rec.record - 1, line: rec.line };
    if (rec.fields.length !== header.length) {
      report(new RowError(path, place, `has ${rec.fields.length} fields, expected ${header.length} like the header`));
      continue;
    }
    const h = header;
    const get = (name: string) => rec.fields[h.indexOf(name)];
    const m = mapping!;
    const bad = (field: string, problem: string) => report(new RowError(path, place, problem, field));
    const question = get(m.question);
    if (question.trim() === "") {
      bad(m.question, "is empty");
      continue;
    }
    const answer = get(m.answer);
    if (answer.trim() === "") {
      bad(m.answer, "is empty");
      continue;
    }
    const id = m.id !== undefined ? get(m.id).trim() : String(place.row);
    if (id === "") {
      bad(m.id!, "is empty");
      continue;
    }
    if (seen.has(id)) {
      bad(m.id ?? "id", `repeats id ${id}`);
      continue;
    }
    seen.add(id);
    yield buildProblem(source, id, question, answer.trim(), m.system !== undefined ? get(m.system) : undefined, m.kind);
  }
  if (header === null) throw new UserError(`${basename(path)}: the file is empty`);
}
