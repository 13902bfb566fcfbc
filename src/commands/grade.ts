// `concord grade <replies.jsonl> --set <dataset> [--reading paper|concord] [--json]`: grade
// generated replies against a problem set, by the paper's rules or Concord's.
import { Option, type Command } from "commander";
import { concordGrade, GRADE_READINGS, paperGrade, type GradeReading, type ReadingGrade } from "../core/readings.js";
import { PyUnsupported } from "../core/pyeval.js";
import type { Problem } from "../core/types.js";
import { UserError, oneLine } from "../errors.js";
import { loadSet } from "../engine/problemset.js";
import { readLines } from "../problems/read.js";
import { oneLineText, truncateToWidth } from "./problems.js";

export interface GradeOptions {
  set: string;
  reading: GradeReading;
  json?: boolean;
  model?: string;
}

export interface GradeLine {
  id: string | null;
  answer: string | null;
  correct: boolean;
  excluded: boolean;
  error?: string;
}

interface ReplyLine {
  id: string;
  reply: string;
  model?: string;
}

function parseReplyLine(text: string): ReplyLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UserError("is not JSON");
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new UserError('is not an object like {"id": ..., "reply": ...}');
  const o = value as Record<string, unknown>;
  if (typeof o.id !== "string" && typeof o.id !== "number") throw new UserError('has no "id" (a string or number)');
  if (typeof o.reply !== "string") throw new UserError('has no "reply" string');
  if (o.model !== undefined && typeof o.model !== "string") throw new UserError('"model" is not a string');
  return { id: String(o.id), reply: o.reply, model: o.model as string | undefined };
}

/** Grades one reply by the chosen reading. */
export function gradeReply(reply: string, problem: Problem, reading: GradeReading, model?: string): ReadingGrade {
  if (reading === "concord") return concordGrade(reply, problem);
  const g = paperGrade(reply, problem, model);
  if (!g) throw new UserError(`problem ${problem.id}: the paper reading grades MedCalc-Bench problems only (use --reading concord)`);
  return g;
}

/** Grades every line of a replies file, in order; bad lines become error lines and the status 1. */
export async function gradeCommand(file: string, opts: GradeOptions): Promise<number> {
  const problems = await loadSet(opts.set);
  const byId = new Map(problems.map((p) => [p.id, p]));
  if (opts.reading === "paper" && !problems.some((p) => p.source === "medcalc-bench")) {
    throw new UserError(`${opts.set}: the paper reading grades MedCalc-Bench problems only (use --reading concord)`);
  }
  let failed = 0;
  let graded = 0;
  let correct = 0;
  let excluded = 0;
  const out = (line: GradeLine): void => {
    if (opts.json) process.stdout.write(JSON.stringify(line) + "\n");
    else {
      const verdict = line.error ? `error: ${oneLine(line.error)}` : line.excluded ? "excluded" : line.correct ? "correct" : "wrong";
      const answer = line.answer === null ? "-" : truncateToWidth(oneLineText(line.answer), 40);
      process.stdout.write(`${oneLineText(line.id ?? "?")}\t${answer}\t${verdict}\n`);
    }
  };
  const report = (err: { message: string }): void => {
    throw new UserError(oneLine(err));
  };
  for await (const { line, text } of readLines(file, report)) {
    if (text.trim() === "") continue;
    let id: string | null = null;
    try {
      // The id, when the line has one, stays on its error line too.
      const peek = (() => {
        try {
          return (JSON.parse(text) as { id?: unknown }).id;
        } catch {
          return undefined;
        }
      })();
      if (typeof peek === "string" || typeof peek === "number") id = String(peek);
      const r = parseReplyLine(text);
      id = r.id;
      const problem = byId.get(r.id);
      if (!problem) throw new UserError(`no problem "${r.id}" in ${opts.set}`);
      let g: ReadingGrade;
      try {
        g = gradeReply(r.reply, problem, opts.reading, r.model ?? opts.model);
      } catch (err) {
        if (err instanceof PyUnsupported) throw new UserError(`the paper reading cannot reproduce Python here (${err.message})`);
        throw err;
      }
      graded++;
      if (g.correct) correct++;
      if (g.excluded) excluded++;
      out({ id, answer: g.answer, correct: g.correct, excluded: g.excluded });
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      failed++;
      process.stderr.write(`concord: ${oneLine(file)} line ${line}: ${oneLine(err)}\n`);
      out({ id, answer: null, correct: false, excluded: true, error: oneLine(err) });
    }
  }
  process.stderr.write(
    `graded ${graded} repl${graded === 1 ? "y" : "ies"} (${opts.reading} reading): ${correct} correct, ${excluded} excluded${failed ? `, ${failed} not graded` : ""}\n`,
  );
  return failed ? 1 : 0;
}

export function register(program: Command): void {
  program
    .command("grade <replies.jsonl>")
    .description('grade replies ({"id", "reply"} per line) against a problem set, by the paper\'s rules or Concord\'s')
    .requiredOption("--set <file>", "the problem set the ids come from (a MedCalc-Bench CSV for the paper reading)")
    .addOption(
      new Option("--reading <reading>", "paper: the authors' extraction and grading; concord: Concord's own").choices([...GRADE_READINGS]).default("paper"),
    )
    .option("--model <name>", 'the model name the paper reading checks for "gpt-oss" (a line\'s "model" field wins)')
    .option("--json", 'one JSON line per reply: {"id", "answer", "correct", "excluded"}')
    .action(async (file: string, opts: GradeOptions) => {
      const code = await gradeCommand(file, opts);
      if (code) process.exitCode = code;
    });
}
