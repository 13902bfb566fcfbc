// `concord import genex <folder> --out <dir>`: the published genex outputs -> a results folder.
import { existsSync, promises as fs } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { UserError, oneLine } from "../errors.js";
import {
  appendResults,
  buildReport,
  forEachGenexRecord,
  forEachResult,
  loadMedcalcLimits,
  parseGenexFileName,
  readResults,
  resultKey,
  writeSummary,
  conditionLabel,
  variantLabel,
  type Condition,
  type ResultRecord,
} from "../results/index.js";
import { registerImportTrace } from "./import-trace.js";

/** Where the shared MedCalc-Bench CSV sits relative to a checkout. */
export const DEFAULT_MEDCALC_CSV = "../shared/data/medcalc-bench/test_data.csv";

interface GenexOptions {
  out: string;
  dataset?: string;
  json?: boolean;
}

/** Records appended at a time while a genex file streams in (fewer when their chains are long). */
const IMPORT_BATCH = 500;
const IMPORT_BATCH_CHARS = 2 << 20;

const clean = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");

export async function importGenex(folder: string, opts: GenexOptions): Promise<number> {
  const datasetPath = opts.dataset ?? (existsSync(resolve(DEFAULT_MEDCALC_CSV)) ? resolve(DEFAULT_MEDCALC_CSV) : undefined);
  if (!datasetPath) throw new UserError(`--dataset <csv> is required: ${DEFAULT_MEDCALC_CSV} is not there`);
  let names: string[];
  try {
    names = (await fs.readdir(folder)).sort();
  } catch {
    throw new UserError(`${folder}: cannot read this folder`);
  }
  // Nothing to import is one clear line, before the dataset is read or the results folder made.
  if (!names.some((n) => parseGenexFileName(n))) {
    throw new UserError(
      `no genex output files found in ${folder} (expected names like Qwen_QwQ-32B_zero_shot_empty.jsonl or Qwen_QwQ-32B_thoughts_to_openai_gpt-oss-20b_zero_shot_full.jsonl)`,
    );
  }
  let limits;
  try {
    limits = await loadMedcalcLimits(datasetPath);
  } catch (err) {
    throw new UserError(oneLine(err));
  }

  // Resume: records already in the results folder are not written again. Only their keys are
  // kept: the folder, like each genex file, is read as a stream, whatever its size.
  const seen = new Set<string>();
  try {
    await forEachResult(opts.out, (r) => void seen.add(resultKey(r)), { missingOk: true, slim: true });
  } catch (err) {
    throw new UserError(`--out: ${oneLine(err)}`);
  }

  let files = 0;
  let written = 0;
  let already = 0;
  let lineErrors = 0;
  const skippedNames: string[] = [];
  for (const name of names.filter((n) => n.endsWith(".jsonl"))) {
    const info = parseGenexFileName(name);
    if (!info) {
      skippedNames.push(name);
      process.stderr.write(`concord: skipped ${clean(name)}: not a genex output file name\n`);
      continue;
    }
    // Records go out in batches as they are read: a file of any size is imported in bounded memory.
    let batch: ResultRecord[] = [];
    let fresh = 0;
    let condition: Condition | undefined;
    let batchChars = 0;
    const flush = async () => {
      const out = batch;
      batch = [];
      batchChars = 0;
      await appendResults(opts.out, out);
      written += out.length;
    };
    await forEachGenexRecord(join(folder, name), info, limits, {
      record: async (r) => {
        condition ??= r.condition;
        const key = resultKey(r);
        if (seen.has(key)) return void already++;
        seen.add(key);
        fresh++;
        batch.push(r);
        batchChars += r.cot?.length ?? 0;
        if (batch.length >= IMPORT_BATCH || batchChars >= IMPORT_BATCH_CHARS) await flush();
      },
      error: (e) => {
        lineErrors++;
        process.stderr.write(`concord: ${clean(e.file)}:${e.line}: ${clean(e.message)}\n`);
      },
    });
    await flush();
    files++;
    const label = `${conditionLabel(condition ?? { kind: info.kind, variant: info.variant })}`;
    process.stderr.write(`  ${clean(name)}: ${fresh} records (${label}, ${variantLabel(info.variant)})\n`);
  }

  // The report needs no chains: left out, so a big folder is reported in bounded memory.
  const all = await readResults(opts.out, { missingOk: true, slim: true });
  await writeSummary(opts.out, buildReport(all.records));
  const summary = { files, written, alreadyPresent: already, skippedFiles: skippedNames, lineErrors, out: opts.out };
  if (opts.json) process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
  else {
    process.stdout.write(
      `Imported ${written} records from ${files} files into ${opts.out}` +
        (already ? ` (${already} already there)` : "") +
        (skippedNames.length ? `; ${skippedNames.length} files skipped` : "") +
        (lineErrors ? `; ${lineErrors} bad lines` : "") +
        "\n",
    );
  }
  return lineErrors ? 1 : 0;
}

export function register(program: Command): void {
  const cmd = program.command("import").description("import outputs recorded elsewhere into a results folder");
  cmd
    .command("genex <folder>")
    .description("import the published genex MedCalc-Bench outputs (*.jsonl) into a results folder")
    .requiredOption("--out <dir>", "results folder to write (created if needed; records already there are kept)")
    .option("--dataset <csv>", `MedCalc-Bench CSV joined by Row Number (default ${DEFAULT_MEDCALC_CSV} when present)`)
    .option("--json", "print the import summary as JSON")
    .action(async (folder: string, opts: GenexOptions) => {
      const code = await importGenex(folder, opts);
      if (code) process.exitCode = code;
    });
  registerImportTrace(cmd);
}
