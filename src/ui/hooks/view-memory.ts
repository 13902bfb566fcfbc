// What a screen remembers across leaving and coming back (selection, filter, focus): kept per
// store, outside React, so a screen that is unmounted and drawn again finds it as it was left.
// Writes are synchronous, so keys that come faster than redraws each see the one before.
import { useCallback, useReducer } from "react";
import { useUi } from "../context.js";

const memories = new WeakMap<object, Map<string, unknown>>();

function memoryOf(owner: object): Map<string, unknown> {
  let m = memories.get(owner);
  if (!m) memories.set(owner, (m = new Map()));
  return m;
}

export type Update<T> = T | ((previous: T) => T);

/** Like useState, but the value outlives the component (keyed by `key` within the store). */
export function useRemembered<T>(key: string, initial: T): [T, (next: Update<T>) => void] {
  const { store } = useUi();
  const memory = memoryOf(store);
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  // The first value is kept as well: the same object on every draw, so it can be an effect's dependency.
  if (!memory.has(key)) memory.set(key, initial);
  const value = memory.get(key) as T;
  const set = useCallback(
    (next: Update<T>) => {
      const previous = memory.get(key) as T;
      const value = typeof next === "function" ? (next as (p: T) => T)(previous) : next;
      if (Object.is(value, previous)) return;
      memory.set(key, value);
      redraw();
    },
    [memory, key],
  );
  return [value, set];
}
