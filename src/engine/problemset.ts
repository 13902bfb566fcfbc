// Choosing problems for a run: a set (file, folder or "builtin"), then ids, a sample, or one
// problem by id or 1-based row.
import type { Problem } from "../core/types.js";
import { UserError } from "../errors.js";
import { loadAllProblems, pandasSample, sampleProblems, selectByIds } from "../problems/index.js";

export async function loadSet(set: string): Promise<Problem[]> {
  const { problems, errors } = await loadAllProblems(set);
  if (problems.length === 0) {
    throw new UserError(errors.length ? `${set}: no usable problems (${errors[0].message})` : `${set}: no problems`);
  }
  return problems;
}

/** One problem by id, or by 1-based row number when no id matches. */
export function findProblem(problems: Problem[], which: string, set: string): Problem {
  const byId = problems.find((p) => p.id === which);
  if (byId) return byId;
  if (/^\d+$/.test(which)) {
    const row = Number(which);
    if (row >= 1 && row <= problems.length) return problems[row - 1];
  }
  const ids = problems
    .slice(0, 5)
    .map((p) => p.id)
    .join(", ");
  throw new UserError(`${set}: no problem "${which}" (ids look like ${ids}${problems.length > 5 ? ", ..." : ""}; or give a row from 1 to ${problems.length})`);
}

export async function selectProblems(opts: { set: string; ids?: string[]; sample?: number; seed: number; sampler?: "concord" | "pandas" }): Promise<Problem[]> {
  let problems = await loadSet(opts.set);
  if (opts.ids?.length) {
    const { found, missing } = selectByIds(problems, opts.ids);
    if (missing.length)
      throw new UserError(
        `${opts.set}: no problem with id ${missing
          .slice(0, 3)
          .map((m) => `"${m}"`)
          .join(", ")}`,
      );
    problems = found;
  }
  if (opts.sample !== undefined) {
    problems = opts.sampler === "pandas" ? pandasSample(problems, opts.sample, opts.seed) : sampleProblems(problems, opts.sample, opts.seed);
  }
  return problems;
}
