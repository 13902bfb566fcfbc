// `concord report <results-dir> [--json]`: the consistency/accuracy tables of a results folder.
import type { Command } from "commander";
import { UserError, oneLine } from "../errors.js";
import { buildReport, formatIssue, readResults, renderText, reportJson, writeSummary } from "../results/index.js";

const MAX_ISSUE_LINES = 10;

interface ReportOptions {
  json?: boolean;
  write?: boolean;
}

export async function reportCommand(dir: string, opts: ReportOptions): Promise<number> {
  let read;
  try {
    // Without the chains: the report does not use them, and a big file then fits in memory.
    read = await readResults(dir, { slim: true });
  } catch (err) {
    throw new UserError(oneLine(err));
  }
  // A badly damaged file must not bury the report: the first lines say where, a count the rest.
  for (const issue of read.issues.slice(0, MAX_ISSUE_LINES)) process.stderr.write(`concord: ${oneLine(formatIssue(issue))}\n`);
  if (read.issues.length > MAX_ISSUE_LINES) process.stderr.write(`concord: ... and ${read.issues.length - MAX_ISSUE_LINES} more bad lines\n`);
  if (read.records.length === 0) throw new UserError(`${dir}: no result records`);
  const report = buildReport(read.records);
  if (opts.write) await writeSummary(dir, report);
  process.stdout.write(opts.json ? JSON.stringify(reportJson(report), null, 2) + "\n" : renderText(report));
  // A torn last line is the expected trace of an interrupted run; any other bad line is an error.
  return read.issues.some((i) => !i.torn) ? 1 : 0;
}

export function register(program: Command): void {
  program
    .command("report <results-dir>")
    .description("print pairwise consistency, accuracy and the agreement split for a results folder")
    .option("--json", "print the same data as JSON")
    .option("--write", "also rewrite summary.csv and report.md in the folder")
    .action(async (dir: string, opts: ReportOptions) => {
      const code = await reportCommand(dir, opts);
      if (code) process.exitCode = code;
    });
}
