// Problem sets: recognise a file's format and stream its problems, reporting bad rows one line each.
import { stat } from "node:fs/promises";
import { basename, extname } from "node:path";
import { parse as parseCsvSync } from "csv-parse/sync";
import type { Problem } from "../core/types.js";
import { UserError } from "../errors.js";
import { BUILTIN_NAMES, builtinProblems } from "./builtin.js";
import { loadCsv, loadJsonl, type FieldMapping } from "./generic.js";
import { isGsm8kRecord, loadGsm8k } from "./gsm8k.js";
import { isInductionFolder, isInductionTask, loadInduction } from "./induction.js";
import { isMedcalcHeader, loadMedcalc } from "./medcalc.js";
import { fileError, peekText, readUtf8, RowError } from "./read.js";

export { RowError } from "./read.js";
export type { FieldMapping } from "./generic.js";
export { builtinProblems } from "./builtin.js";
export { pandasSample, sampleProblems, selectByIds } from "./sample.js";
export { medcalcMessages } from "./medcalc.js";

export const PROBLEM_FORMATS = ["medcalc", "gsm8k", "induction", "jsonl", "csv", "builtin"] as const;
export type ProblemFormat = (typeof PROBLEM_FORMATS)[number];

export interface LoadOptions {
  /** Skip recognition and read the file as this format. */
  format?: ProblemFormat;
  /** Field mapping for generic JSONL/CSV (missing parts are guessed from the field names). */
  fields?: Partial<FieldMapping>;
  /** Called once per bad row; loading goes on. */
  onError?: (err: RowError) => void;
  /** Bad rows are also pushed here. With neither onError nor errors, the first bad row is thrown. */
  errors?: RowError[];
}

function isBuiltinName(path: string): boolean {
  return (BUILTIN_NAMES as readonly string[]).includes(path);
}

function firstLine(text: string): string {
  const nl = text.indexOf("\n");
  return (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, "");
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Read a whole (small) JSON file; errors become one line. */
async function readWholeJson(path: string): Promise<unknown> {
  let text = "";
  try {
    for await (const chunk of readUtf8(path)) text += chunk;
  } catch (err) {
    if (err instanceof RowError) throw new UserError(err.message);
    throw err;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UserError(`${basename(path)}: not valid JSON (${(err as Error).message})`);
  }
}

/**
 * The format of a problem file: "builtin"/"demo" name the demo set; a folder is Instruction
 * Induction; .json is one Instruction Induction task; .jsonl is GSM8K when its first record
 * has `question` and an `answer` with "####", else generic JSONL; .csv is MedCalc-Bench when
 * its header has "Calculator ID", "Patient Note" and "Ground Truth Answer", else generic CSV.
 * Other extensions are sniffed: a first character "{" means JSONL, otherwise CSV.
 */
export async function detectFormat(path: string): Promise<ProblemFormat> {
  if (isBuiltinName(path) && !(await exists(path))) return "builtin";
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (err) {
    throw fileError(path, err);
  }
  if (isDir) {
    if (await isInductionFolder(path)) return "induction";
    throw new UserError(`${path}: is a folder but not an Instruction Induction dataset (expected induction_input/ and annotations/)`);
  }
  const { text } = await peekText(path);
  if (text.trim() === "") throw new UserError(`${basename(path)}: the file is empty`);
  const ext = extname(path).toLowerCase();
  if (ext === ".json") {
    const json = await readWholeJson(path);
    if (isInductionTask(json)) return "induction";
    throw new UserError(
      `${basename(path)}: unrecognised JSON (expected an Instruction Induction task with "examples"; for a list of records use JSON Lines, one object per line)`,
    );
  }
  const start = text.trimStart();
  const looksJsonl = ext === ".jsonl" || ext === ".ndjson" || (ext !== ".csv" && start.startsWith("{"));
  if (looksJsonl) {
    try {
      if (isGsm8kRecord(JSON.parse(firstLine(start)))) return "gsm8k";
    } catch {
      // the loader reports the bad line with its number
    }
    return "jsonl";
  }
  try {
    const header = (parseCsvSync(firstLine(start), { relax_quotes: true }) as string[][])[0] ?? [];
    if (isMedcalcHeader(header)) return "medcalc";
  } catch {
    // the loader reports the quoting problem with its line
  }
  return "csv";
}

/**
 * Stream the problems of a file, folder or the demo set ("builtin"/"demo"). Bad rows go to
 * `onError`/`errors` as one-line RowErrors and the other rows still load. A file that cannot
 * be used at all (missing, empty, missing columns, unknown format) throws a UserError.
 */
export async function* loadProblems(path: string, opts: LoadOptions = {}): AsyncGenerator<Problem> {
  const format = opts.format ?? (await detectFormat(path));
  let loaded = 0;
  let badBeforeFirst = 0;
  const report = (err: RowError): void => {
    // A file read as the wrong format fails on every row: stop early instead of flooding.
    if (loaded === 0 && ++badBeforeFirst > MAX_BAD_BEFORE_FIRST) {
      throw new UserError(`${basename(path)}: the first ${MAX_BAD_BEFORE_FIRST} rows are all bad; is it really ${format} (see --format)? Last: ${err.message}`);
    }
    if (!opts.onError && !opts.errors) throw err;
    opts.onError?.(err);
    opts.errors?.push(err);
  };
  let source: AsyncGenerator<Problem> | Problem[];
  switch (format) {
    case "builtin":
      source = builtinProblems();
      break;
    case "medcalc":
      source = loadMedcalc(path, report);
      break;
    case "gsm8k":
      source = loadGsm8k(path, report);
      break;
    case "induction":
      source = loadInduction(path, report);
      break;
    case "jsonl":
      source = loadJsonl(path, report, opts.fields);
      break;
    case "csv":
      source = loadCsv(path, report, opts.fields);
      break;
    default:
      throw new UserError(`unknown format "${String(format)}" (expected one of ${PROBLEM_FORMATS.join(", ")})`);
  }
  for await (const p of source) {
    loaded++;
    yield p;
  }
}

const MAX_BAD_BEFORE_FIRST = 20;

/** Every problem of a file at once, with the bad rows. */
export async function loadAllProblems(path: string, opts: Omit<LoadOptions, "errors"> = {}): Promise<{ problems: Problem[]; errors: RowError[] }> {
  const errors: RowError[] = [];
  const problems: Problem[] = [];
  for await (const p of loadProblems(path, { ...opts, errors })) problems.push(p);
  return { problems, errors };
}
