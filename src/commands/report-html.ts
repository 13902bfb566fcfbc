// The HTML side of `concord report --html`: gathers what the page can draw beside the report
// (ensemble traces, relay files in the folder) and writes the page atomically.
import { basename, dirname, resolve } from "node:path";
import { ensureDir, writeFileVerified } from "../fsutil/write.js";
import type { Reading } from "../core/consistency.js";
import { loadGenexTrace, type GenexTrace } from "../backends/genex-trace.js";
import { oneLine, UserError } from "../errors.js";
import { readRelayFiles, renderResultsHtml } from "../report-html/index.js";
import type { ResultRecord, ResultsReport } from "../results/index.js";

export interface ResultsHtmlOptions {
  file: string;
  reading?: string;
  traces?: string[];
}

export async function writeHtmlFile(file: string, html: string): Promise<void> {
  // One verified write path: every byte written and checked, or the old page stays and the error names the file.
  await ensureDir(dirname(resolve(file)), "page");
  await writeFileVerified(file, html, { mode: 0o644, what: "page" });
}

export async function writeResultsHtml(dir: string, records: ResultRecord[], report: ResultsReport, opts: ResultsHtmlOptions): Promise<string> {
  const reading = (opts.reading ?? "paper") as Reading;
  if (reading !== "paper" && reading !== "strict") throw new UserError(`--reading: expected paper or strict, got "${opts.reading}"`);
  const traces: GenexTrace[] = [];
  for (const t of opts.traces ?? []) traces.push(await loadGenexTrace(t));
  const relays = await readRelayFiles(dir, (line) => process.stderr.write(`concord: ${oneLine(line)}\n`));
  const html = await renderResultsHtml({ source: basename(resolve(dir)), records, report, reading, traces, relays });
  await writeHtmlFile(opts.file, html);
  return html;
}
