// Errors meant for the user: one clear line, no stack trace.

/** A problem the user can fix (bad file, bad flag, missing model). Printed as one line. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}

/**
 * The one cancellation error: what any operation rejects with when its AbortSignal fires.
 * Named "AbortError" as the platform's own aborts are, so one test (`isAbort`) knows them all.
 */
export class CancelledError extends Error {
  constructor(what = "operation") {
    super(`${what} cancelled`);
    this.name = "AbortError";
  }
}

/** True for any error that means "stopped on request" rather than "went wrong". */
export function isAbort(err: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted) return true;
  if (!err || typeof err !== "object") return false;
  const name = (err as { name?: string }).name;
  return name === "AbortError" || (err as { code?: string }).code === "ABORT_ERR";
}

/** One line for any error: the message only, control characters removed, never a stack. */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ").trim() || "unknown error";
}
