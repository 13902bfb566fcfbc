// Errors meant for the user: one clear line, no stack trace.

/** A problem the user can fix (bad file, bad flag, missing model). Printed as one line. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}

/** One line for any error: the message only, control characters removed, never a stack. */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ").trim() || "unknown error";
}
