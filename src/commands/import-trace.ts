// `concord import trace <file-or-folder> --out <recording.jsonl>`: the paper's ensemble traces
// (a selected_distributions_row_K.json, a folder of them, or an ensemble console log) as a
// recording that replay profiles can serve.
import type { Command } from "commander";
import { UserError } from "../errors.js";
import { loadGenexTrace, traceToRecording, writeRecordingFile } from "../backends/genex-trace.js";

export interface ImportTraceOptions {
  out: string;
  evaluator?: string;
  rows?: string;
  pieceMs?: number;
  channel?: "content" | "reasoning";
}

export interface ImportTraceSummary {
  source: string;
  out: string;
  format: string;
  generators: string[];
  evaluator?: string;
  problems: number;
  finished: number;
  steps: number;
  exchanges: number;
}

export async function importTrace(input: string, options: ImportTraceOptions): Promise<ImportTraceSummary> {
  if (!options.out) throw new UserError("import trace: --out <recording.jsonl> is required");
  const trace = await loadGenexTrace(input, { evaluator: options.evaluator, rows: options.rows });
  const recording = traceToRecording(trace, { pieceMs: options.pieceMs, channel: options.channel });
  try {
    await writeRecordingFile(options.out, recording);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UserError(`${options.out}: cannot write the recording (${code ?? "write error"})`);
  }
  return {
    source: input,
    out: options.out,
    format: trace.format,
    generators: trace.generators,
    evaluator: trace.evaluator,
    problems: trace.problems.length,
    finished: trace.problems.filter((p) => p.finished).length,
    steps: trace.problems.reduce((n, p) => n + p.steps.length, 0),
    exchanges: recording.exchanges.length,
  };
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UserError(`--piece-ms: expected a positive number, got "${value}"`);
  return n;
}

export interface CommandOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processOutput: CommandOutput = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

export function registerImportTrace(importCommand: Command, io: CommandOutput = processOutput): void {
  importCommand
    .command("trace")
    .description("import the paper's ensemble traces (row JSON files, a folder of them, or a console log) as a recording")
    .argument("<file-or-folder>", "selected_distributions_row_K.json, a folder of them, or an ensemble log .txt")
    .requiredOption("-o, --out <recording.jsonl>", "recording file to write")
    .option("--evaluator <name>", "evaluator name (default: from the eval_<name> part of the path)")
    .option("--rows <outputs.jsonl>", "an outputs file listing the same items in order, for Row Numbers")
    .option("--piece-ms <ms>", "milliseconds between streamed pieces when the trace has no timing", positiveNumber)
    .option("--reasoning", "stream candidates on the reasoning channel instead of content")
    .option("--json", "print the summary as JSON")
    .action(async (input: string, opts: { out: string; evaluator?: string; rows?: string; pieceMs?: number; reasoning?: boolean; json?: boolean }) => {
      io.stderr(`reading ${input}\n`);
      const summary = await importTrace(input, {
        out: opts.out,
        evaluator: opts.evaluator,
        rows: opts.rows,
        pieceMs: opts.pieceMs,
        channel: opts.reasoning ? "reasoning" : "content",
      });
      if (opts.json) {
        io.stdout(`${JSON.stringify(summary)}\n`);
        return;
      }
      io.stdout(
        `${summary.out}: ${summary.problems} problems (${summary.finished} finished), ${summary.steps} steps, ` +
          `${summary.exchanges} exchanges; generators ${summary.generators.join(", ")}; evaluator ${summary.evaluator ?? "unknown"}\n`,
      );
    });
}
