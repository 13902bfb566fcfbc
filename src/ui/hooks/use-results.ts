// The Results screen's data: the results folders (those found, and those opened by path while
// the interface runs) and the selected folder's report, read through the results port.
import { useEffect, useState } from "react";
import { oneLine } from "../../errors.js";
import { usePorts, useUi } from "../context.js";
import type { ResultsFolder } from "../ports.js";
import { count } from "../../core/words.js";
import { useRemembered } from "./view-memory.js";

export function useResultsFolders(): { folders: string[] | null; add(dir: string): void } {
  const { results } = usePorts();
  const [extra, setExtra] = useRemembered<string[]>("results:extra", []);
  const [folders, setFolders] = useState<string[] | null>(null);
  useEffect(() => {
    let live = true;
    if (!results) return setFolders([]);
    void results.folders(extra).then(
      (f) => live && setFolders(f),
      () => live && setFolders([]),
    );
    return () => {
      live = false;
    };
  }, [results, extra]);
  return { folders, add: (dir) => setExtra((x) => (x.includes(dir) ? x : [...x, dir])) };
}

export function useResultsFolder(dir: string | undefined): { folder: ResultsFolder | null; error: string } {
  const { results } = usePorts();
  const { store } = useUi();
  const [state, setState] = useState<{ dir?: string; folder: ResultsFolder | null; error: string }>({ folder: null, error: "" });
  useEffect(() => {
    if (!dir || !results) return;
    let live = true;
    setState({ dir, folder: null, error: "" });
    void results.read(dir).then(
      (folder) => {
        if (!live) return;
        setState({ dir, folder, error: "" });
        if (folder.issues.length) store.getState().setStatus(`${dir}: ${count(folder.issues.length, "bad line")} skipped (first: ${folder.issues[0]})`);
      },
      (e) => live && setState({ dir, folder: null, error: oneLine(e) }),
    );
    return () => {
      live = false;
    };
  }, [dir, results, store]);
  return state.dir === dir ? state : { folder: null, error: "" };
}
