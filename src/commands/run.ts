// `concord run <experiment.yaml|json> [--json]`: run a whole experiment headless. Progress on
// stderr (a bar on a terminal, plain lines otherwise); Ctrl-C stops cleanly and a later run
// resumes where this one stopped.
import type { Command } from "commander";
import { oneLine, UserError } from "../errors.js";
import { checkExperimentInputs, loadExperimentSpec, planExperiment, runExperiment, specModels } from "../engine/experiment.js";
import { confirmCalls, declined } from "../cli/confirm.js";
import type { EngineEvent, ModelLoadView } from "../engine/events.js";
import { experimentRoles, openModels, type ModelHandle } from "../engine/models.js";
import { addCacheRecordOptions } from "../config/models.js";
import { selectProblems } from "../engine/problemset.js";
import { shareSignal } from "../engine/abort.js";
import { lockFolder, type Lock } from "../fsutil/lock.js";
import { removeStaleTemps, WriteError } from "../fsutil/write.js";

interface RunOptions {
  json?: boolean;
  models?: string;
  cache?: boolean;
  record?: string;
  /** --model <file.gguf>: one file in every role. */
  model?: string;
  /** Make the model calls without asking. */
  yes?: boolean;
}

/** Each busy model's requests in flight and queued, and those failed: " | t1 12 in flight 40 queued 3 failed | t2 ...". */
export function loadLine(load: ModelLoadView[] | undefined): string {
  const shown = (load ?? []).filter((l) => l.inFlight + l.queued + (l.failed ?? 0) > 0);
  return shown.map((l) => ` | ${l.model} ${l.inFlight} in flight ${l.queued} queued${l.failed ? ` ${l.failed} failed` : ""}`).join("");
}

/** " · 254 calls sent, about 30 left" */
function callsText(calls: { sent: number; left?: number } | undefined): string {
  return calls ? ` · ${calls.sent} calls sent${calls.left ? `, about ${calls.left} left` : ""}` : "";
}

export interface ProgressPrinterOptions {
  /** Clock in milliseconds (tests). */
  now?: () => number;
  /** Without a terminal, a line is printed when a record ends, or after this long without one (logs stay short). */
  quietMs?: number;
}

/**
 * Progress on stderr. On a terminal, one line rewritten at every event, counts first and the
 * record's label last (a narrow terminal cuts the label, not the counts). Otherwise one line per
 * record, and an indented "still working" line every `quietMs` while none ends.
 */
export function progressPrinter(
  stream: NodeJS.WriteStream = process.stderr,
  opts: ProgressPrinterOptions = {},
): { onEvent: (e: EngineEvent) => void; end: () => void } {
  const tty = !!stream.isTTY;
  const now = opts.now ?? (() => performance.now());
  const quietMs = opts.quietMs ?? 30_000;
  let drawn = false;
  let lastPrinted = -Infinity;
  const clean = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ");
  return {
    onEvent(e) {
      if (e.type === "progress") {
        // Calls sent and each model's load: the same on every kind of line.
        const usage = `${callsText(e.calls)}${clean(loadLine(e.load))}`;
        if (tty) {
          const cols = stream.columns ?? 80;
          const counts = `${e.done}/${e.total}${usage}`;
          // The bar takes what the counts and 20 columns of label leave (up to 24), or nothing.
          const room = cols - 1 - counts.length - 20 - 3;
          const width = room >= 8 ? Math.min(24, room) : 0;
          const filled = e.total ? Math.round((e.done / e.total) * width) : 0;
          const bar = width ? `[${"#".repeat(filled)}${".".repeat(width - filled)}] ` : "";
          const line = `${bar}${counts} · ${clean(e.label)}`;
          stream.write(`\r\x1b[2K${line.slice(0, cols - 1)}`);
          drawn = true;
        } else if (!e.tick) {
          stream.write(`${e.done}/${e.total} ${clean(e.label)}${usage}\n`);
          lastPrinted = now();
        } else if (now() - lastPrinted >= quietMs) {
          stream.write(`  still working at ${e.done}/${e.total}${usage}\n`);
          lastPrinted = now();
        }
      } else if (e.type === "error") {
        if (drawn) stream.write("\n");
        drawn = false;
        stream.write(`concord: ${clean(e.source)}: ${clean(e.message)}\n`);
      }
    },
    end() {
      if (drawn) stream.write("\n");
      drawn = false;
    },
  };
}

export async function runCommand(file: string, opts: RunOptions): Promise<number> {
  const spec = await loadExperimentSpec(file);
  const models = openModels({ modelsFile: opts.models ?? spec.models, model: opts.model, cache: opts.cache, record: opts.record });
  const ctrl = new AbortController();
  shareSignal(ctrl.signal);
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write("\nconcord: stopping (records written so far are kept; run again to resume; Ctrl-C again to quit now)\n");
    ctrl.abort();
  };
  process.on("SIGINT", onSigint);
  const progress = progressPrinter();
  let lock: Lock | undefined;
  try {
    const problems = await selectProblems({
      set: spec.problems.set,
      ids: spec.problems.ids,
      sample: spec.problems.sample,
      seed: spec.problems.seed,
      sampler: spec.problems.sampler,
    });
    // Bad inputs are reported before any model is loaded or asked.
    await checkExperimentInputs(spec, problems);
    // One run per results folder: a second would write every answer twice. Refused before the
    // plan is printed, so its one line is all it says.
    lock = lockFolder(spec.out, "concord run");
    // What the run costs is said before any model is loaded or asked.
    const plan = await planExperiment(spec, problems);
    if (!(await confirmCalls(plan.calls, `experiment ${spec.name ?? file}: ${plan.records} records to write`, plan.uncounted, { yes: opts.yes })))
      throw declined();
    await removeStaleTemps(spec.out);
    const handles = new Map<string, ModelHandle>();
    const roles = experimentRoles(spec);
    for (const name of specModels(spec)) handles.set(name, await models.get(name, roles.get(name)));
    const summary = await runExperiment(spec, { problems, models: handles, signal: ctrl.signal, onEvent: progress.onEvent });
    progress.end();
    if (opts.json) process.stdout.write(JSON.stringify(summary) + "\n");
    else {
      const state = summary.cancelled ? "stopped" : "done";
      process.stdout.write(
        `${state}: ${summary.written} answers written, ${summary.skipped} already there, ${summary.errors} failed, of ${summary.total}; ${summary.calls} model calls; results in ${summary.out}\n` +
          (summary.cancelled ? "" : `report: concord report ${summary.out}\n`),
      );
    }
    if (summary.cancelled) return 130;
    return summary.errors ? 1 : 0;
  } catch (err) {
    if (err instanceof WriteError) throw new UserError(`${err.message}; the run stopped (run again to resume once the file can be written)`);
    throw err;
  } finally {
    lock?.release();
    progress.end();
    process.off("SIGINT", onSigint);
    await models.close();
  }
}

export function register(program: Command): void {
  addCacheRecordOptions(program.command("run <experiment>"))
    .description("run an experiment file (YAML or JSON) headless; resumable, Ctrl-C stops cleanly")
    .option("--json", "print the run summary as JSON")
    .option("--yes", "make the model calls without asking (the count is printed first)")
    .option("--models <file>", "model profiles file (YAML or JSON); default: the spec's models, CONCORD_MODELS, or saved settings")
    .action(async (file: string, opts: RunOptions) => {
      try {
        const code = await runCommand(file, opts);
        if (code) process.exitCode = code;
      } catch (err) {
        if (err instanceof UserError) throw err;
        throw new UserError(oneLine(err));
      }
    });
}
