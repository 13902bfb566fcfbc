// Small cancellation helpers shared by every engine module. All engine work takes an
// AbortSignal; these keep the "was this a cancellation or a failure?" test in one place.
import { setMaxListeners } from "node:events";
import { CancelledError, isAbort } from "../errors.js";

export { CancelledError, isAbort };

export function throwIfAborted(signal: AbortSignal | undefined, what?: string): void {
  if (signal?.aborted) throw new CancelledError(what);
}

/** A controller that also aborts when any parent signal aborts (AbortSignal.any keeps the
 * child alive only as long as it is referenced, so listeners are wired by hand). */
export function childController(...parents: Array<AbortSignal | undefined>): AbortController {
  const ctrl = new AbortController();
  // One step's signal is shared by dozens of concurrent requests: that is not a leak.
  setMaxListeners(0, ctrl.signal);
  const cleanups: Array<() => void> = [];
  for (const p of parents) {
    if (!p) continue;
    if (p.aborted) {
      ctrl.abort(p.reason);
      break;
    }
    const onAbort = () => ctrl.abort(p.reason);
    p.addEventListener("abort", onAbort, { once: true });
    cleanups.push(() => p.removeEventListener("abort", onAbort));
  }
  ctrl.signal.addEventListener("abort", () => cleanups.forEach((c) => c()), { once: true });
  return ctrl;
}

/** Resolve with `p`, or reject as soon as `signal` aborts, whichever comes first. */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined, what?: string): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(new CancelledError(what));
  }
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new CancelledError(what));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  p.catch(() => {});
  return Promise.race([p, aborted]).finally(() => signal.removeEventListener("abort", onAbort));
}

/** Allow any number of listeners on a signal shared by many concurrent requests. */
export function shareSignal(signal: AbortSignal | undefined): void {
  if (signal) setMaxListeners(0, signal);
}

/** Wait for `p` to settle, but no longer than `ms` (a backend that ignores its signal must not hang a shutdown). */
export function settleWithin(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    p.then(
      () => {
        clearTimeout(t);
        resolve();
      },
      () => {
        clearTimeout(t);
        resolve();
      },
    );
  });
}
