// Costs known before spending: a command that will make many model calls says how many first,
// and on a terminal asks before making them (--yes answers for the user). Piped or in CI
// nobody can answer: the count is printed and the command goes on.
import { createInterface } from "node:readline/promises";
import { UserError } from "../errors.js";

export interface ConfirmOptions {
  yes?: boolean;
  input?: NodeJS.ReadableStream & { isTTY?: boolean };
  output?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Says `what` will make `calls` model calls (`extra`: what could not be counted); false when the user declines. */
export async function confirmCalls(calls: number, what: string, extra: readonly string[] = [], opts: ConfirmOptions = {}): Promise<boolean> {
  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stderr;
  const more = extra.length ? `, plus ${extra.join(" and ")}` : "";
  output.write(`concord: ${what}: ${calls} model call${calls === 1 ? "" : "s"}${more}\n`);
  if (calls === 0 || opts.yes || !input.isTTY || !output.isTTY) return true;
  const rl = createInterface({ input, output });
  try {
    const reply = await rl.question("Go on? [y/N] ");
    return /^y(es)?$/i.test(reply.trim());
  } finally {
    rl.close();
  }
}

/** The one line a declined command ends with. */
export function declined(): UserError {
  return new UserError("stopped before any model call (pass --yes to go on without asking)");
}
