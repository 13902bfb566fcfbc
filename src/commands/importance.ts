// `concord importance <session|chain file|trace> --problem <id> --samples N [--json]`: how much
// each sentence of a chain moves each target's answers (engine/importance.ts). The chain comes
// from a saved session, a chain file (plain text, or JSONL of {problemId, cot} lines), or an
// ensemble trace (a selected_distributions row file, a folder of them, or a console log).
import { promises as fs } from "node:fs";
import { basename } from "node:path";
import type { Command } from "commander";
import { addCacheRecordOptions } from "../config/models.js";
import { confirmCalls, declined } from "../cli/confirm.js";
import { splitSentences } from "../core/sentences.js";
import type { Problem } from "../core/types.js";
import { oneLine, UserError } from "../errors.js";
import { loadGenexTrace, traceToChain } from "../backends/genex-trace.js";
import { curatedCots } from "../engine/conditions/transfer.js";
import { shareSignal } from "../engine/abort.js";
import { CallCounter } from "../engine/call-count.js";
import { chainDigest, importanceCalls, importanceFile, readSamples, runImportance, type ImportanceResult } from "../engine/importance.js";
import { Limiter } from "../engine/limits.js";
import { openModels, roleNames } from "../engine/models.js";
import { findProblem, loadSet } from "../engine/problemset.js";
import { loadSession } from "../state/sessions.js";

interface ImportanceOptions {
  problem: string;
  samples: string;
  set?: string;
  targets?: string;
  temperature: string;
  seed: string;
  maxTokens: string;
  answerTokens?: string;
  concurrency: string;
  out?: string;
  json?: boolean;
  yes?: boolean;
  models?: string;
  model?: string;
  cache?: boolean;
  record?: string;
}

const clean = (s: string) =>
  s
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]+/g, " ")
    .replace(/\s*\n\s*/g, " ")
    .trim();

const positiveInt = (v: string | undefined, flag: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${flag}: expected a positive whole number, got "${v}"`);
  return n;
};

const sentencesOf = (text: string) =>
  splitSentences(text, "concord")
    .map((s) => s.text.trim())
    .filter(Boolean);

/** The chain and its problem, from whichever kind of file `input` is. */
export async function loadChain(input: string, problemId: string, set: string | undefined): Promise<{ problem: Problem; sentences: string[]; kind: string }> {
  const st = await fs.stat(input).catch(() => undefined);
  if (!st) throw new UserError(`${input}: no such file or folder`);
  const needSet = async (which: string) => {
    if (!set) throw new UserError(`${input}: a chain file or trace holds no problem text: pass --set <file|builtin> to find problem "${which}"`);
    return findProblem(await loadSet(set), which, set);
  };
  const name = basename(input);
  if (st.isDirectory() || /selected_distributions_row_\d+\.json$/.test(name) || /\.log$/.test(name)) {
    const trace = await loadGenexTrace(input);
    const p =
      trace.problems.find((x) => x.rowNumber === problemId || String(x.index) === problemId) ?? (trace.problems.length === 1 ? trace.problems[0] : undefined);
    if (!p) throw new UserError(`${input}: no problem "${problemId}" in this trace (it holds ${trace.problems.map((x) => x.rowNumber ?? x.index).join(", ")})`);
    const problem = await needSet(p.rowNumber ?? problemId);
    return {
      problem,
      sentences: traceToChain(p)
        .sentences.map((s) => s.text.trim())
        .filter(Boolean),
      kind: "trace",
    };
  }
  if (/\.json$/i.test(name)) {
    const session = await loadSession(input);
    if (problemId !== session.problem.id) throw new UserError(`${input}: the session is on problem "${session.problem.id}", not "${problemId}"`);
    return { problem: session.problem, sentences: session.chain.sentences.map((s) => s.text.trim()).filter(Boolean), kind: "session" };
  }
  if (/\.jsonl$/i.test(name)) {
    const cot = (await curatedCots(input)).get(problemId);
    if (cot === undefined) throw new UserError(`${input}: no chain for problem "${problemId}"`);
    return { problem: await needSet(problemId), sentences: sentencesOf(cot), kind: "chain file" };
  }
  const text = await fs.readFile(input, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new UserError(`${input}: cannot read (${err.code ?? "error"})`);
  });
  return { problem: await needSet(problemId), sentences: sentencesOf(text), kind: "chain file" };
}

const fmt = (x: number | null | undefined, signed = false) => (x === null || x === undefined ? "-" : `${signed && x >= 0 ? "+" : ""}${x.toFixed(2)}`);

export function renderImportance(r: ImportanceResult): string {
  const out: string[] = [];
  out.push(`Sentence importance for problem ${clean(r.problemId)}: ${r.sentences} sentences, ${r.samples} samples per prefix and target`);
  out.push("Per target: accuracy change [95% interval] when the sentence is kept, and the total-variation shift of the answers.");
  for (const row of r.rows) {
    out.push(`${String(row.sentence + 1).padStart(3)} ${clean(row.text).slice(0, 100)}`);
    for (const t of r.targets) {
      const v = row.byTarget[t.name];
      const acc = v?.accuracyChange;
      const tv = v?.divergence;
      out.push(
        `      ${clean(t.name).padEnd(16)} acc ${fmt(acc?.value, true)} [${fmt(acc?.low, true)}, ${fmt(acc?.high, true)}]  TV ${fmt(tv?.value)} [${fmt(tv?.low)}, ${fmt(tv?.high)}]  JS ${fmt(v?.js)}`,
      );
    }
  }
  const a = r.agreement;
  if (r.targets.length > 1) {
    out.push(`Target agreement on which sentences matter: Spearman ${fmt(a.spearman)}, top-${a.k} overlap ${fmt(a.topOverlap)}`);
    for (const p of a.pairs) out.push(`  ${clean(p.a)} ~ ${clean(p.b)}: Spearman ${fmt(p.spearman)}, top-${a.k} overlap ${fmt(p.topOverlap)}`);
  } else out.push("Target agreement: needs two targets or more");
  return out.join("\n") + "\n";
}

export async function importanceCommand(input: string, opts: ImportanceOptions): Promise<number> {
  const samples = positiveInt(opts.samples, "--samples")!;
  const seed = Number(opts.seed);
  if (!Number.isInteger(seed)) throw new UserError(`--seed: expected a whole number, got "${opts.seed}"`);
  const temperature = Number(opts.temperature);
  if (!(temperature > 0)) throw new UserError(`--temperature: expected a number above 0 (the samples must differ), got "${opts.temperature}"`);
  const maxTokens = positiveInt(opts.maxTokens, "--max-tokens")!;
  const answerTokens = positiveInt(opts.answerTokens, "--answer-tokens");
  const concurrency = positiveInt(opts.concurrency, "--concurrency")!;
  const { problem, sentences, kind } = await loadChain(input, opts.problem, opts.set);
  if (!sentences.length) throw new UserError(`${input}: the chain for problem ${problem.id} has no sentences`);
  const file = opts.out ?? importanceFile(problem, sentences);

  const models = openModels({ modelsFile: opts.models, model: opts.model, cache: opts.cache, record: opts.record });
  const ctrl = new AbortController();
  shareSignal(ctrl.signal);
  const onSigint = () => ctrl.abort();
  process.on("SIGINT", onSigint);
  try {
    const names = opts.targets
      ? opts.targets
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean)
      : roleNames(models.roles, "targets", models.source);
    const saved = await readSamples(file, { kind: "concord-importance", problemId: problem.id, chain: chainDigest(problem, sentences), temperature, seed });
    const planned = Math.max(0, importanceCalls(sentences.length, names.length, samples) - 2 * saved.size);
    const what = `importance of ${sentences.length} sentences (${kind}) for ${names.length} target${names.length === 1 ? "" : "s"}, ${samples} samples each${saved.size ? ` (${saved.size} samples already in ${file})` : ""}`;
    if (!(await confirmCalls(planned, what, [], { yes: opts.yes }))) throw declined();
    const limiter = new Limiter({ global: concurrency, perModel: concurrency });
    const counter = new CallCounter();
    const targets = await Promise.all(names.map(async (n) => limiter.wrap(counter.wrap(await models.get(n, "target")))));
    const tty = !!process.stderr.isTTY;
    const result = await runImportance({
      problem,
      sentences,
      targets,
      samples,
      temperature,
      seed,
      maxTokens,
      answerTokens,
      file,
      signal: ctrl.signal,
      onProgress: (p) => {
        const line = `${p.done}/${p.total} samples · ${counter.calls} calls sent, about ${Math.max(0, planned - counter.calls)} left · ${clean(p.label)}`;
        process.stderr.write(tty ? `\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 80) - 1)}` : `${line}\n`);
      },
      onError: (source, message) => process.stderr.write(`${tty ? "\n" : ""}concord: ${clean(source)}: ${clean(message)}\n`),
    });
    if (tty) process.stderr.write("\n");
    process.stderr.write(`concord: ${counter.calls} model calls made; samples in ${file}\n`);
    if (opts.json) process.stdout.write(JSON.stringify({ "sentence-importance": result, calls: counter.calls, file }, null, 2) + "\n");
    else process.stdout.write(renderImportance(result));
    const expected = names.length * (sentences.length + 1) * samples;
    return result.made + saved.size < expected ? 1 : 0;
  } catch (err) {
    if (ctrl.signal.aborted) {
      process.stderr.write(`\nconcord: importance stopped (samples so far are in ${file}; run again to resume)\n`);
      return 130;
    }
    if (err instanceof UserError) throw err;
    throw new UserError(oneLine(err));
  } finally {
    process.off("SIGINT", onSigint);
    await models.close();
  }
}

export function register(program: Command): void {
  addCacheRecordOptions(program.command("importance <chain>"))
    .description("how much each sentence of a chain moves each target's answers (resampling before and after it)")
    .requiredOption("--problem <id>", "the problem of the chain (for a trace: its Row Number or index)")
    .option("--samples <n>", "continuations per prefix and target", "4")
    .option("--set <file|builtin>", "problem set holding the problem (chain files and traces)")
    .option("--targets <names>", "comma-separated target models (default: roles.targets)")
    .option("--temperature <t>", "sampling temperature of the continuations", "0.7")
    .option("--seed <n>", "seed of the first sample (sample k uses seed + k)", "1")
    .option("--max-tokens <n>", "token budget of each continuation", "256")
    .option("--answer-tokens <n>", "token budget of each answer")
    .option("--concurrency <n>", "requests in flight", "4")
    .option("--out <file>", "samples file (resumable); default importance/<problem>-<chain digest>.jsonl")
    .option("--json", "print every figure as JSON")
    .option("--yes", "do not ask before making the model calls")
    .option("--models <file>", "model profiles file (YAML or JSON); default: CONCORD_MODELS, saved settings, or CONCORD_MODEL")
    .action(async (chain: string, opts: ImportanceOptions, cmd: Command) => {
      const own = opts.set ?? (cmd.optsWithGlobals() as { set?: string | string[] }).set;
      const code = await importanceCommand(chain, { ...opts, set: Array.isArray(own) ? own.at(-1) : own });
      if (code) process.exitCode = code;
    });
}
