// The --set and --problem options of the commands that work on one problem (ensemble, relay).
import type { Command } from "commander";
import { UserError } from "../errors.js";

/** --set, also when the root program took it (the interface has a --set of its own). */
export function problemSetOption(own: string | undefined, cmd: Command): string {
  const global = (cmd.optsWithGlobals() as { set?: string | string[] }).set;
  const set = own ?? (Array.isArray(global) ? global.at(-1) : global);
  if (!set) throw new UserError("--set <file|builtin> is required: the problem set to pick the problem from");
  return set;
}

/** `--set` and `--problem`: how the single-problem commands name their problem. */
export function addProblemOptions<C extends Command>(cmd: C): C {
  cmd.option("--set <file|builtin>", "problem set: a dataset file or folder, or builtin");
  cmd.requiredOption("--problem <id|row>", "problem id, or 1-based row number");
  return cmd;
}
