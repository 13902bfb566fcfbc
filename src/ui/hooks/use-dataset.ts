// The Problems screen's data: the dataset names, and one dataset's problems (streamed while a
// large file loads) or the saved sessions, read through the ports.
import { useEffect, useState } from "react";
import type { Problem } from "../../core/types.js";
import { problemTitle } from "../../core/problem-text.js";
import { oneLine } from "../../errors.js";
import { usePorts, useUi } from "../context.js";
import type { SessionEntry } from "../ports.js";
import { count } from "../../core/words.js";

export const SESSIONS_ENTRY = "saved sessions";

export function useDatasetNames(): { names: string[]; error: string } {
  const { catalog, sessions } = usePorts();
  const [names, setNames] = useState<string[]>([]);
  const [error, setError] = useState("");
  useEffect(() => {
    let live = true;
    (async () => {
      const list = catalog ? await catalog.datasets() : [];
      if (live) setNames(sessions ? [...list, SESSIONS_ENTRY] : list);
    })().catch((e) => live && setError(oneLine(e)));
    return () => {
      live = false;
    };
  }, [catalog, sessions]);
  return { names, error };
}

export interface DatasetView {
  problems: Problem[];
  sessions: SessionEntry[];
  loading: boolean;
  loaded: boolean;
  error: string;
}

const EMPTY: DatasetView = { problems: [], sessions: [], loading: false, loaded: false, error: "" };

export function useDataset(name: string | undefined): DatasetView {
  const { catalog, sessions } = usePorts();
  const { store } = useUi();
  // The view of the dataset it was read for: right after a switch, until the new one is read,
  // the old one's problems must not show under the new one's name, selection and filter.
  const [view, setView] = useState<DatasetView & { of?: string }>(EMPTY);
  useEffect(() => {
    let live = true;
    setView(EMPTY);
    if (!name) return;
    const fail = (e: unknown) => live && setView((v) => ({ ...v, of: name, loading: false, loaded: true, error: oneLine(e) }));
    if (name === SESSIONS_ENTRY) {
      void sessions
        ?.list()
        .then((list) => live && setView({ ...EMPTY, of: name, sessions: list, loaded: true }))
        .catch(fail);
    } else if (catalog?.watch) {
      // Streamed: the list and its count grow while the file is read.
      let reported = false;
      const off = catalog.watch(name, (st) => {
        if (!live) return;
        setView({ ...EMPTY, of: name, problems: st.problems, loading: st.loading, loaded: !st.loading, error: st.error ?? "" });
        if (!st.loading && st.badRows && !reported) {
          reported = true;
          store.getState().setStatus(`${name}: ${count(st.badRows, "bad row")} skipped (first: ${st.firstBad ?? "?"})`);
        }
      });
      return () => {
        live = false;
        off();
      };
    } else if (catalog) {
      void catalog
        .problems(name)
        .then((list) => live && setView({ ...EMPTY, of: name, problems: list, loaded: true }))
        .catch(fail);
    }
    return () => {
      live = false;
    };
  }, [name, catalog, sessions, store]);
  return view.of === name ? view : EMPTY;
}

const haystacks = new WeakMap<Problem, string>();

/** Whether a problem matches a lower-cased filter: its id, title or any message. */
export function problemMatches(p: Problem, needle: string): boolean {
  let hay = haystacks.get(p);
  if (hay === undefined) haystacks.set(p, (hay = [p.id, problemTitle(p), ...p.messages.map((m) => m.content)].join("\n").toLowerCase()));
  return hay.includes(needle);
}

export function sessionMatches(s: SessionEntry, needle: string): boolean {
  const r = s.roles;
  return `${s.id} ${s.problem ?? ""} ${r ? [...r.generators, ...r.evaluators, ...r.targets].join(" ") : ""}`.toLowerCase().includes(needle);
}
