// Waiting for a condition instead of for a fixed time: a loaded machine may take far longer than
// a quiet one to render a frame or finish a step, so tests poll for what they expect and give up
// only after a generous bound.
import { setTimeout as sleep } from "node:timers/promises";
import { act } from "react";

export interface WaitOptions {
  /** Give up after this long (default 10 s: a bound for a stalled test, never a pace). */
  timeoutMs?: number;
  /** Poll this often (default 5 ms). */
  everyMs?: number;
}

/**
 * Resolves with `check()`'s value once it returns without throwing and is not `false`; rethrows
 * its last error (or says what was awaited) after the timeout. An assertion makes a good check.
 */
export async function eventually<T>(check: () => T | Promise<T>, opts: WaitOptions = {}): Promise<Exclude<T, false>> {
  const { timeoutMs = 10_000, everyMs = 5 } = opts;
  const end = Date.now() + timeoutMs;
  let last: unknown = new Error(`condition not met within ${timeoutMs} ms: ${check.toString().slice(0, 200)}`);
  for (;;) {
    try {
      const value = await check();
      if (value !== false) return value as Exclude<T, false>;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= end) throw last;
    await sleep(everyMs);
  }
}

/**
 * Runs `fn` (a keypress, a store flush) inside React's act(), which returns once everything it
 * set off has rendered and its effects have run: the next step meets the interface as this one
 * left it, however slow the machine. Act mode is on only during the call; outside it the
 * interface's own timers update it, as in use.
 */
export async function rendered(fn: () => unknown): Promise<void> {
  const g = globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean };
  g.IS_REACT_ACT_ENVIRONMENT = true;
  try {
    await act(async () => {
      fn();
    });
  } finally {
    g.IS_REACT_ACT_ENVIRONMENT = false;
  }
}
