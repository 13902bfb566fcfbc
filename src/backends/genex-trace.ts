// Imports the paper's real sentence-level ensemble traces (KoyenaPal/genex) as a neutral trace,
// then as a recording the replay backend can serve and as an accepted chain.
//
// Two sources are read:
//  - selected_distributions_row_K.json: a JSON list of iterations
//    {iteration, all_candidates: {model: [candidates]}, selected_candidate, selected_model_index, score};
//  - a console log of the ensemble run: per iteration one `MODEL: <name>` + `CANDIDATES: [python list]`
//    block per generator, `🔹 Selected: <text>` (the text may span lines), then
//    `⏱️ Iteration N completed in X seconds.`; a problem ends with `✅ Reached end of thought.`,
//    followed by an `🔍 Iteration-wise Selection Summary:` that runs to `✅ Done. ...`.
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import type { Candidate, Chain, ChainSentence } from "../core/chain.js";
import { UserError } from "../errors.js";
import { parsePythonStringList } from "./genex/python-list.js";

export interface GenexCandidate {
  generator: string;
  text: string;
}

export interface GenexStep {
  /** Every generator's candidates, generators in trace order, each generator's in sample order. */
  candidates: GenexCandidate[];
  selectedText: string;
  selectedGenerator: string;
  /** The evaluator's perplexity of the winner (whole sequence, prompt included, as in the paper's code). */
  score?: number;
  /** Wall time of the whole iteration, from the log. */
  seconds?: number;
}

export interface GenexProblem {
  /** Position in its source: K of row_K, or the problem's order in a log (from 0). */
  index: number;
  /** MedCalc-Bench Row Number, when known. */
  rowNumber?: string;
  steps: GenexStep[];
  /** The end-of-thought marker was reached. */
  finished: boolean;
}

export interface GenexTrace {
  source: string;
  format: "selected-distributions" | "console-log";
  /** Generator names in the order they appear. */
  generators: string[];
  /** Evaluator name, when the source says which one it was. */
  evaluator?: string;
  problems: GenexProblem[];
}

// --- selected_distributions_row_K.json ------------------------------------------------------

const rowFileSchema = z
  .array(
    z.object({
      iteration: z.number().int().nonnegative(),
      all_candidates: z.record(z.string(), z.array(z.string())),
      selected_candidate: z.string(),
      selected_model_index: z.string(),
      score: z.number().optional(),
    }),
  )
  .min(1);

/** The K of a selected_distributions_row_K.json name, or undefined. */
export function rowIndexOf(file: string): number | undefined {
  const m = /selected_distributions_row_(\d+)\.json$/.exec(basename(file));
  return m ? Number(m[1]) : undefined;
}

/** One row file's iterations as a problem. */
export function parseSelectedDistributions(data: unknown, file: string, index = rowIndexOf(file) ?? 0): GenexProblem {
  const parsed = rowFileSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.map(String).join(".") || "(top level)";
    throw new UserError(
      `${file}: ${path}: ${issue?.message ?? "invalid"} (expected a list of {iteration, all_candidates, selected_candidate, selected_model_index, score})`,
    );
  }
  const steps: GenexStep[] = parsed.data.map((it, n) => {
    if (it.iteration !== n) throw new UserError(`${file}: item ${n}: iteration is ${it.iteration}, expected ${n}`);
    const candidates = Object.entries(it.all_candidates).flatMap(([generator, texts]) => texts.map((text) => ({ generator, text })));
    const chosen = it.all_candidates[it.selected_model_index];
    if (!chosen) throw new UserError(`${file}: iteration ${n}: selected_model_index "${it.selected_model_index}" is not one of the generators`);
    if (!chosen.includes(it.selected_candidate)) {
      throw new UserError(`${file}: iteration ${n}: the selected candidate is not among ${it.selected_model_index}'s candidates`);
    }
    return {
      candidates,
      selectedText: it.selected_candidate,
      selectedGenerator: it.selected_model_index,
      ...(it.score !== undefined ? { score: it.score } : {}),
    };
  });
  return { index, steps, finished: steps.some((s) => s.selectedText.includes("</think>")) };
}

async function readRowFile(file: string): Promise<GenexProblem> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new UserError(`${file}: cannot read the file`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${file}: not valid JSON (${err instanceof Error ? err.message : "parse error"})`);
  }
  return parseSelectedDistributions(data, file);
}

// --- console log -------------------------------------------------------------------------------

const SELECTED = "🔹 Selected: ";
const ITERATION_DONE = /^⏱️ Iteration (\d+) completed in ([0-9.]+) seconds\.\s*$/;
const END_OF_THOUGHT = "✅ Reached end of thought.";
const SUMMARY = "🔍 Iteration-wise Selection Summary:";
const DONE = "✅ Done.";

interface PendingStep {
  candidates: GenexCandidate[];
  selectedLines?: string[];
}

/**
 * Parse an ensemble console log. A trailing iteration without its `Selected`/`completed` lines (a
 * run cut off mid-iteration) is dropped; its problem stays unfinished. When both generators wrote
 * the selected text, the problem's selection summary says whose it was.
 */
export function parseEnsembleLog(text: string, file: string): GenexTrace {
  const lines = text.split(/\r?\n/);
  const problems: GenexProblem[] = [];
  const generators: string[] = [];
  let problem: GenexProblem | undefined;
  let pending: PendingStep | undefined;
  let model: { name: string; line: number } | undefined;
  let summary: string[] | undefined;
  let summaryStart = 0;
  const ambiguous: number[] = [];

  const where = (n: number) => `${file}:${n + 1}`;
  const closeSummary = () => {
    if (summary && problem) resolveFromSummary(problem, summary.join("\n"), generators, where(summaryStart), ambiguous);
    summary = undefined;
    ambiguous.length = 0;
  };

  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    if (summary) {
      if (line.startsWith(DONE) || line.startsWith("MODEL: ")) {
        closeSummary();
        if (line.startsWith(DONE)) continue;
      } else {
        summary.push(line);
        continue;
      }
    }
    if (pending?.selectedLines) {
      const m = ITERATION_DONE.exec(line);
      if (!m) {
        pending.selectedLines.push(line);
        continue;
      }
      if (!problem) throw new UserError(`${where(n)}: an iteration ends before any problem started`);
      const expected = problem.steps.length + 1;
      if (Number(m[1]) !== expected) throw new UserError(`${where(n)}: iteration ${m[1]} completed, expected iteration ${expected}`);
      const selectedText = pending.selectedLines.join("\n");
      const owners = [...new Set(pending.candidates.filter((c) => c.text === selectedText).map((c) => c.generator))];
      if (owners.length === 0) throw new UserError(`${where(n)}: the selected text of iteration ${m[1]} is not one of its candidates`);
      if (owners.length > 1) ambiguous.push(problem.steps.length);
      problem.steps.push({ candidates: pending.candidates, selectedText, selectedGenerator: owners[0], seconds: Number(m[2]) });
      pending = undefined;
      continue;
    }
    if (line.startsWith("MODEL: ")) {
      if (!problem || problem.finished) {
        problem = { index: problems.length, steps: [], finished: false };
        problems.push(problem);
      }
      pending ??= { candidates: [] };
      model = { name: line.slice("MODEL: ".length).trim(), line: n };
      if (!generators.includes(model.name)) generators.push(model.name);
      continue;
    }
    if (line.startsWith("CANDIDATES: ")) {
      if (!model || !pending) throw new UserError(`${where(n)}: CANDIDATES without a MODEL line before it`);
      const texts = parsePythonStringList(line.slice("CANDIDATES: ".length), where(n));
      const name = model.name;
      pending.candidates.push(...texts.map((t) => ({ generator: name, text: t })));
      model = undefined;
      continue;
    }
    if (line.startsWith(SELECTED)) {
      if (!pending) throw new UserError(`${where(n)}: a selection without candidates before it`);
      pending.selectedLines = [line.slice(SELECTED.length)];
      continue;
    }
    if (line.startsWith(END_OF_THOUGHT)) {
      if (!problem) throw new UserError(`${where(n)}: end of thought before any problem started`);
      problem.finished = true;
      continue;
    }
    if (line.startsWith(SUMMARY)) {
      summary = [];
      summaryStart = n;
      continue;
    }
    // Anything else (blank lines, stray prints) carries no trace data.
  }
  closeSummary();
  // A problem whose first iteration never completed has nothing to import.
  const kept = problems.filter((p) => p.steps.length > 0);
  if (kept.length === 0) throw new UserError(`${file}: no ensemble iterations found (expected MODEL:/CANDIDATES:/🔹 Selected: blocks)`);
  return { source: file, format: "console-log", generators, evaluator: evaluatorFromName(file), problems: kept };
}

/** Walk a selection summary (`Iteration i: Model <name> -> <text>` per step, texts may span
 * lines): it must agree with the iterations read above, and it says who wrote a selected text
 * that two generators both wrote. */
function resolveFromSummary(problem: GenexProblem, summary: string, generators: string[], where: string, ambiguous: number[]): void {
  let pos = 0;
  problem.steps.forEach((step, i) => {
    const head = `Iteration ${i}: Model `;
    if (!summary.startsWith(head, pos)) throw new UserError(`${where}: selection summary does not list iteration ${i} where expected`);
    pos += head.length;
    const name = generators.find((g) => summary.startsWith(`${g} -> ${step.selectedText}`, pos));
    if (!name) throw new UserError(`${where}: selection summary for iteration ${i} does not match the selected text`);
    if (ambiguous.includes(i)) step.selectedGenerator = name;
    pos += `${name} -> ${step.selectedText}`.length + 1;
  });
}

// --- names, files, folders --------------------------------------------------------------------

const SHORT_NAMES: Record<string, string> = {
  oss: "openai/gpt-oss-20b",
  openthinker: "open-thoughts/OpenThinker-7B",
  dapo: "BytedTsinghua-SIA/DAPO-Qwen-32B",
  qwq: "Qwen/QwQ-32B",
  nrr: "nvidia/Nemotron-Research-Reasoning-Qwen-1.5B",
};

/** The evaluator named by the paper's file/folder naming (`..._eval_<short>`), if any. */
export function evaluatorFromName(path: string): string | undefined {
  const m = /eval_([A-Za-z0-9]+)/.exec(basename(path));
  return m ? (SHORT_NAMES[m[1].toLowerCase()] ?? m[1]) : undefined;
}

/** Row Numbers of the 100 items, in order, from one of the paper's outputs/*.jsonl files. */
export async function readRowNumbers(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new UserError(`${file}: cannot read the file`);
  }
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l, i) => {
      let row: unknown;
      try {
        row = (JSON.parse(l) as Record<string, unknown>)["Row Number"];
      } catch {
        throw new UserError(`${file}:${i + 1}: not valid JSON`);
      }
      if (typeof row !== "string" && typeof row !== "number") throw new UserError(`${file}:${i + 1}: field "Row Number" is missing`);
      return String(row);
    });
}

export interface LoadTraceOptions {
  /** Evaluator name (default: from the `eval_<short>` part of the file or folder name). */
  evaluator?: string;
  /** An outputs/*.jsonl file listing the same items in the same order, for Row Numbers. By
   * default, for a row folder, the first .jsonl in a sibling `outputs` folder, when there is one. */
  rows?: string;
}

/** Read a row file, a folder of row files, or a console log. */
export async function loadGenexTrace(path: string, options: LoadTraceOptions = {}): Promise<GenexTrace> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new UserError(`${path}: no such file or folder`);
  }
  let trace: GenexTrace;
  let rowsFile = options.rows;
  if (info.isDirectory()) {
    const files = (await readdir(path)).filter((f) => rowIndexOf(f) !== undefined).sort((a, b) => rowIndexOf(a)! - rowIndexOf(b)!);
    if (files.length === 0) throw new UserError(`${path}: no selected_distributions_row_K.json files in this folder`);
    const problems = await Promise.all(files.map((f) => readRowFile(join(path, f))));
    trace = { source: path, format: "selected-distributions", generators: generatorsOf(problems), evaluator: evaluatorFromName(path), problems };
    if (!rowsFile) rowsFile = await siblingOutputs(path);
  } else if (path.endsWith(".json")) {
    const problem = await readRowFile(path);
    trace = {
      source: path,
      format: "selected-distributions",
      generators: generatorsOf([problem]),
      evaluator: evaluatorFromName(dirname(path)),
      problems: [problem],
    };
  } else {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch {
      throw new UserError(`${path}: cannot read the file`);
    }
    trace = parseEnsembleLog(text, path);
  }
  if (options.evaluator) trace.evaluator = options.evaluator;
  if (rowsFile && trace.format === "selected-distributions") {
    const rows = await readRowNumbers(rowsFile);
    for (const p of trace.problems) if (rows[p.index] !== undefined) p.rowNumber = rows[p.index];
  }
  return trace;
}

async function siblingOutputs(folder: string): Promise<string | undefined> {
  const dir = join(dirname(folder), "outputs");
  try {
    const first = (await readdir(dir)).filter((f) => f.endsWith(".jsonl")).sort()[0];
    return first ? join(dir, first) : undefined;
  } catch {
    return undefined;
  }
}

function generatorsOf(problems: GenexProblem[]): string[] {
  const out: string[] = [];
  for (const p of problems) for (const s of p.steps) for (const c of s.candidates) if (!out.includes(c.generator)) out.push(c.generator);
  return out;
}

// --- as a chain --------------------------------------------------------------------------------

/** The chain as the paper's code built it: selected texts joined with single spaces. */
export function paperChainText(problem: GenexProblem): string {
  return problem.steps.map((s) => s.selectedText).join(" ");
}

function candidateIds(step: GenexStep): string[] {
  const seen = new Map<string, number>();
  return step.candidates.map((c) => {
    const k = seen.get(c.generator) ?? 0;
    seen.set(c.generator, k + 1);
    return `${c.generator}#${k}`;
  });
}

/** The accepted chain, one imported sentence per step, with every candidate that competed. */
export function traceToChain(problem: GenexProblem, options: { evaluator?: string; at?: string } = {}): Chain {
  const at = options.at ?? new Date().toISOString();
  const evaluator = options.evaluator ?? "evaluator";
  const sentences: ChainSentence[] = problem.steps.map((step) => {
    const ids = candidateIds(step);
    const winner = step.candidates.findIndex((c) => c.generator === step.selectedGenerator && c.text === step.selectedText);
    const candidates: Candidate[] = step.candidates.map((c, i) => {
      const scored = i === winner && step.score !== undefined;
      return {
        id: ids[i],
        generator: c.generator,
        sampleIndex: Number(ids[i].slice(ids[i].lastIndexOf("#") + 1)),
        text: c.text,
        raw: c.text,
        scores: scored ? [{ evaluator, meanNll: Math.log(step.score!), perplexity: step.score! }] : [],
        ...(scored ? { meanPerplexity: step.score } : {}),
        endOfThought: c.text.includes("</think>"),
      };
    });
    return {
      text: step.selectedText,
      author: step.selectedGenerator,
      decision: "imported",
      candidates,
      evaluatorPick: ids[winner],
      acceptedId: ids[winner],
      at,
    };
  });
  return { sentences, finished: problem.finished };
}

export { parsePythonStringList };
export { traceToRecording, wordPieces, writeRecordingFile, type RecordingConversion, type ToRecordingOptions } from "./genex/recording.js";
