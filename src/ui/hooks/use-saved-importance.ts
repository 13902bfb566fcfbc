// A chain's sentence importance, read from `concord importance`'s saved samples while it is shown
// (the Race's and the Relay's column beside the chain).
import { useEffect, useState } from "react";
import type { ImportanceResult } from "../../engine/importance.js";
import { usePorts } from "../context.js";

export interface SavedImportance {
  /** The saved result, or undefined when none is saved for this chain. */
  result?: ImportanceResult;
}

/**
 * While `on`, the saved importance of `sentences` (of `problem`): undefined until it is read,
 * then `{ result }`. The chain is named by its problem, length and first sentence, so a new
 * sentence or another chain reads again while the same chain drawn anew does not.
 */
export function useSavedImportance(
  on: boolean,
  problem: { source: string; id: string } | undefined,
  sentences: readonly string[] | undefined,
): SavedImportance | undefined {
  const { results } = usePorts();
  const [read, setRead] = useState<{ key: string; result?: ImportanceResult } | null>(null);
  const key = problem && sentences ? `${problem.source}/${problem.id}/${sentences.length}/${sentences[0] ?? ""}` : "";
  useEffect(() => {
    if (!on || !problem || !sentences || !results?.importance) return;
    let live = true;
    void results.importance(problem, sentences).then(
      (result) => live && setRead({ key, result }),
      () => live && setRead({ key }),
    );
    return () => {
      live = false;
    };
    // `key` names the chain; problem and sentences are new objects on many draws.
  }, [on, key, results]);
  return on && read?.key === key ? read : undefined;
}

/** Per sentence, the targets' mean shift of their answers when it is kept (total variation). */
export function importanceColumn(imp: ImportanceResult | undefined, sentences: number): Array<number | null> | undefined {
  if (!imp || imp.sentences !== sentences) return undefined;
  return imp.rows.map((row) => {
    const xs = Object.values(row.byTarget)
      .map((v) => v.divergence?.value)
      .filter((x): x is number => typeof x === "number");
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
  });
}
