// Headless experiments: problems x conditions x targets (SCIENCE.md §1), one result record per
// target answer, appended as soon as it is known. A run can be killed at any moment and
// restarted: records already written are skipped by their resultKey, and every chain of
// thought is saved (cots.ndjson) before any target sees it, so a resumed run gives the
// remaining targets the same chain.
import { promises as fs } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parseStructuredText } from "../structured-text.js";
import { z } from "zod";
import { chainText } from "../core/chain.js";
import type { Problem } from "../core/types.js";
import { UserError } from "../errors.js";
import { buildReport, writeSummary } from "../results/report.js";
import { conditionKey, resultKey, type Condition, type ResultRecord } from "../results/schema.js";
import { appendResult, readResults } from "../results/store.js";
import { appendVerified, ensureDir, WriteError } from "../fsutil/write.js";
import { CancelledError, isAbort, shareSignal, throwIfAborted } from "./abort.js";
import { DEFAULT_COT_TOKENS, generateCot } from "./cot.js";
import { ChainBuilder } from "./ensemble.js";
import type { EngineListener } from "./events.js";
import { Limiter } from "./limits.js";
import type { ModelHandle } from "./models.js";
import { sanitizeCot } from "./sanitize.js";
import { askTarget, DEFAULT_ANSWER_TOKENS } from "./targets.js";

const variants = z.array(z.enum(["full", "without-answer"])).min(1).default(["full"]);

// A condition is an object, or just its kind as a string ("empty", "default-greedy").
const conditionSpecSchema = z.preprocess(
  (v) => (typeof v === "string" ? { kind: v } : v),
  z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("empty"), variants: z.array(z.literal("full")).min(1).default(["full"]) }).strict(),
    z.object({ kind: z.literal("default-greedy"), variants }).strict(),
    z.object({ kind: z.literal("default-sampled"), variants }).strict(),
    z
      .object({
        kind: z.literal("transfer"),
        /** The model whose chains are transferred, or (with `cots`) a label for curated chains. */
        source: z.string().min(1),
        /** Chains written beforehand (e.g. curated in the interface and exported): a JSONL file of
         * {problemId, cot} lines, or a folder of <problemId>.txt files. No model writes them. */
        cots: z.string().min(1).optional(),
        variants,
      })
      .strict(),
    z
      .object({
        kind: z.literal("ensemble"),
        generators: z.array(z.string().min(1)).min(1),
        evaluators: z.array(z.string().min(1)).min(1),
        k: z.number().int().min(1).max(16).default(3),
        mode: z.enum(["concord", "paper"]).default("concord"),
        maxSentences: z.number().int().min(1).default(60),
        maxTokens: z.number().int().min(1).optional(),
        /** Tokens per candidate (paper: 15). */
        candidateTokens: z.number().int().min(1).optional(),
        temperature: z.number().min(0).optional(),
        seed: z.number().int().optional(),
        variants,
      })
      .strict(),
  ]),
);

export const experimentSpecSchema = z
  .object({
    name: z.string().min(1).optional(),
    /** A models file (profiles + roles); relative paths are read from the spec's folder. */
    models: z.string().min(1).optional(),
    problems: z
      .object({
        /** "builtin" or a dataset file/folder. */
        set: z.string().min(1),
        sample: z.number().int().min(1).optional(),
        seed: z.number().int().default(42),
        /** "pandas" draws exactly what pandas' df.sample(n, random_state=seed) draws (the paper's items). */
        sampler: z.enum(["concord", "pandas"]).default("concord"),
        ids: z.array(z.string()).optional(),
      })
      .strict(),
    conditions: z.array(conditionSpecSchema).min(1),
    targets: z.array(z.string().min(1)).min(1),
    sanitizer: z.string().min(1).optional(),
    cot: z
      .object({
        maxTokens: z.number().int().min(1).default(DEFAULT_COT_TOKENS),
        /** Temperature of default-sampled and transfer chains (the paper sampled at 1.0). */
        sampledTemperature: z.number().min(0).default(1),
        seed: z.number().int().optional(),
      })
      .strict()
      .default({ maxTokens: DEFAULT_COT_TOKENS, sampledTemperature: 1 }),
    answerTokens: z.number().int().min(1).default(DEFAULT_ANSWER_TOKENS),
    concurrency: z
      .object({ global: z.number().int().min(1).default(4), perModel: z.number().int().min(1).default(2) })
      .strict()
      .default({ global: 4, perModel: 2 }),
    out: z.string().min(1),
  })
  .strict();

export type ExperimentSpec = z.infer<typeof experimentSpecSchema>;
export type ConditionSpec = ExperimentSpec["conditions"][number];

/** Read and validate a spec file (YAML or JSON). Paths inside it become absolute. */
export async function loadExperimentSpec(file: string): Promise<ExperimentSpec> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    throw new UserError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  const data = parseStructuredText(text, file);
  const spec = parseExperimentSpec(data, file);
  const base = dirname(resolve(file));
  const abs = (p: string) => (isAbsolute(p) ? p : join(base, p));
  return {
    ...spec,
    name: spec.name ?? file.replace(/^.*[\\/]/, "").replace(/\.(ya?ml|json)$/i, ""),
    models: spec.models ? abs(spec.models) : undefined,
    problems: { ...spec.problems, set: spec.problems.set === "builtin" ? "builtin" : abs(spec.problems.set) },
    conditions: spec.conditions.map((c) => (c.kind === "transfer" && c.cots ? { ...c, cots: abs(c.cots) } : c)),
    out: abs(spec.out),
  };
}

export function parseExperimentSpec(data: unknown, where: string): ExperimentSpec {
  const r = experimentSpecSchema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = issue?.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "") || "(top level)";
    throw new UserError(`${where}: ${path}: ${issue?.message ?? "invalid"}`);
  }
  return r.data;
}

const curated = new Map<string, Promise<Map<string, string>>>();

/** Chains written beforehand, by problem id: a JSONL file of {problemId, cot}, or a folder of <id>.txt. */
export function curatedCots(path: string): Promise<Map<string, string>> {
  let p = curated.get(path);
  if (!p) {
    p = readCuratedCots(path);
    curated.set(path, p);
    // A file fixed after a failed read is read again.
    p.catch(() => curated.delete(path));
  }
  return p;
}

/**
 * What a run needs before any model is asked: `out` a folder (or not there yet), and every
 * curated-chain file readable with a chain for each selected problem. One line on the first
 * problem, naming the file (a missing chain found per job would cost minutes of model work first).
 */
export async function checkExperimentInputs(spec: Pick<ExperimentSpec, "out" | "conditions">, problems: readonly Problem[]): Promise<void> {
  const st = await fs.stat(spec.out).catch(() => undefined);
  if (st && !st.isDirectory()) throw new UserError(`${spec.out}: exists and is not a folder (out: names the results folder to write)`);
  for (const c of spec.conditions) {
    if (c.kind !== "transfer" || !c.cots) continue;
    const chains = await curatedCots(c.cots);
    const missing = problems.filter((p) => !chains.has(p.id));
    if (missing.length) {
      const more = missing.length > 1 ? ` (${missing.length} of the ${problems.length} selected problems have none)` : "";
      throw new UserError(`${c.cots}: no chain for problem "${missing[0].id}"${more} (transfer cots of source "${c.source}")`);
    }
  }
}

async function readCuratedCots(path: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const st = await fs.stat(path).catch(() => undefined);
  if (!st) throw new UserError(`${path}: no such file or folder (transfer cots)`);
  if (st.isDirectory()) {
    for (const name of (await fs.readdir(path)).filter((n) => n.endsWith(".txt"))) {
      out.set(name.slice(0, -4), (await fs.readFile(join(path, name), "utf8")).trim());
    }
    return out;
  }
  let text: string;
  try {
    text = await fs.readFile(path, "utf8");
  } catch (err) {
    throw new UserError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? "error"}) (transfer cots)`);
  }
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new UserError(`${path} line ${i + 1}: not valid JSON`);
    }
    const rec = v as { problemId?: unknown; cot?: unknown };
    if (typeof rec?.problemId !== "string" || typeof rec.cot !== "string") throw new UserError(`${path} line ${i + 1}: expected {"problemId": "...", "cot": "..."}`);
    out.set(rec.problemId, rec.cot.trim());
  });
  return out;
}

/** Every model name a spec refers to (targets, sources, generators, evaluators, sanitizer). */
export function specModels(spec: ExperimentSpec): string[] {
  const names = new Set<string>(spec.targets);
  for (const c of spec.conditions) {
    if (c.kind === "transfer" && !c.cots) names.add(c.source);
    if (c.kind === "ensemble") [...c.generators, ...c.evaluators].forEach((n) => names.add(n));
  }
  if (spec.sanitizer) names.add(spec.sanitizer);
  return [...names];
}

export interface RunOptions {
  problems: Problem[];
  /** Model handles by profile name (every name in specModels). */
  models: Map<string, ModelHandle>;
  signal?: AbortSignal;
  onEvent?: EngineListener;
}

export interface RunSummary {
  written: number;
  skipped: number;
  total: number;
  errors: number;
  cancelled: boolean;
  out: string;
}

const COTS_FILE = "cots.ndjson";

interface SavedCot {
  key: string;
  cot: string;
  meta?: Record<string, string | number | boolean | null>;
}

/** Chains of thought of a run, saved one JSON line each before any target sees them. */
class CotStore {
  private map = new Map<string, SavedCot>();
  private pending = new Map<string, Promise<SavedCot>>();
  private writes: Promise<void> = Promise.resolve();
  constructor(private file: string) {}

  async load(): Promise<void> {
    let text = "";
    try {
      text = await fs.readFile(this.file, "utf8");
    } catch {
      return;
    }
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      try {
        const v = JSON.parse(line) as SavedCot;
        if (typeof v.key === "string" && typeof v.cot === "string") this.map.set(v.key, v);
      } catch {
        // A torn last line from a killed run: that chain is simply made again.
      }
    }
  }

  /** The saved chain for `key`, or make it once (concurrent callers share the work). */
  get(key: string, make: () => Promise<Omit<SavedCot, "key">>): Promise<Required<Omit<SavedCot, "key">>> {
    return this.getSaved(key, make).then((v) => ({ cot: v.cot, meta: v.meta ?? {} }));
  }

  private getSaved(key: string, make: () => Promise<Omit<SavedCot, "key">>): Promise<SavedCot> {
    const have = this.map.get(key);
    if (have) return Promise.resolve(have);
    let p = this.pending.get(key);
    if (!p) {
      p = (async () => {
        const made = { key, ...(await make()) };
        await this.append(made);
        this.map.set(key, made);
        return made;
      })();
      p.catch(() => {}).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  private append(v: SavedCot): Promise<void> {
    const line = JSON.stringify(v) + "\n";
    this.writes = this.writes.then(async () => {
      await ensureDir(dirname(this.file), "results");
      await appendVerified(this.file, line, { what: "chains", kept: "that chain was not saved; every chain saved before is kept" });
    });
    return this.writes;
  }
}

/** The record's condition for a condition spec and variant. */
export function recordCondition(c: ConditionSpec, variant: "full" | "without-answer"): Condition {
  const out: Condition = { kind: c.kind, variant };
  if (c.kind === "transfer") out.source = c.source;
  if (c.kind === "ensemble") {
    out.generators = c.generators;
    out.evaluators = c.evaluators;
  }
  return out;
}

/**
 * Run an experiment. Resolves with a summary (also when cancelled: `cancelled` is set and
 * every record written so far is complete).
 */
export async function runExperiment(spec: ExperimentSpec, opts: RunOptions): Promise<RunSummary> {
  const { onEvent } = opts;
  // The first write that fails (a full disk) stops the run: no more model work for answers
  // that cannot be kept, and the failure is reported once, naming the file.
  let failedWrite: WriteError | undefined;
  const writeFailed = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, writeFailed.signal]) : writeFailed.signal;
  const stopOnWriteFailure = (err: unknown) => {
    if (err instanceof WriteError && !failedWrite) {
      failedWrite = err;
      writeFailed.abort(err);
    }
    throw err;
  };
  shareSignal(signal);
  const emit: EngineListener = (e) => onEvent?.(e);
  for (const name of specModels(spec)) {
    if (!opts.models.has(name)) throw new UserError(`experiment ${spec.name ?? ""}: no model named "${name}" is configured`);
  }
  await checkExperimentInputs(spec, opts.problems);
  const limiter = new Limiter(spec.concurrency);
  const models = new Map([...opts.models].map(([k, v]) => [k, limiter.wrap(v)]));
  const model = (name: string) => models.get(name)!;
  const targets = spec.targets.map(model);
  const sanitizer = spec.sanitizer ? model(spec.sanitizer) : undefined;

  await fs.mkdir(spec.out, { recursive: true });
  const existing = new Set<string>();
  // A fresh folder has no results yet.
  for (const r of (await readResults(spec.out, { missingOk: true, slim: true })).records) existing.add(resultKey(r));
  const cots = new CotStore(join(spec.out, COTS_FILE));
  await cots.load();

  // Results are appended one at a time so two answers never share a write.
  let writes: Promise<void> = Promise.resolve();
  const summary: RunSummary = { written: 0, skipped: 0, total: 0, errors: 0, cancelled: false, out: spec.out };
  const progress = (label: string) => emit({ type: "progress", done: summary.written + summary.skipped + summary.errors, total: summary.total, label });

  interface Job {
    problem: Problem;
    cond: ConditionSpec;
    variant: "full" | "without-answer";
    target: ModelHandle;
    key: string;
  }
  const jobs: Job[] = [];
  for (const problem of opts.problems) {
    for (const cond of spec.conditions) {
      for (const variant of cond.kind === "empty" ? (["full"] as const) : cond.variants) {
        for (const target of targets) {
          const rec = { experiment: spec.name, condition: recordCondition(cond, variant), target: target.name, problemId: problem.id, dataset: problem.source };
          jobs.push({ problem, cond, variant, target, key: resultKey(rec) });
        }
      }
    }
  }
  summary.total = jobs.length;
  const todo = jobs.filter((j) => {
    if (existing.has(j.key)) {
      summary.skipped++;
      return false;
    }
    return true;
  });
  progress(summary.skipped ? `${summary.skipped} answers already in ${spec.out}` : "starting");

  /** The chain given to the target for one job (full), made once per problem and condition. */
  const fullCot = (j: Job): Promise<{ cot: string; meta: Record<string, string | number | boolean | null> }> => {
    const c = j.cond;
    const pid = `${j.problem.source}\u241f${j.problem.id}`;
    if (c.kind === "empty") return Promise.resolve({ cot: "", meta: {} });
    if (c.kind === "default-greedy" || c.kind === "default-sampled") {
      const temperature = c.kind === "default-greedy" ? 0 : spec.cot.sampledTemperature;
      return cots.get(`${c.kind}\u241f${j.target.name}\u241f${pid}`, async () => {
        const r = await generateCot(j.target, j.problem, { maxTokens: spec.cot.maxTokens, temperature, seed: spec.cot.seed, signal });
        return { cot: r.cot, meta: { cotModel: j.target.name, cotClosed: r.closed } };
      });
    }
    if (c.kind === "transfer" && c.cots) {
      const file = c.cots;
      return curatedCots(file).then((chains) => {
        const cot = chains.get(j.problem.id);
        if (cot === undefined) throw new UserError(`${file}: no chain for problem "${j.problem.id}"`);
        return { cot, meta: { cotSource: c.source, cotFile: file } };
      });
    }
    if (c.kind === "transfer") {
      return cots.get(`transfer\u241f${c.source}\u241f${pid}`, async () => {
        const r = await generateCot(model(c.source), j.problem, { maxTokens: spec.cot.maxTokens, seed: spec.cot.seed, signal });
        return { cot: r.cot, meta: { cotModel: c.source, cotClosed: r.closed } };
      });
    }
    const key = `${conditionKey(recordCondition(c, "full"))}\u241f${c.mode}\u241f${c.k}\u241f${pid}`;
    return cots.get(key, async () => {
      const builder = new ChainBuilder({
        problem: j.problem,
        generators: c.generators.map(model),
        evaluators: c.evaluators.map(model),
        k: c.k,
        mode: c.mode,
        auto: true,
        sampling: { maxTokens: c.candidateTokens, temperature: c.temperature, seed: c.seed ?? spec.cot.seed },
        budget: { maxSentences: c.maxSentences, ...(c.maxTokens ? { maxTokens: c.maxTokens } : {}) },
      });
      // Why a step failed (a chain that outgrew a model's context), to say so and keep the chain.
      let lastError = "";
      const stopListening = builder.on((e) => {
        if (e.type === "step-start") lastError = "";
        else if (e.type === "error" && !(lastError && /no candidate could be generated/.test(e.message))) lastError = e.message;
      });
      let cancelling: Promise<void> | undefined;
      const onAbort = () => (cancelling = builder.cancel());
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        const outcome = await builder.runSteps("end");
        throwIfAborted(signal, "ensemble");
        const chain = builder.getChain();
        const why = lastError ? `: ${lastError}` : ` (${outcome})`;
        if (outcome === "cancelled" || (outcome === "failed" && chain.sentences.length === 0))
          throw new Error(`the ensemble chain for problem ${j.problem.id} could not be built${why}`);
        if (outcome === "failed") {
          // The chain so far is kept and given to the targets; the record says where and why it stopped.
          emit({ type: "error", source: `ensemble ${j.problem.id}`, message: `the chain stopped after ${chain.sentences.length} sentences${why}; the chain so far is kept` });
          const meta: Record<string, string | number> = { chainSentences: chain.sentences.length, chainEnd: "failed", chainStopReason: lastError || "failed" };
          return { cot: chainText(chain, c.mode).trim(), meta };
        }
        return { cot: chainText(chain, c.mode).trim(), meta: { chainSentences: chain.sentences.length, chainEnd: outcome } };
      } finally {
        stopListening();
        signal?.removeEventListener("abort", onAbort);
        // Every stream of the chain is closed before the models may be.
        await cancelling;
      }
    });
  };

  const cotFor = async (j: Job) => {
    const full = await fullCot(j);
    if (j.variant === "full") return full;
    const baseKey = j.cond.kind.startsWith("default") ? `${j.cond.kind}\u241f${j.target.name}` : conditionKey(recordCondition(j.cond, "full"));
    const s = await cots.get(`${baseKey}\u241f${j.problem.source}\u241f${j.problem.id}\u241fwithout-answer`, async () => {
      const r = await sanitizeCot(full.cot, { sanitizer, signal });
      return { cot: r.text, meta: { sanitizer: r.method === "llm" ? spec.sanitizer! : "rules", ...(r.fallback ? { sanitizerFallback: r.fallback } : {}) } };
    });
    return { cot: s.cot, meta: { ...full.meta, ...s.meta } };
  };

  const runJob = async (j: Job): Promise<void> => {
    throwIfAborted(signal);
    const label = `${j.problem.id} ${conditionKey(recordCondition(j.cond, j.variant))} -> ${j.target.name}`;
    let cot: { cot: string; meta: Record<string, string | number | boolean | null> };
    try {
      cot = await cotFor(j);
    } catch (err) {
      if (isAbort(err, signal)) throw err;
      if (err instanceof WriteError) stopOnWriteFailure(err);
      summary.errors++;
      emit({ type: "error", source: label, message: (err as Error).message });
      progress(label);
      return;
    }
    throwIfAborted(signal);
    const started = Date.now();
    const reply = await askTarget(j.target, j.problem, cot.cot, { maxTokens: spec.answerTokens, signal });
    throwIfAborted(signal);
    const rec: ResultRecord = {
      schema: 1,
      experiment: spec.name,
      condition: recordCondition(j.cond, j.variant),
      target: j.target.name,
      problemId: j.problem.id,
      dataset: j.problem.source,
      reference: j.problem.reference,
      answerRaw: reply.error ? null : reply.raw,
      answer: reply.grade.answer === "" ? null : reply.grade.answer,
      ...(reply.error ? { answerMissing: "error" as const } : reply.grade.answer === "" ? { answerMissing: "not-found" as const } : {}),
      correct: reply.grade.correct,
      cot: cot.cot,
      meta: { ...cot.meta, answerMs: Date.now() - started, ...(reply.error ? { error: reply.error } : {}) },
    };
    emit({ type: "target-answer", answer: { target: j.target.name, chainLength: 0, raw: reply.raw, grade: reply.grade } });
    // The write is not cancellable: a record is written whole or not at all.
    writes = writes.then(() => appendResult(spec.out, rec).catch(stopOnWriteFailure));
    await writes;
    summary.written++;
    progress(label);
  };

  try {
    const results = await Promise.allSettled(todo.map((j) => runJob(j)));
    const failed = results.find((r) => r.status === "rejected" && !isAbort(r.reason, signal));
    if (failed) throw (failed as PromiseRejectedResult).reason;
    if (signal?.aborted) throw new CancelledError("experiment");
  } catch (err) {
    if (failedWrite) throw failedWrite;
    if (!isAbort(err, signal)) throw err;
    summary.cancelled = true;
    await writes.catch(() => {});
    emit({ type: "cancelled", what: `experiment ${spec.name ?? ""}`.trim() });
    return summary;
  }
  await writes;
  const all = await readResults(spec.out, { missingOk: true, slim: true });
  await writeSummary(spec.out, buildReport(all.records.filter((r) => r.experiment === spec.name)));
  return summary;
}
