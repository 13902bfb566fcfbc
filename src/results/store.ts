// A results folder: results.jsonl (one record per target answer), summary.csv and report.md.
// Appends are one write per line, so a crash leaves at most a torn last line; the reader names
// it and skips it. Summary files are replaced atomically.
import { promises as fs } from "node:fs";
import { join, basename } from "node:path";
import writeFileAtomic from "write-file-atomic";
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

/** Parse the text of one results file. */
export function parseResultsText(text: string, file: string): ReadResults {
  const records: ResultRecord[] = [];
  const issues: ReadIssue[] = [];
  const lines = text.split("\n");
  const endsClean = text.length === 0 || text.endsWith("\n");
  if (endsClean) lines.pop(); // the empty string after the final newline
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const isTornCandidate = !endsClean && i === lines.length - 1;
    if (raw.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      issues.push(
        isTornCandidate
          ? { file, line: lineNo, torn: true, message: "torn last line (incomplete write), skipped" }
          : { file, line: lineNo, torn: false, message: "not valid JSON, skipped" },
      );
      return;
    }
    const parsed = resultRecordSchema.safeParse(value);
    if (!parsed.success) {
      issues.push({ file, line: lineNo, torn: false, message: `${zodIssueLine(parsed.error)}, skipped` });
      return;
    }
    records.push(parsed.data);
  });
  return { records, issues };
}

export interface ReadResultsOptions {
  /** A folder without results.jsonl (or not there at all) reads as empty instead of failing. */
  missingOk?: boolean;
}

/**
 * Read the results file Concord writes in a results folder (results.jsonl), validating each
 * line. Other files are not results: a folder that merely holds *.jsonl files is refused.
 */
export async function readResults(dir: string, opts: ReadResultsOptions = {}): Promise<ReadResults> {
  const path = join(dir, RESULTS_FILE);
  let text: string;
  try {
    text = await fs.readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      if (opts.missingOk && code === "ENOENT") return { records: [], issues: [] };
      const st = await fs.stat(dir).catch(() => undefined);
      if (!st) throw new Error(`${dir}: no such results folder`);
      if (!st.isDirectory()) throw new Error(`${dir}: not a folder (a results folder holds ${RESULTS_FILE})`);
      throw new Error(`${dir}: not a results folder (no ${RESULTS_FILE})`);
    }
    throw new Error(`${path}: cannot read (${code ?? "error"})`);
  }
  return parseResultsText(text, path);
}

/**
 * Append records to `<dir>/results.jsonl`, one write per line. If the file ends in a torn line,
 * a newline is written first so the torn line stays alone (and is reported, not merged).
 */
export async function appendResults(dir: string, recs: readonly ResultRecord[], file = RESULTS_FILE): Promise<void> {
  // Validate the whole batch before touching the file: a bad record must never reach it, and a
  // batch is written whole or not at all.
  const lines = recs.map((rec) => JSON.stringify(resultRecordSchema.parse(rec)) + "\n");
  await fs.mkdir(dir, { recursive: true });
  const path = join(dir, basename(file));
  const handle = await fs.open(path, "a+");
  try {
    const { size } = await handle.stat();
    if (size > 0) {
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) await handle.write("\n");
    }
    // One write per line keeps each line whole if the process dies between them.
    for (const line of lines) await handle.write(line);
  } finally {
    await handle.close();
  }
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
  await fs.mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, SUMMARY_CSV), report.csv);
  await writeFileAtomic(join(dir, REPORT_MD), report.markdown);
}
