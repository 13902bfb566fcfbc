// Calling the engine from the store: a rejection becomes a notice, never an unhandled rejection.
import { isAbort } from "../../engine/abort.js";
import { historyOf } from "../apply-events.js";
import { act, info } from "../notices.js";
import type { ChainDriver, ConcordState, RaceHandle } from "../types.js";

type Get = () => ConcordState;

export function callEngine(get: Get, what: string, fn: (b: ChainDriver) => unknown): Promise<unknown> {
  const handle = get().handle;
  if (!handle) {
    get().notify(info`no race is open: pick a problem first (${act("screen-problems")})`, "race");
    return Promise.resolve();
  }
  try {
    return Promise.resolve(fn(handle.builder)).catch((err) => {
      if (isAbortError(err)) return;
      get().fail(what, err);
    });
  } catch (err) {
    get().fail(what, err);
    return Promise.resolve();
  }
}

export const isAbortError = (err: unknown): boolean => isAbort(err);

/** Ask the targets again when the view is behind the chain and nothing is being asked. */
export function refreshTargets(get: Get): void {
  const { handle, replayer } = get();
  const src = handle?.targets;
  if (!handle || !src?.update || replayer) return;
  get().flush(); // a round may have started already: its events are only queued
  const { chain, targets, roles } = get();
  const length = chain.sentences.length;
  const asked = historyOf(targets.history, roles.targets).some((h) => h.chainLength === length);
  if (length === 0 || asked || Object.values(targets.pending).includes(length)) return;
  try {
    void Promise.resolve(src.update(handle.builder.getChain(), { force: true })).catch((err) => {
      if (!isAbortError(err)) get().fail("targets", err);
    });
  } catch (err) {
    get().fail("targets", err);
  }
}

/** Stop a race and release its models (best effort on the way out). */
export async function closeRace(h: RaceHandle): Promise<void> {
  try {
    await h.builder.cancel();
  } catch {
    // already stopped
  }
  try {
    await h.close?.();
  } catch {
    // closing models is best effort on the way out
  }
}
