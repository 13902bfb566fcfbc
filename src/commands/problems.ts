// `concord problems <file|folder|builtin>`: list the problems of a problem set.
import { InvalidArgumentError, Option, type Command } from "commander";
import stringWidth from "string-width";
import stripAnsi from "strip-ansi";
import type { AnswerKind, Problem } from "../core/types.js";
import { UserError } from "../errors.js";
import { detectFormat, loadProblems, PROBLEM_FORMATS, type FieldMapping, type ProblemFormat, type RowError } from "../problems/index.js";

const KINDS: AnswerKind[] = ["integer", "decimal", "date", "weeks_days", "number", "exact", "free"];
const FIELD_ROLES = ["question", "answer", "id", "system"] as const;

export interface ProblemsOptions {
  set?: string;
  format?: ProblemFormat;
  fields?: Partial<FieldMapping>;
  kind?: AnswerKind;
  json?: boolean;
  limit?: number;
}

/** Dataset text is untrusted: escape sequences and line breaks never reach the terminal. */
export function oneLineText(text: string): string {
  return stripAnsi(text)
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/** Cut text to a display width (wide characters count double), marking the cut with "…". */
export function truncateToWidth(text: string, width: number): string {
  if (width <= 0) return "";
  if (stringWidth(text) <= width) return text;
  let out = "";
  let used = 0;
  for (const ch of text) {
    const w = stringWidth(ch);
    if (used + w > width - 1) break;
    out += ch;
    used += w;
  }
  return out + "…";
}

function padTo(text: string, width: number): string {
  return text + " ".repeat(Math.max(0, width - stringWidth(text)));
}

/** The reference answer as one short line. */
export function referenceText(p: Problem): string {
  const r = p.reference;
  if (r.kind === "decimal" && r.lower !== undefined && r.upper !== undefined) return `${r.value} [${r.lower}, ${r.upper}]`;
  const extra = r.alternatives && r.alternatives.length > 1 ? ` (+${r.alternatives.length - 1} more)` : "";
  return truncateToWidth(oneLineText(r.value), 40) + extra;
}

function questionText(p: Problem): string {
  const q = p.meta.question;
  if (typeof q === "string" && q.trim() !== "") return oneLineText(q);
  const user = [...p.messages].reverse().find((m) => m.role === "user");
  return oneLineText(user?.content ?? "");
}

export function parseLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError("expected a whole number of 1 or more");
  return n;
}

export function parseFields(value: string): Partial<FieldMapping> {
  const out: Partial<Record<(typeof FIELD_ROLES)[number], string>> = {};
  for (const part of value.split(",")) {
    const eq = part.indexOf("=");
    const role = part.slice(0, eq).trim() as (typeof FIELD_ROLES)[number];
    const name = part.slice(eq + 1).trim();
    if (eq < 0 || !FIELD_ROLES.includes(role) || name === "") {
      throw new InvalidArgumentError(`expected ROLE=NAME pairs separated by commas, ROLE one of ${FIELD_ROLES.join(", ")}; got "${part}"`);
    }
    out[role] = name;
  }
  return out;
}

async function write(text: string): Promise<void> {
  if (!process.stdout.write(text)) await new Promise<void>((resolve) => process.stdout.once("drain", () => resolve()));
}

/** List the problems; returns the exit code (1 when any row was bad). */
export async function problemsCommand(source: string | undefined, opts: ProblemsOptions): Promise<number> {
  if (opts.set !== undefined && opts.set !== "demo" && opts.set !== "builtin") throw new UserError(`unknown set "${opts.set}" (built-in sets: demo)`);
  const path = opts.set !== undefined ? "builtin" : source;
  if (path === undefined) throw new UserError('name a problem file or folder, or "builtin" for the demo set (see concord problems --help)');
  const errors: RowError[] = [];
  const onError = (err: RowError): void => {
    errors.push(err);
    process.stderr.write(`concord: ${err.message}\n`);
  };
  const format = opts.set !== undefined ? "builtin" : (opts.format ?? (opts.fields || opts.kind ? await detectFormat(path) : undefined));
  // A mapping that silently does nothing would list the file as if it had been applied.
  if ((opts.fields || opts.kind) && format !== "jsonl" && format !== "csv") {
    const flag = opts.fields ? "--fields" : "--kind";
    process.stderr.write(
      `concord: ${flag} applies only to generic JSONL/CSV; ${path} is read as ${format} (add --format jsonl or --format csv to map its fields yourself)\n`,
    );
    return 2;
  }
  const fields = opts.kind ? { ...opts.fields, kind: opts.kind } : opts.fields;
  const problems = loadProblems(path, { format, fields, onError });
  const limit = opts.limit ?? Infinity;
  const tty = process.stdout.isTTY === true;
  const columns = tty ? process.stdout.columns || 80 : Infinity;

  // Column widths come from the first rows; later wider cells just push the line out.
  const buffered: Problem[] = [];
  let widths: [number, number, number] | null = null;
  const emit = async (p: Problem): Promise<void> => {
    if (opts.json) return write(JSON.stringify(p) + "\n");
    const cells = [oneLineText(p.id), p.reference.kind, referenceText(p)];
    const prefix = cells.map((c, i) => padTo(c, widths![i])).join("  ") + "  ";
    const room = columns - stringWidth(prefix);
    return write(prefix + (room === Infinity ? questionText(p) : truncateToWidth(questionText(p), Math.max(room, 10))) + "\n");
  };
  const flush = async (): Promise<void> => {
    widths = [0, 1, 2].map((i) =>
      Math.min(
        i === 2 ? 40 : 28,
        Math.max(0, ...buffered.map((p) => stringWidth(i === 0 ? oneLineText(p.id) : i === 1 ? p.reference.kind : referenceText(p)))),
      ),
    ) as [number, number, number];
    for (const p of buffered.splice(0)) await emit(p);
  };

  let count = 0;
  for await (const p of problems) {
    if (count >= limit) break;
    count++;
    if (widths === null && !opts.json) {
      buffered.push(p);
      if (buffered.length >= 50) await flush();
    } else await emit(p);
  }
  if (widths === null && buffered.length) await flush();
  if (count === 0 && errors.length === 0) process.stderr.write("concord: no problems found\n");
  if (errors.length)
    process.stderr.write(`concord: ${errors.length} bad row${errors.length > 1 ? "s" : ""} skipped, ${count} problem${count === 1 ? "" : "s"} listed\n`);
  return errors.length ? 1 : 0;
}

export function register(program: Command): void {
  program
    .command("problems")
    .description("list the problems of a problem set (MedCalc-Bench CSV, GSM8K JSONL, Instruction Induction folder, any JSONL/CSV, or builtin)")
    .argument("[source]", 'problem file or folder, or "builtin" for the demo set')
    .option("--set <name>", 'a built-in set instead of a file ("demo")')
    .addOption(
      new Option("-f, --format <format>", "read the file as this format (default: recognised from the file)").choices(
        PROBLEM_FORMATS.filter((f) => f !== "builtin"),
      ),
    )
    .option("--fields <map>", "generic JSONL/CSV: which fields hold what, e.g. question=prompt,answer=target,id=uid,system=sys", parseFields)
    .addOption(
      new Option("--kind <kind>", "generic JSONL/CSV: the answer kind of every row (default: number when the answer is a number, else exact)").choices(KINDS),
    )
    .option("--json", "print JSON Lines: one full problem object (id, source, messages, reference, meta) per line")
    .option("-n, --limit <n>", "list at most N problems", parseLimit)
    .addHelpText(
      "after",
      `
Output: one line per problem: id, answer kind, reference answer, question (cut to the terminal
width on a terminal). Bad rows are reported on stderr, one line each, and skipped; the exit code
is then 1, but the good rows are still listed.

Examples:
  concord problems builtin
  concord problems ../data/medcalc-bench/test_data.csv --limit 10
  concord problems gsm8k/test.jsonl --json | head -1
  concord problems my.csv --fields question=prompt,answer=target --kind exact`,
    )
    .action(async (source: string | undefined, opts: ProblemsOptions) => {
      // A closed pipe (`| head`) ends the listing quietly.
      process.stdout.on("error", (err: NodeJS.ErrnoException) => {
        if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
        throw err;
      });
      const code = await problemsCommand(source, opts);
      if (code) process.exitCode = code;
    });
}
