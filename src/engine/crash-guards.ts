// Last line of defence for headless commands: an error nobody caught (a rejected promise no one
// awaited, a throw from a timer) becomes the same one line every other failure is, never a
// Node stack trace.
import { oneLine } from "../errors.js";

export interface CrashGuardOptions {
  /** Where the line goes (default: process.stderr). */
  stderr?: NodeJS.WritableStream;
  /** How the process ends (default: process.exit). */
  exit?: (code: number) => void;
}

/**
 * Turn `unhandledRejection` and `uncaughtException` into `concord: <message>` on stderr and
 * exit code 1. Returns a function that removes the handlers.
 */
export function installCrashGuards(opts: CrashGuardOptions = {}): () => void {
  const stderr = opts.stderr ?? process.stderr;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let fired = false;
  const onCrash = (err: unknown) => {
    // A second failure while the first is being reported adds nothing.
    if (fired) return;
    fired = true;
    process.exitCode = 1;
    try {
      stderr.write(`concord: ${oneLine(err)}\n`);
    } finally {
      // After an uncaught error the program's state is unknown: it must not go on.
      exit(1);
    }
  };
  process.on("unhandledRejection", onCrash);
  process.on("uncaughtException", onCrash);
  const remove = () => {
    process.off("unhandledRejection", onCrash);
    process.off("uncaughtException", onCrash);
    if (installed === remove) installed = undefined;
  };
  installed = remove;
  return remove;
}

let installed: (() => void) | undefined;

/**
 * Remove the guards installed last. The interface does this: it shows a stray error in its
 * status line and keeps the session going instead of ending the process.
 */
export function removeCrashGuards(): void {
  installed?.();
}
