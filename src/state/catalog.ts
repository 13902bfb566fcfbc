// Where the Problems screen gets its lists: datasets by name, problems by dataset.
import type { Problem } from "../core/types.js";

export interface ProblemCatalog {
  datasets(): Promise<string[]>;
  /** Problems of one dataset; a bad file rejects with a one-line message. */
  problems(dataset: string): Promise<Problem[]>;
}

/** A catalog over problems already in memory (the builtin demos, a loaded file). */
export function memoryCatalog(groups: Record<string, Problem[]>): ProblemCatalog {
  return {
    datasets: async () => Object.keys(groups),
    problems: async (d) => groups[d] ?? [],
  };
}
