// Where the Problems screen gets its lists: datasets by name, problems by dataset. Files are
// read lazily (on first look) and streamed, so a large set shows a growing count at once.
import { existsSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { Problem } from "../core/types.js";
import { oneLine } from "../errors.js";
import { loadProblems } from "../problems/index.js";

/** A dataset as it loads. */
export interface DatasetState {
  name: string;
  problems: Problem[];
  loading: boolean;
  /** Rows skipped as bad, and the first one's message. */
  badRows: number;
  firstBad?: string;
  /** The whole file could not be used (missing, wrong format...). */
  error?: string;
}

export interface ProblemCatalog {
  datasets(): Promise<string[]>;
  /** Problems of one dataset; a bad file rejects with a one-line message. */
  problems(dataset: string): Promise<Problem[]>;
  /** Start loading (once) and follow the progress; returns an unsubscribe. */
  watch?(dataset: string, onChange: (state: DatasetState) => void): () => void;
}

export interface CatalogFile {
  name: string;
  path: string;
}

export interface FileCatalogOptions {
  /** Datasets already in memory (the builtin demo set), listed first. */
  memory?: Record<string, Problem[]>;
  files?: CatalogFile[];
  /** Problems between progress notifications (default 100). */
  batch?: number;
}

/** A catalog of in-memory sets and files read with loadProblems on first look. */
export function fileCatalog(opts: FileCatalogOptions): ProblemCatalog {
  const memory = opts.memory ?? {};
  const files = opts.files ?? [];
  const batch = opts.batch ?? 100;
  const states = new Map<string, DatasetState>();
  const listeners = new Map<string, Set<(s: DatasetState) => void>>();
  const finished = new Map<string, Promise<DatasetState>>();

  const notify = (name: string) => {
    const s = states.get(name)!;
    const snapshot: DatasetState = { ...s, problems: s.problems.slice() };
    for (const l of listeners.get(name) ?? []) l(snapshot);
  };

  const start = (name: string): Promise<DatasetState> => {
    let done = finished.get(name);
    if (done) return done;
    if (name in memory) {
      const st: DatasetState = { name, problems: memory[name], loading: false, badRows: 0 };
      states.set(name, st);
      done = Promise.resolve(st);
      finished.set(name, done);
      return done;
    }
    const file = files.find((f) => f.name === name);
    const st: DatasetState = { name, problems: [], loading: true, badRows: 0 };
    states.set(name, st);
    if (!file) {
      st.loading = false;
      st.error = `no dataset named "${name}"`;
      done = Promise.resolve(st);
    } else {
      done = (async () => {
        try {
          let sinceNotify = 0;
          const onError = (err: Error) => {
            st.badRows++;
            st.firstBad ??= oneLine(err);
          };
          for await (const p of loadProblems(file.path, { onError })) {
            st.problems.push(p);
            if (++sinceNotify >= batch) {
              sinceNotify = 0;
              notify(name);
              // Let the interface draw between batches.
              await new Promise((r) => setImmediate(r));
            }
          }
        } catch (err) {
          st.error = oneLine(err);
        }
        st.loading = false;
        notify(name);
        return st;
      })();
    }
    finished.set(name, done);
    return done;
  };

  return {
    datasets: async () => [...Object.keys(memory), ...files.map((f) => f.name)],
    problems: async (name) => {
      const st = await start(name);
      if (st.error) throw new Error(st.error);
      return st.problems;
    },
    watch(name, onChange) {
      let set = listeners.get(name);
      if (!set) listeners.set(name, (set = new Set()));
      set.add(onChange);
      void start(name);
      const now = states.get(name);
      if (now) onChange({ ...now, problems: now.problems.slice() });
      return () => {
        set!.delete(onChange);
      };
    },
  };
}

/** The shared datasets Concord knows, when present under `<dir>` (default ../shared/data). */
export function sharedDatasetFiles(dir = resolve("..", "shared", "data")): CatalogFile[] {
  const known: CatalogFile[] = [
    { name: "medcalc-bench", path: join(dir, "medcalc-bench", "test_data.csv") },
    { name: "gsm8k", path: join(dir, "gsm8k", "test.jsonl") },
  ];
  return known.filter((f) => existsSync(f.path));
}

/** Catalog entries for files named on the command line (unique names from the file names). */
export function setFiles(paths: string[], taken: string[] = []): CatalogFile[] {
  const used = new Set(taken);
  return paths.map((p) => {
    let name = basename(p);
    for (let i = 2; used.has(name); i++) name = `${basename(p)} (${i})`;
    used.add(name);
    return { name, path: p };
  });
}
