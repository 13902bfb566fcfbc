// One list's cursor, window and filter, the same in every list of the interface: up/down,
// g/G (Home/End), PageUp/PageDown, and a filter that starts fresh each time it is asked for.
// Only the visible window is ever drawn, so a list of 10,000 costs what a list of 20 does.
import { useMemo } from "react";
import type { Action } from "../keys.js";
import { useRemembered } from "./view-memory.js";

export const LIST_ACTIONS = ["up", "down", "top", "bottom", "page-up", "page-down"] as const;
export type ListAction = (typeof LIST_ACTIONS)[number];

export function isListAction(a: Action | string): a is ListAction {
  return (LIST_ACTIONS as readonly string[]).includes(a);
}

/** The cursor after a move in a list of `count` items shown `page` at a time. */
export function moveCursor(cursor: number, count: number, action: ListAction, page: number): number {
  if (count <= 0) return 0;
  const step = Math.max(1, page - 1);
  const next =
    action === "up"
      ? cursor - 1
      : action === "down"
        ? cursor + 1
        : action === "top"
          ? 0
          : action === "bottom"
            ? count - 1
            : action === "page-up"
              ? cursor - step
              : cursor + step;
  return Math.max(0, Math.min(count - 1, next));
}

/** The rows [start, end) to draw so the cursor is in view, centred when the list is longer. */
export function listWindow(count: number, cursor: number, rows: number): { start: number; end: number } {
  const r = Math.max(1, rows);
  if (count <= r) return { start: 0, end: count };
  const start = Math.max(0, Math.min(count - r, cursor - Math.floor(r / 2)));
  return { start, end: start + r };
}

export interface ListOptions<T> {
  items: readonly T[];
  /** Rows the list has on screen (the page size). */
  rows: number;
  /** Where the cursor and filter are remembered (e.g. per dataset). */
  memory: string;
  /** Whether an item matches a lower-cased filter; without it the list is not filterable. */
  matches?: (item: T, needle: string) => boolean;
}

export interface ListView<T> {
  shown: readonly T[];
  cursor: number;
  selected: T | undefined;
  filter: string;
  window: { start: number; end: number };
  /** Handle a list action; false for any other action. */
  act(action: Action): boolean;
  setFilter(filter: string): void;
  setCursor(index: number): void;
}

export function useList<T>({ items, rows, memory, matches }: ListOptions<T>): ListView<T> {
  const [state, setState] = useRemembered(`list:${memory}`, { cursor: 0, filter: "" });
  const needle = state.filter.toLowerCase();
  const shown = useMemo(() => (needle && matches ? items.filter((x) => matches(x, needle)) : items), [items, needle, matches]);
  const cursor = Math.max(0, Math.min(state.cursor, shown.length - 1));
  return {
    shown,
    cursor,
    selected: shown[cursor],
    filter: state.filter,
    window: listWindow(shown.length, cursor, rows),
    act(action) {
      if (!isListAction(action)) return false;
      // The count as of this key: a list still loading may have grown since the last draw.
      setState((s) => ({ ...s, cursor: moveCursor(Math.min(s.cursor, shown.length - 1), shown.length, action, rows) }));
      return true;
    },
    setFilter: (filter) => setState({ cursor: 0, filter }),
    setCursor: (index) => setState((s) => ({ ...s, cursor: Math.max(0, index) })),
  };
}
