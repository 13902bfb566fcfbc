// A results folder: results.jsonl (one record per target answer), summary.csv and report.md.
// A batch is appended whole or not at all (fsutil/write.ts), so a crash leaves at most a torn
// last line and a full disk none; the reader names a torn line and skips it. The file is read
// as a stream, line by line, so its size is bounded by the disk, not by a string's length.
// Summary files are replaced atomically and verified.
import { promises as fs } from "node:fs";
import { join, basename } from "node:path";
import { appendVerified, describeFsError, ensureDir, writeFileVerified } from "../fsutil/write.js";
import { resultRecordSchema, type ResultRecord } from "./schema.js";

/** The file appendResult writes to inside a results folder. */
export const RESULTS_FILE = "results.jsonl";
export const SUMMARY_CSV = "summary.csv";
export const REPORT_MD = "report.md";

/** A line that could not be read. `torn`: the unterminated last line of a file (a crash mid-write). */
export interface ReadIssue {
  file: string;
  line: number;
  torn: boolean;
  message: string;
}

export interface ReadResults {
  records: ResultRecord[];
  issues: ReadIssue[];
}

/** One line, for the user: "results.jsonl:12: field condition.kind: ...". */
export function formatIssue(issue: ReadIssue): string {
  return `${issue.file}:${issue.line}: ${issue.message}`;
}

/** Describe a zod failure in one line, naming the first failing field. */
export function zodIssueLine(error: { issues: Array<{ path: PropertyKey[]; message: string }> }): string {
  const first = error.issues[0];
  if (!first) return "invalid record";
  const path = first.path.map(String).join(".");
  const more = error.issues.length > 1 ? ` (+${error.issues.length - 1} more)` : "";
  return `${path ? `field ${path}: ` : ""}${first.message}${more}`;
}

/** One line of a results file: a record, or the issue that keeps it out. `unterminated`: the last line, without its newline. */
function parseResultLine(raw: string, lineNo: number, unterminated: boolean, file: string): ResultRecord | ReadIssue | undefined {
  if (raw.trim() === "") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return unterminated
      ? { file, line: lineNo, torn: true, message: "torn last line (incomplete write), skipped" }
      : { file, line: lineNo, torn: false, message: "not valid JSON, skipped" };
  }
  const parsed = resultRecordSchema.safeParse(value);
  if (!parsed.success) return { file, line: lineNo, torn: false, message: `${zodIssueLine(parsed.error)}, skipped` };
  return parsed.data;
}

const isIssue = (v: ResultRecord | ReadIssue): v is ReadIssue => "message" in v && "torn" in v;

/** Parse the text of one results file. */
export function parseResultsText(text: string, file: string): ReadResults {
  const records: ResultRecord[] = [];
  const issues: ReadIssue[] = [];
  const lines = text.split("\n");
  const endsClean = text.length === 0 || text.endsWith("\n");
  if (endsClean) lines.pop(); // the empty string after the final newline
  lines.forEach((raw, i) => {
    const v = parseResultLine(raw, i + 1, !endsClean && i === lines.length - 1, file);
    if (v) (isIssue(v) ? issues : records).push(v as never);
  });
  return { records, issues };
}

/**
 * The lines of a file as a stream of raw bytes split at newlines, each decoded on its own (bad
 * UTF-8 spoils one line, not the rest). `unterminated` marks a last line with no newline.
 */
export async function* fileLines(
  handle: fs.FileHandle,
  trim: (line: Buffer) => Buffer = (line) => line,
): AsyncGenerator<{ line: number; text: string; unterminated: boolean }> {
  let pieces: Buffer[] = [];
  let line = 0;
  for await (const chunk of handle.createReadStream({ highWaterMark: 1 << 20, autoClose: false }) as AsyncIterable<Buffer>) {
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf(0x0a, start)) >= 0) {
      pieces.push(chunk.subarray(start, nl));
      const text = trim(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces)).toString("utf8");
      pieces = [];
      start = nl + 1;
      yield { line: ++line, text, unterminated: false };
    }
    // Copied: the stream may reuse its buffer.
    if (start < chunk.length) pieces.push(Buffer.from(chunk.subarray(start)));
  }
  if (pieces.length) yield { line: ++line, text: trim(Buffer.concat(pieces)).toString("utf8"), unterminated: true };
}

const COT_MEMBER = Buffer.from(',"cot":"');

/**
 * A record line without its chain (the top-level `"cot"` string), cut from the bytes before they
 * become text: a slim read of a big results file never holds a chain, not even for one line.
 * Anything unexpected (no such member, a nested one, an unterminated string) leaves the line
 * whole, and the parsed record's chain is dropped instead.
 */
export function withoutChain(line: Buffer): Buffer {
  // Walk the bytes before each candidate member, tracking strings and nesting, so a `"cot"` key
  // inside a nested object (or the text of a string) is never taken for the record's own.
  let depth = 0;
  let inString = false;
  let i = 0;
  for (let at = line.indexOf(COT_MEMBER); at >= 0; at = line.indexOf(COT_MEMBER, at + 1)) {
    for (; i < at; i++) {
      const c = line[i];
      if (inString) {
        if (c === 0x5c) i++;
        else if (c === 0x22) inString = false;
      } else if (c === 0x22) inString = true;
      else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) depth--;
    }
    if (i > at || inString || depth !== 1) continue;
    const end = closingQuote(line, at + COT_MEMBER.length);
    return end < 0 ? line : Buffer.concat([line.subarray(0, at), line.subarray(end + 1)]);
  }
  return line;
}

/** The index of the quote that ends a JSON string whose text starts at `from`; -1 if none. */
function closingQuote(json: Buffer, from: number): number {
  for (let i = from; i < json.length; i++) {
    const c = json[i];
    if (c === 0x5c) i++;
    else if (c === 0x22) return i;
  }
  return -1;
}

export interface ReadResultsOptions {
  /** A folder without results.jsonl (or not there at all) reads as empty instead of failing. */
  missingOk?: boolean;
  /** Leave out each record's chain (`cot`), the bulk of a big file: enough to report or resume. */
  slim?: boolean;
}

/**
 * Read the results file Concord writes in a results folder (results.jsonl), validating each
 * line. Other files are not results: a folder that merely holds *.jsonl files is refused.
 */
export async function readResults(dir: string, opts: ReadResultsOptions = {}): Promise<ReadResults> {
  const records: ResultRecord[] = [];
  const issues: ReadIssue[] = [];
  await forEachResult(dir, (rec) => records.push(rec), { ...opts, onIssue: (i) => issues.push(i) });
  return { records, issues };
}

/**
 * Stream every record of `<dir>/results.jsonl` to `onRecord`, one line at a time (memory stays
 * bounded by one line, whatever the file's size); bad lines go to `onIssue`.
 */
export async function forEachResult(
  dir: string,
  onRecord: (rec: ResultRecord) => void,
  opts: ReadResultsOptions & { onIssue?: (issue: ReadIssue) => void } = {},
): Promise<void> {
  const path = join(dir, RESULTS_FILE);
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, "r");
    if ((await handle.stat()).isDirectory()) {
      await handle.close();
      throw Object.assign(new Error("a folder"), { code: "EISDIR" });
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      if (opts.missingOk && code === "ENOENT") return;
      const st = await fs.stat(dir).catch(() => undefined);
      if (!st) throw new Error(`${dir}: no such results folder`);
      if (!st.isDirectory()) throw new Error(`${dir}: not a folder (a results folder holds ${RESULTS_FILE})`);
      throw new Error(`${dir}: not a results folder (no ${RESULTS_FILE})`);
    }
    throw new Error(`${path}: cannot read: ${describeFsError(err, path)}`);
  }
  try {
    for await (const { line, text, unterminated } of fileLines(handle, opts.slim ? withoutChain : undefined)) {
      const v = parseResultLine(text, line, unterminated, path);
      if (!v) continue;
      if (isIssue(v)) opts.onIssue?.(v);
      else {
        if (opts.slim) delete v.cot;
        onRecord(v);
      }
    }
  } catch (err) {
    throw new Error(`${path}: cannot read: ${describeFsError(err, path)}`);
  } finally {
    await handle.close();
  }
}

/**
 * Append records to `<dir>/results.jsonl`, the batch whole or not at all: a failed write (a
 * full disk) cuts the file back to where it was and throws a WriteError naming it. If the file
 * ends in a torn line, a newline is written first so the torn line stays alone (and is
 * reported, not merged).
 */
export async function appendResults(dir: string, recs: readonly ResultRecord[], file = RESULTS_FILE): Promise<void> {
  // Validate the whole batch before touching the file: a bad record must never reach it.
  await appendRecordLines(
    dir,
    basename(file),
    "results",
    recs.map((rec) => JSON.stringify(resultRecordSchema.parse(rec))),
  );
}

/** Append checked records' JSON lines to `<dir>/<file>` in one verified write (see appendResults). */
export async function appendRecordLines(dir: string, file: string, what: string, lines: readonly string[]): Promise<void> {
  await ensureDir(dir, "results");
  await appendVerified(join(dir, file), lines.map((l) => l + "\n").join(""), {
    separateTornLine: true,
    what,
    kept: `the ${lines.length === 1 ? "record was not written" : `${lines.length} records were not written`}; every record written before is kept`,
  });
}

export async function appendResult(dir: string, rec: ResultRecord, file = RESULTS_FILE): Promise<void> {
  await appendResults(dir, [rec], file);
}

/** What writeSummary needs: the CSV and Markdown renderings of a report. */
export interface SummaryFiles {
  csv: string;
  markdown: string;
}

/** Replace summary.csv and report.md atomically (writeSummary in report.ts renders them). */
export async function writeSummaryFiles(dir: string, report: SummaryFiles): Promise<void> {
  await ensureDir(dir, "results");
  await writeFileVerified(join(dir, SUMMARY_CSV), report.csv, { what: "summary" });
  await writeFileVerified(join(dir, REPORT_MD), report.markdown, { what: "report" });
}
