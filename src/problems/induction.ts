// Instruction Induction: the model sees five input-output pairs and states the instruction.
// Layout: <root>/induction_input/<task>.json ({examples: {"1": {input, metadata}}}) and
// <root>/annotations/<task>.json ({annotations: [accepted instructions]}).
import { readdir, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Problem } from "../core/types.js";
import { UserError } from "../errors.js";
import { fileError, readUtf8, RowError, type Report } from "./read.js";

async function readJson(path: string, report: Report): Promise<unknown | undefined> {
  let text = "";
  try {
    for await (const chunk of readUtf8(path)) text += chunk;
  } catch (err) {
    if (err instanceof RowError) {
      report(err);
      return undefined;
    }
    throw err;
  }
  if (text.trim() === "") {
    report(new RowError(path, {}, "the file is empty"));
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    report(new RowError(path, {}, `is not valid JSON (${(err as Error).message})`));
    return undefined;
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** True when the folder holds an Instruction Induction layout. */
export async function isInductionFolder(path: string): Promise<boolean> {
  return (await isDir(join(path, "induction_input"))) && (await isDir(join(path, "annotations")));
}

/** True when a parsed JSON file is one task's induction input. */
export function isInductionTask(json: unknown): boolean {
  return !!json && typeof json === "object" && "examples" in json && typeof (json as { examples: unknown }).examples === "object";
}

/**
 * Stream Instruction Induction problems from the dataset folder or one task's input file.
 * One problem per induction input (each task has many), id `<task>-<n>`; every problem of a
 * task shares the task's annotations as accepted answers.
 */
export async function* loadInduction(path: string, report: Report): AsyncGenerator<Problem> {
  let files: string[];
  let annotationsDir: string;
  if (await isDir(path)) {
    if (!(await isInductionFolder(path))) {
      throw new UserError(`${path}: not an Instruction Induction folder (expected induction_input/ and annotations/ inside)`);
    }
    const inputs = join(path, "induction_input");
    files = (
      await readdir(inputs).catch((err) => {
        throw fileError(inputs, err);
      })
    )
      .filter((f) => f.endsWith(".json"))
      .sort()
      .map((f) => join(inputs, f));
    if (!files.length) throw new UserError(`${inputs}: no task files (*.json)`);
    annotationsDir = join(path, "annotations");
  } else {
    files = [path];
    annotationsDir = join(dirname(dirname(path)), "annotations");
  }
  for (const file of files) {
    const task = basename(file, ".json");
    const annotationsFile = join(annotationsDir, `${task}.json`);
    const input = await readJson(file, report);
    if (input === undefined) continue;
    if (!isInductionTask(input)) {
      report(new RowError(file, {}, "is missing or not an object", "examples"));
      continue;
    }
    let annotations: unknown;
    try {
      await stat(annotationsFile);
      annotations = await readJson(annotationsFile, report);
    } catch {
      report(new RowError(file, {}, `has no annotations file (looked for ${annotationsFile})`));
      continue;
    }
    if (annotations === undefined) continue;
    const list = (annotations as { annotations?: unknown }).annotations;
    if (!Array.isArray(list) || !list.some((a) => typeof a === "string" && a.trim() !== "")) {
      report(new RowError(annotationsFile, {}, "is missing or holds no text", "annotations"));
      continue;
    }
    const alternatives = list.filter((a): a is string => typeof a === "string" && a.trim() !== "");
    const examples = (input as { examples: Record<string, unknown> }).examples;
    for (const [key, ex] of Object.entries(examples)) {
      const e = ex as { input?: unknown; metadata?: { examples_seen?: unknown } } | null;
      if (!e || typeof e.input !== "string" || e.input.trim() === "") {
        report(new RowError(file, {}, "is missing or empty", `examples.${key}.input`));
        continue;
      }
      const seen = typeof e.metadata?.examples_seen === "string" ? e.metadata.examples_seen : null;
      yield {
        id: `${task}-${key}`,
        source: `instruction-induction:${task}`,
        messages: [{ role: "user", content: e.input }],
        reference: { kind: "free", value: alternatives[0], alternatives },
        meta: { question: `[${task}] ${seen ?? e.input}`, task, examplesSeen: seen },
      };
    }
  }
}
