// MedCalc-Bench: one problem per CSV row, with the paper's zero-shot prompt.
import { medcalcKind, normalizeDate, parseWeeksDays } from "../core/answers.js";
import type { ChatMessage, Problem, Reference } from "../core/types.js";
import { readCsv, RowError, type Report } from "./read.js";
import { UserError } from "../errors.js";
import { basename } from "node:path";

const MEDCALC_REQUIRED = ["Row Number", "Calculator ID", "Patient Note", "Question", "Ground Truth Answer"] as const;

const ANSWER_FORMAT =
  '{"step_by_step_thinking": str(your_step_by_step_thinking_procress_to_solve_the_question), "answer": str(short_and_direct_answer_of_the_question)}';

/** The zero-shot prompt of MedCalc-Bench as the paper ran it (typos included: models saw them). */
export function medcalcMessages(note: string, question: string): ChatMessage[] {
  return [
    {
      role: "system",
      content:
        "You are a helpful assistant for calculating a score for a given patient note. Please think step-by-step to solve the question and then generate the required score. " +
        `Your output should only contain a JSON dict formatted as ${ANSWER_FORMAT}.`,
    },
    {
      role: "user",
      content: `Here is the patient note:\n${note}\n\nHere is the task:\n${question}\n\nPlease directly output the JSON dict formatted as ${ANSWER_FORMAT}:`,
    },
  ];
}

/** True when a CSV header looks like MedCalc-Bench's. */
export function isMedcalcHeader(header: string[]): boolean {
  const set = new Set(header.map((h) => h.trim()));
  return set.has("Calculator ID") && set.has("Ground Truth Answer") && set.has("Patient Note");
}

function num(text: string): number | undefined {
  const t = text.trim();
  if (t === "") return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** Stream MedCalc-Bench problems from its CSV. Bad rows are reported and skipped. */
export async function* loadMedcalc(path: string, report: Report): AsyncGenerator<Problem> {
  let columns: Map<string, number> | null = null;
  let width = 0;
  const seen = new Set<string>();
  for await (const rec of readCsv(path, report)) {
    if (columns === null) {
      const header = rec.fields.map((h) => h.trim());
      const missing = MEDCALC_REQUIRED.filter((c) => !header.includes(c));
      if (missing.length) {
        throw new UserError(
          `${basename(path)}: missing column${missing.length > 1 ? "s" : ""} ${missing.map((c) => `"${c}"`).join(", ")} (a MedCalc-Bench CSV needs ${MEDCALC_REQUIRED.join(", ")})`,
        );
      }
      columns = new Map(header.map((h, i) => [h, i]));
      width = header.length;
      continue;
    }
    const place = { row: rec.record - 1, line: rec.line };
    if (rec.fields.length !== width) {
      report(new RowError(path, place, `has ${rec.fields.length} fields, expected ${width} like the header`));
      continue;
    }
    const cols = columns;
    const get = (c: string): string => {
      const i = cols.get(c);
      return i === undefined ? "" : rec.fields[i];
    };
    const fail = (field: string, problem: string): void => report(new RowError(path, place, problem, field));
    const empty = MEDCALC_REQUIRED.find((c) => get(c).trim() === "");
    if (empty) {
      fail(empty, "is empty");
      continue;
    }
    const id = get("Row Number").trim();
    if (seen.has(id)) {
      fail("Row Number", `repeats id ${id}`);
      continue;
    }
    const calculatorId = Number(get("Calculator ID").trim());
    if (!Number.isInteger(calculatorId)) {
      fail("Calculator ID", `is not a whole number: "${get("Calculator ID").slice(0, 40)}"`);
      continue;
    }
    const outputType = get("Output Type").trim();
    const kind = medcalcKind(calculatorId, outputType);
    const value = get("Ground Truth Answer").trim();
    const reference: Reference = { kind, value };
    if (kind === "date" && normalizeDate(value) === null) {
      fail("Ground Truth Answer", `is not a date (MM/DD/YYYY): "${value.slice(0, 40)}"`);
      continue;
    }
    if (kind === "weeks_days" && parseWeeksDays(value) === null) {
      fail("Ground Truth Answer", `is not a (weeks, days) pair: "${value.slice(0, 40)}"`);
      continue;
    }
    if (kind === "integer" || kind === "decimal") {
      if (num(value) === undefined) {
        fail("Ground Truth Answer", `is not a number: "${value.slice(0, 40)}"`);
        continue;
      }
    }
    if (kind === "decimal") {
      const limit = (field: string): number | undefined => {
        const text = get(field).trim();
        const n = num(text);
        if (n === undefined) {
          fail(
            field,
            !columns!.has(field)
              ? "is missing (decimal calculators need limits)"
              : text === ""
                ? "is empty (decimal calculators need limits)"
                : `is not a number: "${text.slice(0, 40)}"`,
          );
        }
        return n;
      };
      const lower = limit("Lower Limit");
      if (lower === undefined) continue;
      const upper = limit("Upper Limit");
      if (upper === undefined) continue;
      if (lower > upper) {
        fail("Lower Limit", `${lower} is above the Upper Limit ${upper}`);
        continue;
      }
      reference.lower = lower;
      reference.upper = upper;
    }
    seen.add(id);
    const question = get("Question").trim();
    yield {
      id,
      source: "medcalc-bench",
      messages: medcalcMessages(get("Patient Note"), question),
      reference,
      meta: {
        question,
        calculatorId,
        calculatorName: get("Calculator Name") || null,
        category: get("Category") || null,
        outputType: outputType || null,
        noteId: get("Note ID") || null,
        noteType: get("Note Type") || null,
        // As written in the file: the paper reading evaluates these strings with Python's rules.
        groundTruthText: get("Ground Truth Answer"),
        lowerLimitText: cols.has("Lower Limit") ? get("Lower Limit") : null,
        upperLimitText: cols.has("Upper Limit") ? get("Upper Limit") : null,
      },
    };
  }
  if (columns === null) throw new UserError(`${basename(path)}: the file is empty`);
}
