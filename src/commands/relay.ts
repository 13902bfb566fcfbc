// `concord relay --set <file|builtin> --problem <id|row>`: an initiator writes a chain, it is
// cut early/mid/late (or after given sentences), each continuer finishes it, every chain is
// answered, steps are scored (PRM when roles.prm is an OpenAI-compatible server, else an LLM
// judge), and the first sentence where a continuer departs from the initiator is reported.
import type { Command } from "commander";
import type { CutRule } from "../core/cutpoints.js";
import { UserError } from "../errors.js";
import { shareSignal } from "../engine/abort.js";
import { openModels, roleNames } from "../engine/models.js";
import { addCacheRecordOptions } from "../config/models.js";
import { CallCounter } from "../engine/call-count.js";
import { findProblem, loadSet } from "../engine/problemset.js";
import { JudgeScorer, PrmScorer, runComparison, runRelay, type CutName, type RelayResult, type StepScorer } from "../engine/relay.js";
import { addProblemOptions, problemSetOption } from "./problem-set-option.js";
import { confirmCalls, declined } from "../cli/confirm.js";

interface RelayOptions {
  set: string;
  problem: string;
  initiator?: string;
  continuers?: string;
  cuts?: string;
  rule?: string;
  judge?: string;
  scores?: boolean;
  maxTokens?: string;
  json?: boolean;
  yes?: boolean;
  models?: string;
  cache?: boolean;
  record?: string;
  /** --model <file.gguf>: one file in every role. */
  model?: string;
}

const clean = (s: string) =>
  s
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]+/g, " ")
    .replace(/\s*\n\s*/g, " ")
    .trim();
const fmt = (x: number | null | undefined) => (x === null || x === undefined ? "-" : x.toFixed(2));

export function parseCuts(v: string | undefined): Array<CutName | number> | undefined {
  if (!v) return undefined;
  return v.split(",").map((c) => {
    const t = c.trim();
    if (t === "early" || t === "mid" || t === "late") return t;
    if (/^\d+$/.test(t) && Number(t) >= 1) return Number(t) - 1; // 1-based on the command line
    throw new UserError(`--cuts: "${t}" is not early, mid, late or a sentence number (1, 2, ...)`);
  });
}

export function renderRelay(r: RelayResult): string {
  const out: string[] = [];
  const init = r.initiator;
  const initAnswer =
    init.answer.grade.answer === "" ? "no answer" : `answer "${clean(init.answer.grade.answer)}" (${init.answer.grade.correct ? "correct" : "wrong"})`;
  out.push(`initiator ${init.model}: ${init.sentences.length} sentences, ${initAnswer}`);
  init.sentences.forEach((s, i) => {
    const marks = (Object.keys(r.cutPoints) as CutName[]).filter((k) => r.cutPoints[k] === i);
    out.push(`  ${String(i + 1).padStart(3)} ${fmt(init.stepScores?.[i])} ${clean(s)}${marks.length ? `   <- cut ${marks.join("/")}` : ""}`);
  });
  for (const run of r.runs) {
    const cut = typeof run.cut === "number" ? `after sentence ${run.cut + 1}` : `${run.cut} (after sentence ${run.cutSentence + 1})`;
    const answer =
      run.answer.grade.answer === "" ? "no answer" : `answer "${clean(run.answer.grade.answer)}" (${run.answer.grade.correct ? "correct" : "wrong"})`;
    const versus = { agrees: "agrees with the initiator", differs: "differs from the initiator", "no-answer": "no answer from either" }[
      runComparison(run, init)
    ];
    out.push(`continuer ${run.continuer} from ${cut}: ${answer}, ${versus}`);
    run.sentences.slice(run.handover).forEach((s, j) => {
      const i = run.handover + j;
      const dep = run.departure?.sentence === i ? `   <- departs here (answer "${clean(run.departure.answer)}")` : "";
      out.push(`  ${String(i + 1).padStart(3)} ${fmt(run.stepScores?.[i])} ${clean(s)}${dep}`);
    });
  }
  if (r.scorer) out.push(`step scores: ${r.scorer}`);
  return out.join("\n") + "\n";
}

export async function relayCommand(opts: RelayOptions): Promise<number> {
  const rule = (opts.rule ?? "threshold") as CutRule;
  if (!["quantile", "threshold", "cumulative"].includes(rule)) throw new UserError(`--rule: expected quantile, threshold or cumulative, got "${opts.rule}"`);
  const maxTokens = opts.maxTokens === undefined ? undefined : Number(opts.maxTokens);
  if (maxTokens !== undefined && !(Number.isInteger(maxTokens) && maxTokens > 0))
    throw new UserError(`--max-tokens: expected a positive whole number, got "${opts.maxTokens}"`);
  const models = openModels({ modelsFile: opts.models, model: opts.model, cache: opts.cache, record: opts.record });
  const problems = await loadSet(opts.set);
  const problem = findProblem(problems, opts.problem, opts.set);
  const ctrl = new AbortController();
  shareSignal(ctrl.signal);
  const onSigint = () => ctrl.abort();
  process.on("SIGINT", onSigint);
  try {
    const initiatorName = opts.initiator ?? models.roles.initiator;
    if (!initiatorName) throw new UserError(`no initiator: pass --initiator <model> or set roles.initiator in ${models.source}`);
    const counter = new CallCounter();
    const initiator = counter.wrap(await models.get(initiatorName, "initiator"));
    const contNames = opts.continuers
      ? opts.continuers
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean)
      : roleNames(models.roles, "continuers", models.source);
    const continuers = await Promise.all(contNames.map(async (n) => counter.wrap(await models.get(n, "continuer"))));
    let scorer: StepScorer | undefined;
    if (opts.scores !== false) {
      const prm = models.roles.prm ? models.profiles.find((p) => p.name === models.roles.prm) : undefined;
      if (prm && prm.backend === "openai" && prm.baseURL) {
        scorer = new PrmScorer({ name: prm.name, baseURL: prm.baseURL, model: prm.model, apiKeyEnv: prm.apiKeyEnv });
      } else {
        scorer = new JudgeScorer(counter.wrap(await models.get(opts.judge ?? models.roles.evaluators[0] ?? initiatorName)));
      }
    }
    const cuts = parseCuts(opts.cuts) ?? ["early", "mid", "late"];
    // The initiator's chain and answer, then a continuation and an answer per cut and continuer.
    const calls = 2 + cuts.length * continuers.length * 2;
    const uncounted = [...(scorer ? ["step scores (a judge call per step, or one PRM call per chain)"] : []), "departure probes where an answer differs"];
    if (!(await confirmCalls(calls, `relay of problem ${problem.id}`, uncounted, { yes: opts.yes }))) throw declined();
    const result = await runRelay({
      problem,
      initiator,
      continuers,
      cuts,
      cutRule: rule,
      maxTokens,
      scorer,
      signal: ctrl.signal,
      onEvent: (e) => {
        if (e.type === "progress" && !opts.json) process.stderr.write(`${e.label}\n`);
        if (e.type === "error") process.stderr.write(`concord: ${clean(e.source)}: ${clean(e.message)}\n`);
      },
    });
    process.stdout.write(opts.json ? JSON.stringify(result) + "\n" : renderRelay(result));
    // A rerun answered from the response cache looks like a fresh one; say which it was.
    const served = counter.servedFromCache;
    if (served > 0)
      process.stderr.write(`concord: ${counter.calls} model calls; ${served} answers served from the response cache (--no-cache runs the models again)\n`);
    return 0;
  } catch (err) {
    if (ctrl.signal.aborted) {
      process.stderr.write("concord: relay stopped\n");
      return 130;
    }
    if (err instanceof RangeError || (err instanceof Error && !(err instanceof UserError) && /relay|cut|sentence/.test(err.message))) {
      throw new UserError(err.message);
    }
    throw err;
  } finally {
    process.off("SIGINT", onSigint);
    await models.close();
  }
}

export function register(program: Command): void {
  addProblemOptions(addCacheRecordOptions(program.command("relay")))
    .description("relay one problem: an initiator's chain cut early/mid/late, finished by continuers, answers and step scores compared")
    .option("--initiator <model>", "model that writes the chain (default: roles.initiator)")
    .option("--continuers <names>", "comma-separated models that finish it (default: roles.continuers)")
    .option("--cuts <list>", "early,mid,late and/or sentence numbers, e.g. early,late,4", "early,mid,late")
    .option("--rule <rule>", "how early/mid/late are placed: threshold, quantile or cumulative", "threshold")
    .option("--judge <model>", "LLM judge for step scores when no PRM is configured (default: first evaluator)")
    .option("--no-scores", "skip step scoring")
    .option("--max-tokens <n>", "token budget of the chain and of each continuation")
    .option("--json", "print the whole relay as JSON")
    .option("--yes", "make the model calls without asking (the count is printed first)")
    .option("--models <file>", "model profiles file (YAML or JSON); default: CONCORD_MODELS, saved settings, or CONCORD_MODEL")
    .action(async (opts: RelayOptions, cmd: Command) => {
      const code = await relayCommand({ ...opts, set: problemSetOption(opts.set, cmd) });
      if (code) process.exitCode = code;
    });
}
