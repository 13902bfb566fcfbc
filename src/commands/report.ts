// `concord report <results-dir> [--json]`: the consistency/accuracy tables of a results folder.
import type { Command } from "commander";
import { UserError, oneLine } from "../errors.js";
import { variantLabel } from "../results/labels.js";
import { conditionAnswers } from "../results/report.js";
import { buildReport, formatIssue, readResults, renderText, reportJson, writeSummary } from "../results/index.js";
import { writeResultsHtml } from "./report-html.js";
import { compareConditions, findCondition, parseTargets } from "../results/analysis.js";
import { renderComparison } from "../results/report-extra.js";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { readRelayRecords, RELAY_FILE } from "../results/relay-store.js";
import { buildRelayReport, renderRelayReport, type RelayReport } from "../results/relay-report.js";
import { RESULTS_FILE } from "../results/store.js";

const MAX_ISSUE_LINES = 10;

interface ReportOptions {
  json?: boolean;
  write?: boolean;
  html?: string;
  reading?: string;
  traces?: string[];
  /** "paper" or a comma list of model ids / labels. */
  targets?: string;
  /** Two conditions to compare, paired over items. */
  compare?: string[];
  intervals?: boolean;
}

/** The relay report of a folder's relay.jsonl, or undefined when it has none; bad lines on stderr. */
async function relayReportOf(dir: string): Promise<{ report: RelayReport; bad: boolean } | undefined> {
  let read;
  try {
    read = await readRelayRecords(dir);
  } catch (err) {
    throw new UserError(oneLine(err));
  }
  if (!read.found) return undefined;
  for (const issue of read.issues.slice(0, MAX_ISSUE_LINES)) process.stderr.write(`concord: ${join(dir, RELAY_FILE)}:${issue.line}: ${issue.message}\n`);
  if (read.records.length === 0) throw new UserError(`${join(dir, RELAY_FILE)}: no relay records`);
  return { report: buildRelayReport(read.records), bad: read.issues.some((i) => !i.torn) };
}

export async function reportCommand(dir: string, opts: ReportOptions): Promise<number> {
  const relay = await relayReportOf(dir);
  if (relay && !existsSync(join(dir, RESULTS_FILE))) {
    process.stdout.write(opts.json ? JSON.stringify({ relay: relay.report }, null, 2) + "\n" : renderRelayReport(relay.report));
    return relay.bad ? 1 : 0;
  }
  let read;
  try {
    // Without the chains (a big file then fits in memory), unless the HTML page bins consistency by chain length.
    read = await readResults(dir, { slim: !opts.html });
  } catch (err) {
    throw new UserError(oneLine(err));
  }
  // A badly damaged file must not bury the report: the first lines say where, a count the rest.
  for (const issue of read.issues.slice(0, MAX_ISSUE_LINES)) process.stderr.write(`concord: ${oneLine(formatIssue(issue))}\n`);
  if (read.issues.length > MAX_ISSUE_LINES) process.stderr.write(`concord: ... and ${read.issues.length - MAX_ISSUE_LINES} more bad lines\n`);
  if (read.records.length === 0) throw new UserError(`${dir}: no result records`);
  const targets = opts.targets ? parseTargets(opts.targets, [...new Set(read.records.map((r) => r.target))]) : undefined;
  const report = buildReport(read.records, { targets, intervals: opts.intervals !== false });
  if (opts.write) await writeSummary(dir, report);
  if (opts.html) {
    await writeResultsHtml(dir, read.records, report, { file: opts.html, reading: opts.reading, traces: opts.traces });
    process.stderr.write(`concord: wrote ${opts.html}\n`);
  }
  let comparison;
  if (opts.compare) {
    if (opts.compare.length !== 2) throw new UserError('--compare takes two conditions (keys, or "label, variant" as the report prints them)');
    const answersOf = (name: string) => {
      const c = findCondition(report.conditions, name);
      return { key: c.key, label: `${c.label}, ${variantLabel(c.variant)}`, answers: conditionAnswers(read.records, c.key, "strict", targets) };
    };
    const [a, b] = opts.compare.map(answersOf);
    comparison = compareConditions(a, b);
    if (!opts.json) process.stdout.write(renderText(report) + "\n" + renderComparison(comparison, (k) => (k === a.key ? a.label : b.label)));
  }
  if (opts.json)
    process.stdout.write(
      JSON.stringify({ ...(reportJson(report) as object), ...(comparison ? { comparison } : {}), ...(relay ? { relay: relay.report } : {}) }, null, 2) + "\n",
    );
  else if (!comparison) process.stdout.write(renderText(report));
  if (relay && !opts.json) process.stdout.write("\n" + renderRelayReport(relay.report));
  // A torn last line is the expected trace of an interrupted run; any other bad line is an error.
  return read.issues.some((i) => !i.torn) ? 1 : 0;
}

export function register(program: Command): void {
  program
    .command("report <results-dir>")
    .description("print pairwise consistency, accuracy and the agreement split for a results folder")
    .option("--json", "print the same data as JSON")
    .option("--write", "also rewrite summary.csv and report.md in the folder")
    .option("--html <file>", "also write the figures as one self-contained HTML page")
    .option("--reading <reading>", "consistency reading the HTML figures draw: paper or strict", "paper")
    .option("--traces <path...>", "ensemble traces (genex row folders or logs) for the HTML page's whose-sentences-won figure")
    .option("--targets <list>", "only these targets: model ids or labels separated by commas, or paper (the paper's five)")
    .option("--compare <conditions...>", 'paired test between two conditions over their shared items (keys, or "label, variant")')
    .option("--no-intervals", "skip the 95% bootstrap intervals (1,000 draws per condition)")
    .action(async (dir: string, opts: ReportOptions) => {
      const code = await reportCommand(dir, opts);
      if (code) process.exitCode = code;
    });
}
