// The store the interface renders: zustand slices over typed ports. The race slice turns engine
// events into lanes and takes the person's decisions; the session slice opens, saves, replays
// and exports; the relay slice runs relays; the view slice holds the screen and each screen's
// notice. Components select what they draw and dispatch intents; they never touch the engine.
import { createStore } from "zustand/vanilla";
import { useStore } from "zustand";
import { emptyData, sessionSlice } from "./slices/session.js";
import { raceSlice, type EventQueue } from "./slices/race.js";
import { relaySlice } from "./slices/relay.js";
import { treeSlice } from "./slices/tree.js";
import { viewSlice } from "./slices/view.js";
import type { ConcordState, ConcordStore, StoreOptions } from "./types.js";

export type * from "./types.js";
export { applyEvents, historyOf, targetsUpTo } from "./apply-events.js";
export { mergeRelay } from "./slices/relay.js";
export { sessionId } from "./slices/session.js";

export function createConcordStore(opts: StoreOptions = {}): ConcordStore {
  const deps = { opts, now: opts.now ?? (() => new Date()) };
  const stats: EventQueue = { flushes: 0 };
  const unsubs: Array<() => void> = [];
  const store = createStore<ConcordState>()((...a) => ({
    ...emptyData(),
    ...opts.initial,
    ...viewSlice(...a),
    ...raceSlice(deps, stats)(...a),
    ...sessionSlice(deps, unsubs)(...a),
    ...relaySlice(deps)(...a),
    ...treeSlice(deps)(...a),
  }));
  return Object.assign(store, { flushCount: () => stats.flushes, handle: () => store.getState().handle });
}

/** React hook over a vanilla store: select narrowly, so a screen redraws only for what it draws. */
export function useConcord<T>(store: ConcordStore, selector: (s: ConcordState) => T): T {
  return useStore(store, selector);
}
