// The --set option of the commands that work on one problem (ensemble, relay).
import type { Command } from "commander";
import { UserError } from "../errors.js";

/** --set, also when the root program took it (the interface has a --set of its own). */
export function problemSetOption(own: string | undefined, cmd: Command): string {
  const global = (cmd.optsWithGlobals() as { set?: string | string[] }).set;
  const set = own ?? (Array.isArray(global) ? global.at(-1) : global);
  if (!set) throw new UserError("--set <file|builtin> is required: the problem set to pick the problem from");
  return set;
}
