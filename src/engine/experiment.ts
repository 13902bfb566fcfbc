// Headless experiments: problems x conditions x targets (SCIENCE.md §1), one result record per
// target answer, appended as soon as it is known. A run can be killed at any moment and
// restarted: records already written are skipped by their resultKey, and every chain of
// thought is saved (cots.ndjson) before any target sees it, so a resumed run gives the
// remaining targets the same chain. Each condition is a strategy in conditions/.
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { gradeBoth, type ReadingGrade } from "../core/readings.js";
import { thinkingPrefill } from "../core/thinking.js";
import type { Problem } from "../core/types.js";
import { isRelayCondition, specModels, type ExperimentSpec } from "../config/experiment-spec.js";
import { UserError } from "../errors.js";
import { COTS_FILE, CotStore } from "../results/cot-store.js";
import { buildReport, writeSummary } from "../results/report.js";
import { conditionKey, resultKey, type ResultRecord } from "../results/schema.js";
import { appendResults, readResults } from "../results/store.js";
import { flushCacheLogs } from "../backends/cache-log.js";
import { WriteError } from "../fsutil/write.js";
import { CancelledError, isAbort, shareSignal, throwIfAborted } from "./abort.js";
import { cotForJob, curatedCots, recordCondition, strategyFor, type ConditionContext, type ConditionJob, type MadeCot } from "./conditions/index.js";
import type { EngineListener } from "./events.js";
import { Limiter } from "./limits.js";
import type { ModelHandle } from "./models.js";
import { askTarget } from "./targets.js";
import { RULES_SANITIZER, SanitizerError } from "./sanitize.js";
import { CallCounter } from "./call-count.js";
import { relayJobs, type RelayJob } from "./conditions/relay.js";
import { appendRelayRecords, readRelayRecords, relayRecordKey, type RelayRecord } from "../results/relay-store.js";
import { BatchWriter } from "./batch-writer.js";
import { chainKey, defaultChainBase, transferChainBase } from "./conditions/keys.js";
import { ensureDir } from "../fsutil/write.js";

export {
  experimentSpecSchema,
  loadExperimentSpec,
  parseExperimentSpec,
  specModels,
  type ConditionSpec,
  type ExperimentSpec,
} from "../config/experiment-spec.js";
export { curatedCots, recordCondition } from "./conditions/index.js";

/**
 * What a run needs before any model is asked: `out` a folder (or not there yet), and every
 * curated-chain file readable with a chain for each selected problem. One line on the first
 * problem, naming the file (a missing chain found per job would cost minutes of model work first).
 */
export async function checkExperimentInputs(spec: Pick<ExperimentSpec, "out" | "conditions" | "sanitizer">, problems: readonly Problem[]): Promise<void> {
  const st = await fs.stat(spec.out).catch(() => undefined);
  if (st && !st.isDirectory()) throw new UserError(`${spec.out}: exists and is not a folder (out: names the results folder to write)`);
  // The rules remove far less than a model does: they are used only when chosen.
  if (!spec.sanitizer && spec.conditions.some((c) => c.kind !== "empty" && c.kind !== "relay" && c.variants.includes("without-answer")))
    throw new UserError(`without-answer conditions need a sanitizer: set sanitizer: to a model name, or to "${RULES_SANITIZER}" for the rule-based remover`);
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

/** The authors' cap on any generation (LLMInference.max_length). */
export const PAPER_MAX_LENGTH = 32768;

async function tokenCount(model: ModelHandle, text: string): Promise<number> {
  if (text === "") return 0;
  // Without a tokenizer, about four characters a token (the budget is an upper bound).
  return model.backend.countTokens ? model.backend.countTokens(text) : Math.ceil(text.length / 4);
}

/**
 * A target's answer budget: a fixed `answerTokens`, or the authors'
 * min(32768, prompt_with_thinking + 100 + prompt + 4096) (generate_with_thinking), counting the
 * messages and the prefilled chain with the target's tokenizer.
 */
export async function answerBudget(spec: Pick<ExperimentSpec, "answerTokens">, target: ModelHandle, problem: Problem, cot: string): Promise<number> {
  if (spec.answerTokens !== undefined) return spec.answerTokens;
  const prompt = await tokenCount(target, problem.messages.map((m) => m.content).join("\n"));
  const thinking = await tokenCount(target, thinkingPrefill(target.thinkingFormat, cot));
  return Math.min(PAPER_MAX_LENGTH, prompt + thinking + 100 + prompt + 4096);
}

export interface RunOptions {
  problems: Problem[];
  /** Model handles by profile name (every name in specModels). */
  models: Map<string, ModelHandle>;
  signal?: AbortSignal;
  onEvent?: EngineListener;
}

export interface RunSummary {
  /** Model calls sent (cache hits are not calls). */
  calls: number;
  written: number;
  skipped: number;
  total: number;
  errors: number;
  cancelled: boolean;
  out: string;
}

/** How often progress is redrawn while no record ends. */
const PROGRESS_TICK_MS = 1000;

/**
 * Run an experiment. Resolves with a summary (also when cancelled: `cancelled` is set and
 * every record written so far is complete).
 */
export async function runExperiment(spec: ExperimentSpec, opts: RunOptions): Promise<RunSummary> {
  const { onEvent } = opts;
  // The first write that fails (a full disk) stops the run: no more model work for answers
  // that cannot be kept, and the failure is reported once, naming the file.
  let failedWrite: WriteError | SanitizerError | undefined;
  const writeFailed = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, writeFailed.signal]) : writeFailed.signal;
  // A failed write or a failed sanitizer stops the whole run (the first one is what it says).
  const stopOnWriteFailure = (err: unknown) => {
    if ((err instanceof WriteError || err instanceof SanitizerError) && !failedWrite) {
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
  // A failed call inside a chain (a candidate refused for its length) costs the chain nothing
  // visible: each kind is said once, and every failure is counted on the progress line.
  const limiter = new Limiter(spec.concurrency, {
    onFailure: (f) => {
      if (f.firstOfKind)
        emit({ type: "error", source: f.model, message: `a model call failed: ${f.message} (further failures are counted on the progress line)` });
    },
  });
  const counter = new CallCounter();
  const models = new Map([...opts.models].map(([k, v]) => [k, limiter.wrap(counter.wrap(v))]));
  const model = (name: string) => models.get(name)!;
  const targets = spec.targets.map(model);
  const sanitizer = spec.sanitizer && spec.sanitizer !== RULES_SANITIZER ? model(spec.sanitizer) : undefined;

  await ensureDir(spec.out, "results");
  const existing = new Set<string>();
  // A fresh folder has no results yet.
  for (const r of (await readResults(spec.out, { missingOk: true, slim: true })).records) existing.add(resultKey(r));
  const cots = new CotStore(join(spec.out, COTS_FILE));
  await cots.load();

  // Records are appended in order, those that finish during a write together in the next one.
  // The cache entries behind a record go to disk before it, so a run from the cache after a
  // kill asks nothing. A write is not cancellable: a record is written whole or not at all.
  const resultWriter = new BatchWriter<ResultRecord>((recs) => flushCacheLogs().then(() => appendResults(spec.out, recs)));
  const relayWriter = new BatchWriter<RelayRecord>((recs) => flushCacheLogs().then(() => appendRelayRecords(spec.out, recs)));
  const summary: RunSummary = { calls: 0, written: 0, skipped: 0, total: 0, errors: 0, cancelled: false, out: spec.out };
  let plannedCalls = 0;
  let lastLabel = "";
  /** `tick`: a redraw between records (the label is the last record's). */
  const progress = (label: string, tick = false) => {
    lastLabel = label;
    summary.calls = counter.calls;
    // Ensemble steps and judges are not in the plan: past it, only the count sent is known.
    const left = plannedCalls - summary.calls;
    emit({
      type: "progress",
      done: summary.written + summary.skipped + summary.errors,
      total: summary.total,
      label,
      ...(plannedCalls ? { calls: { sent: summary.calls, ...(left > 0 ? { left } : {}) } } : {}),
      ...(tick ? { tick } : {}),
      load: limiter.load().map(({ model, inFlight, queued, limit, failed }) => ({ model, inFlight, queued, limit, failed })),
    });
  };

  type Job = ConditionJob & { key: string };
  const jobs: Job[] = [];
  for (const problem of opts.problems) {
    for (const cond of spec.conditions) {
      if (isRelayCondition(cond)) continue;
      for (const variant of cond.kind === "empty" ? (["full"] as const) : cond.variants) {
        for (const target of targets) {
          const rec = { experiment: spec.name, condition: recordCondition(cond, variant), target: target.name, problemId: problem.id, dataset: problem.source };
          jobs.push({ problem, cond, variant, target, key: resultKey(rec) });
        }
      }
    }
  }
  const todo = jobs.filter((j) => {
    if (existing.has(j.key)) {
      summary.skipped++;
      return false;
    }
    return true;
  });
  const ctx: ConditionContext = { spec, mode: spec.mode, cots, model, sanitizer, signal, emit };
  const relay = await relayWork(spec, opts.problems, { cots, model, signal, emit });
  const relayTodo = relay.jobs.filter((j) => !relay.existing.has(j.key));
  summary.total = jobs.length + relay.jobs.length;
  summary.skipped += relay.jobs.length - relayTodo.length;
  plannedCalls = planCalls(spec, todo, cots) + relayTodo.reduce((n, j) => n + j.plannedCalls, 0);
  progress(summary.skipped ? `${summary.skipped} records already in ${spec.out}` : "starting");

  const runRelayJob = async (j: RelayJob): Promise<void> => {
    throwIfAborted(signal);
    let rec: RelayRecord;
    try {
      rec = await j.run();
    } catch (err) {
      if (isAbort(err, signal)) throw err;
      if (err instanceof WriteError) stopOnWriteFailure(err);
      summary.errors++;
      emit({ type: "error", source: j.label, message: (err as Error).message });
      progress(j.label);
      return;
    }
    throwIfAborted(signal);
    await relayWriter.add(rec).catch(stopOnWriteFailure);
    summary.written++;
    progress(j.label);
  };

  const runJob = async (j: Job): Promise<void> => {
    throwIfAborted(signal);
    const label = `${j.problem.id} ${conditionKey(recordCondition(j.cond, j.variant))} -> ${j.target.name}`;
    let cot: MadeCot;
    try {
      cot = await cotForJob(j, ctx);
    } catch (err) {
      if (isAbort(err, signal)) throw err;
      if (err instanceof WriteError || err instanceof SanitizerError) stopOnWriteFailure(err);
      summary.errors++;
      emit({ type: "error", source: label, message: (err as Error).message });
      progress(label);
      return;
    }
    throwIfAborted(signal);
    const started = Date.now();
    const strategy = strategyFor(j.cond);
    const maxTokens = await answerBudget(spec, j.target, j.problem, cot.cot);
    // run_transfer_thoughts.py left gpt-oss at medium effort; run.py and run_custom_thoughts.py were given low.
    const paper = spec.mode === "paper" ? (j.cond.kind === "transfer" ? "transferTarget" : "run") : undefined;
    const temperature = strategy.answerTemperature(j, ctx);
    // A sampled answer takes the spec's seed, as its chain does: a rerun from the response cache
    // then asks nothing (without a seed, every sampled answer goes to the server again).
    const seed = temperature > 0 ? spec.cot.seed : undefined;
    const reply = await askTarget(j.target, j.problem, cot.cot, { maxTokens, temperature, seed, signal, paper });
    throwIfAborted(signal);
    if (reply.error) {
      // A failure is not an answer: nothing is written, so the next run asks again.
      summary.errors++;
      emit({ type: "error", source: label, message: reply.error });
      progress(label);
      return;
    }
    const rec = resultRecord(spec, j, cot, reply, strategy.paperGradingModel(j), { answerMs: Date.now() - started, answerTokens: maxTokens });
    emit({ type: "target-answer", answer: { target: j.target.name, chainLength: 0, raw: reply.raw, grade: reply.grade } });
    await resultWriter.add(rec).catch(stopOnWriteFailure);
    summary.written++;
    progress(label);
  };

  // Records can be minutes apart (an ensemble chain is hundreds of calls): the calls and the
  // requests in flight are redrawn every second between them.
  const ticker = setInterval(() => progress(lastLabel, true), PROGRESS_TICK_MS);
  ticker.unref();
  try {
    const results = await Promise.allSettled([...todo.map((j) => runJob(j)), ...relayTodo.map((j) => runRelayJob(j))]);
    const failed = results.find((r) => r.status === "rejected" && !isAbort(r.reason, signal));
    if (failed) throw (failed as PromiseRejectedResult).reason;
    if (signal?.aborted) throw new CancelledError("experiment");
  } catch (err) {
    if (failedWrite) throw failedWrite;
    if (!isAbort(err, signal)) throw err;
    summary.cancelled = true;
    summary.calls = counter.calls;
    await Promise.all([resultWriter.idle(), relayWriter.idle()]);
    emit({ type: "cancelled", what: `experiment ${spec.name ?? ""}`.trim() });
    return summary;
  } finally {
    clearInterval(ticker);
  }
  await Promise.all([resultWriter.idle(), relayWriter.idle()]);
  summary.calls = counter.calls;
  const all = await readResults(spec.out, { missingOk: true, slim: true });
  if (all.records.length === 0 && relay.jobs.length) return summary;
  await writeSummary(spec.out, buildReport(all.records.filter((r) => r.experiment === spec.name)));
  return summary;
}

/** The relay conditions' jobs and the relay records already written (by key). */
async function relayWork(
  spec: ExperimentSpec,
  problems: readonly Problem[],
  ctx: { cots: CotStore; model: (name: string) => ModelHandle; signal?: AbortSignal; emit: EngineListener },
): Promise<{ jobs: RelayJob[]; existing: Map<string, RelayRecord> }> {
  const conds = spec.conditions.filter(isRelayCondition);
  const existing = new Map<string, RelayRecord>();
  if (!conds.length) return { jobs: [], existing };
  for (const r of (await readRelayRecords(spec.out)).records) existing.set(relayRecordKey(r), r);
  const jobs = conds.flatMap((cond) => relayJobs(problems, { spec, cond, cots: ctx.cots, model: ctx.model, existing, signal: ctx.signal, emit: ctx.emit }));
  return { jobs, existing };
}

/**
 * Model calls the answer jobs will make: one answer each, and each chain of a default or
 * transfer condition not saved yet. Ensemble chains (sentence by sentence) and sanitizing come on top.
 */
function planCalls(spec: ExperimentSpec, jobs: readonly ConditionJob[], cots: CotStore): number {
  const chains = new Set<string>();
  for (const j of jobs) {
    const c = j.cond;
    const key =
      c.kind === "default-greedy" || c.kind === "default-sampled"
        ? chainKey(defaultChainBase(c.kind, j.target.name), j.problem)
        : c.kind === "transfer" && !c.cots
          ? chainKey(transferChainBase(c.source), j.problem)
          : undefined;
    if (key && !cots.has(key)) chains.add(key);
  }
  void spec;
  return jobs.length + chains.size;
}

export interface ExperimentPlan {
  /** Records still to write. */
  records: number;
  /** Model calls for their chains and answers. */
  calls: number;
  /** Calls that cannot be counted before the chains exist (judge steps, departure probes, ensemble steps). */
  uncounted: string[];
}

/** What a run of `spec` will still do in its results folder, counted before any model is opened. */
export async function planExperiment(spec: ExperimentSpec, problems: readonly Problem[]): Promise<ExperimentPlan> {
  const existing = new Set<string>();
  for (const r of (await readResults(spec.out, { missingOk: true, slim: true })).records) existing.add(resultKey(r));
  const cots = new CotStore(join(spec.out, COTS_FILE));
  await cots.load();
  const jobs: ConditionJob[] = [];
  for (const problem of problems) {
    for (const cond of spec.conditions) {
      if (isRelayCondition(cond)) continue;
      for (const variant of cond.kind === "empty" ? (["full"] as const) : cond.variants) {
        for (const name of spec.targets) {
          const rec = { experiment: spec.name, condition: recordCondition(cond, variant), target: name, problemId: problem.id, dataset: problem.source };
          if (!existing.has(resultKey(rec))) jobs.push({ problem, cond, variant, target: { name } as ModelHandle });
        }
      }
    }
  }
  // Relay jobs are planned with placeholder handles: planning asks no model.
  const relay = await relayWork(spec, problems, { cots, model: (name) => ({ name }) as ModelHandle, emit: () => {} });
  const relayTodo = relay.jobs.filter((j) => !relay.existing.has(j.key));
  const uncounted: string[] = [];
  if (jobs.some((j) => j.cond.kind === "ensemble")) uncounted.push("ensemble chains (k candidates per generator per sentence, and their scoring)");
  if (jobs.some((j) => j.variant === "without-answer") && spec.sanitizer) uncounted.push("sanitizing");
  const relayConds = spec.conditions.filter(isRelayCondition);
  if (relayTodo.length && relayConds.some((c) => c.judge)) uncounted.push("judge calls (one per new step)");
  if (relayTodo.length && relayConds.some((c) => c.departure)) uncounted.push("departure probes (one answer per sentence where a continuer differs)");
  return { records: jobs.length + relayTodo.length, calls: planCalls(spec, jobs, cots) + relayTodo.reduce((n, j) => n + j.plannedCalls, 0), uncounted };
}

const NOT_GRADED: ReadingGrade = { answer: null, correct: false, excluded: true };

/** One result record: the run's reading in `answer`/`correct`, both readings in `grades`. */
function resultRecord(
  spec: ExperimentSpec,
  j: ConditionJob,
  cot: MadeCot,
  reply: Awaited<ReturnType<typeof askTarget>>,
  paperModel: string,
  meta: { answerMs: number; answerTokens: number },
): ResultRecord {
  // The paper graded the whole generated text; the prompt's only "answer:" matches are its
  // placeholders, which read as "Not Found", so the thinking and the reply are what count.
  const graded = reply.error || reply.truncated ? null : gradeBoth(thinkingPrefill(j.target.thinkingFormat, cot.cot) + reply.raw, j.problem, paperModel);
  const concord = reply.error || reply.truncated ? NOT_GRADED : gradeBoth(reply.raw, j.problem).concord;
  const paper = graded?.paper ?? (reply.error || reply.truncated ? NOT_GRADED : null);
  const chosen = spec.mode === "paper" && paper ? paper : concord;
  const missing = reply.error
    ? ("error" as const)
    : reply.truncated
      ? ("truncated" as const)
      : chosen.answer === null
        ? paper?.crashed && chosen === paper
          ? ("crashed" as const)
          : ("not-found" as const)
        : undefined;
  return {
    schema: 1,
    experiment: spec.name,
    condition: recordCondition(j.cond, j.variant),
    target: j.target.name,
    problemId: j.problem.id,
    dataset: j.problem.source,
    reference: j.problem.reference,
    answerRaw: reply.error ? null : reply.raw,
    answer: chosen.answer,
    ...(missing ? { answerMissing: missing } : {}),
    correct: chosen.correct,
    grades: { reading: spec.mode, paper, concord },
    ...(reply.truncated ? { truncated: true } : {}),
    cot: cot.cot,
    meta: { ...cot.meta, ...meta, ...(reply.error ? { error: reply.error } : {}) },
  };
}
