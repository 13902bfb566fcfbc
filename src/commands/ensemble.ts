// `concord ensemble --set <file|builtin> --problem <id|row>`: build one ensemble chain headless,
// printing each accepted sentence with its winner, runners-up and scores.
// Decisions: --auto (or no flag) accepts the evaluator's pick at every step; --decide reads one
// decision per step from stdin ("" or "pick": the evaluator's pick; a candidate id such as
// "gen#1": that candidate; "write <text>": your own sentence; "regen"; "undo"; "stop").
import type { Command } from "commander";
import { createInterface } from "node:readline";
import type { Candidate, ChainSentence, Decision } from "../core/chain.js";
import { chainText } from "../core/chain.js";
import { UserError } from "../errors.js";
import { shareSignal } from "../engine/abort.js";
import { ChainBuilder, type RunOutcome } from "../engine/ensemble.js";
import { openModels, roleNames } from "../engine/models.js";
import { addCacheRecordOptions } from "../config/models.js";
import { findProblem, loadSet } from "../engine/problemset.js";
import { addProblemOptions, problemSetOption } from "./problem-set-option.js";

interface EnsembleOptions {
  set: string;
  problem: string;
  auto?: boolean;
  decide?: boolean;
  json?: boolean;
  steps?: string;
  k?: string;
  mode?: string;
  models?: string;
  generators?: string;
  evaluators?: string;
  maxSentences?: string;
  seed?: string;
  cache?: boolean;
  record?: string;
  /** --model <file.gguf>: one file in every role. */
  model?: string;
}

const clean = (s: string) => s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]+/g, " ").replace(/\n/g, "\\n");
const fmt = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(3));

function intOption(v: string | undefined, flag: string, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UserError(`${flag}: expected a whole number >= ${min}, got "${v}"`);
  return n;
}

function list(v: string | undefined): string[] | undefined {
  return v
    ? v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;
}

/** Who chose a sentence, in words (the decision names are the chain's own vocabulary). */
const DECIDED: Record<Decision, string> = {
  evaluator: "picked by the evaluator",
  "human-pick": "picked by you",
  "human-edit": "edited by you",
  "human-written": "written by you",
  imported: "imported",
};

export function describeSentence(index: number, s: ChainSentence): string {
  const ranked = [...s.candidates].filter((c) => c.meanPerplexity !== undefined).sort((a, b) => a.meanPerplexity! - b.meanPerplexity!);
  const accepted = s.candidates.find((c) => c.id === s.acceptedId);
  const how = `${DECIDED[s.decision] ?? s.decision}${accepted ? `, ppl ${fmt(accepted.meanPerplexity)}` : ""}`;
  const head =
    s.decision === "human-written"
      ? `[${index + 1}] (${how}): ${clean(s.text.trim())}`
      : `[${index + 1}] ${s.acceptedId ?? s.author} (${how}): ${clean(s.text.trim())}`;
  const lines = [head];
  for (const c of ranked.filter((c: Candidate) => c.id !== s.acceptedId).slice(0, 3)) {
    const per = c.scores.map((sc) => `${sc.evaluator} ${fmt(sc.perplexity)}`).join(", ");
    lines.push(`      ${c.id} ppl ${fmt(c.meanPerplexity)}${per && c.scores.length > 1 ? ` (${per})` : ""}: ${clean(c.text.trim())}`);
  }
  return lines.join("\n");
}

export async function ensembleCommand(opts: EnsembleOptions): Promise<number> {
  const steps = opts.steps === undefined || opts.steps === "end" ? "end" : intOption(opts.steps, "--steps")!;
  const mode = opts.mode ?? "concord";
  if (mode !== "concord" && mode !== "paper") throw new UserError(`--mode: expected "concord" or "paper", got "${mode}"`);
  const models = openModels({ modelsFile: opts.models, model: opts.model, cache: opts.cache, record: opts.record });
  const problems = await loadSet(opts.set);
  const problem = findProblem(problems, opts.problem, opts.set);
  const ctrl = new AbortController();
  shareSignal(ctrl.signal);
  try {
    const generators = await Promise.all(
      (list(opts.generators) ?? roleNames(models.roles, "generators", models.source)).map((n) => models.get(n, "generator")),
    );
    const evaluators = await Promise.all(
      (list(opts.evaluators) ?? roleNames(models.roles, "evaluators", models.source)).map((n) => models.get(n, "evaluator")),
    );
    const seed = intOption(opts.seed, "--seed", 0);
    const builder = new ChainBuilder({
      problem,
      generators,
      evaluators,
      k: intOption(opts.k, "--k") ?? 3,
      mode,
      auto: !opts.decide,
      budget: { maxSentences: intOption(opts.maxSentences, "--max-sentences") ?? 60 },
      sampling: seed === undefined ? {} : { seed },
    });
    if (!opts.auto && !opts.decide && !opts.json) {
      process.stderr.write("concord: headless: accepting the evaluator's pick at every step (--decide reads decisions from stdin)\n");
    }
    builder.on((e) => {
      if (e.type === "sentence-accepted" && !opts.json) process.stdout.write(describeSentence(e.step, e.sentence) + "\n");
      if (e.type === "error") process.stderr.write(`concord: ${clean(e.source)}: ${clean(e.message)}\n`);
    });
    const onSigint = () => {
      ctrl.abort();
      void builder.stop();
    };
    process.on("SIGINT", onSigint);
    let outcome: RunOutcome | "stopped";
    try {
      outcome = opts.decide ? await decideFromStdin(builder, steps) : await builder.runSteps(steps);
    } finally {
      process.off("SIGINT", onSigint);
    }
    const chain = builder.getChain();
    if (opts.json) {
      process.stdout.write(JSON.stringify({ problem: problem.id, source: problem.source, mode, outcome, text: chainText(chain, mode), chain }) + "\n");
    } else {
      process.stdout.write(
        `-- ${chain.sentences.length} sentence${chain.sentences.length === 1 ? "" : "s"}; ${outcomeText(outcome, steps, chain.sentences.length, builder.budget)}\n`,
      );
    }
    return outcome === "failed" ? 1 : ctrl.signal.aborted ? 130 : 0;
  } finally {
    await models.close();
  }
}

/** Why the chain ended, in words. */
export function outcomeText(outcome: RunOutcome | "stopped", steps: number | "end", sentences: number, budget: { maxSentences: number }): string {
  switch (outcome) {
    case "count":
      return `stopped after ${steps} step${steps === 1 ? "" : "s"}, as asked (--steps)`;
    case "end-of-thought":
      return "finished: end of thought";
    case "budget":
      return sentences >= budget.maxSentences ? `stopped: sentence budget reached (--max-sentences ${budget.maxSentences})` : "stopped: token budget reached";
    case "stopped":
      return "stopped by your decision";
    case "paused":
      return "paused";
    case "cancelled":
      return "cancelled";
    case "failed":
      return "failed: no sentence could be accepted (see the errors above)";
  }
}

/** One decision per step from stdin lines (see the header of this file). */
async function decideFromStdin(builder: ChainBuilder, steps: number | "end"): Promise<RunOutcome | "stopped"> {
  const rl = createInterface({ input: process.stdin, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  let done = 0;
  try {
    for (;;) {
      const stop = builder.stopReason();
      if (stop) return stop;
      if (steps !== "end" && done >= steps) return "count";
      const waiting = new Promise<void>((resolve) => {
        const off = builder.on((e) => {
          if (e.type === "awaiting-decision") {
            off();
            resolve();
          }
        });
      });
      const step = builder.startStep({ auto: false });
      const first = await Promise.race([waiting.then(() => "waiting" as const), step]);
      if (first !== "waiting") {
        if (first === "finished") continue;
        return first === "accepted" ? "count" : first;
      }
      for (;;) {
        const next = await lines.next();
        const line = next.done ? "" : next.value.trim();
        try {
          if (next.done || line === "" || line === "pick") {
            const pick = builder.getStep()?.pick;
            if (!pick) throw new UserError("no candidate could be scored at this step; write a sentence or regen");
            builder.accept(pick);
          } else if (line === "stop") {
            await builder.stop();
            return "stopped";
          } else if (line === "undo") {
            await builder.undo();
            done = Math.max(0, done - 1);
          } else if (line === "regen") {
            await builder.cancel();
          } else if (line.startsWith("write ")) {
            builder.write(line.slice(6));
          } else {
            builder.accept(line);
          }
          break;
        } catch (err) {
          process.stderr.write(`concord: ${(err as Error).message}\n`);
          if (next.done) return "failed";
        }
      }
      const outcome = await step;
      if (outcome === "accepted") done++;
    }
  } finally {
    rl.close();
  }
}

export function register(program: Command): void {
  addProblemOptions(addCacheRecordOptions(program.command("ensemble")))
    .description("build one sentence-level ensemble chain headless and print each step")
    .option("--auto", "accept the evaluator's pick at every step (the default when headless)")
    .option("--decide", "read one decision per step from stdin: empty/pick, a candidate id, write <text>, regen, undo, stop")
    .option("--json", "print the finished chain as JSON")
    .option("--steps <n>", "stop after n sentences (default: to the end of thought)")
    .option("--k <n>", "candidates per generator per step", "3")
    .option("--mode <mode>", "concord (sentence candidates, candidate-only perplexity) or paper (the published code's rules)", "concord")
    .option("--generators <names>", "comma-separated model names (default: roles.generators)")
    .option("--evaluators <names>", "comma-separated model names (default: roles.evaluators)")
    .option("--max-sentences <n>", "sentence budget", "60")
    .option("--seed <n>", "sampling seed (reproducible candidates)")
    .option("--models <file>", "model profiles file (YAML or JSON); default: CONCORD_MODELS, saved settings, or CONCORD_MODEL")
    .action(async (opts: EnsembleOptions, cmd: Command) => {
      const code = await ensembleCommand({ ...opts, set: problemSetOption(opts.set, cmd) });
      if (code) process.exitCode = code;
    });
}
