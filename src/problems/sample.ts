// Deterministic sampling of problems.

import { pandasSamplePositions, seededRandom as mulberry32 } from "../core/random.js";

/**
 * n items drawn without replacement, in draw order, the same for the same (items, n, seed).
 * This is NOT pandas' `df.sample(n, random_state=seed)` (numpy's generator is not reproduced):
 * `pandasSample` reproduces that one (how the paper drew its 100 MedCalc-Bench items).
 */
export function sampleProblems<T>(items: readonly T[], n: number, seed: number): T[] {
  const pool = items.slice();
  const count = Math.max(0, Math.min(Math.floor(n), pool.length));
  const rand = mulberry32(seed);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(rand() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, count);
}

/** The problems with the given ids, in the order of `ids`; ids not found are returned in `missing`. */
export function selectByIds<T extends { id: string }>(items: readonly T[], ids: readonly string[]): { found: T[]; missing: string[] } {
  const byId = new Map(items.map((p) => [p.id, p]));
  const found: T[] = [];
  const missing: string[] = [];
  for (const id of ids) {
    const p = byId.get(id);
    if (p) found.push(p);
    else missing.push(id);
  }
  return { found, missing };
}

/**
 * What pandas' `df.sample(n=n, random_state=seed)` returns for a frame holding `items` in file
 * order: `pandasSample(medcalc, 100, 42)` gives the paper's 100 MedCalc-Bench items in its order.
 */
export function pandasSample<T>(items: readonly T[], n: number, seed: number): T[] {
  return pandasSamplePositions(items.length, Math.min(Math.floor(n), items.length), seed).map((i) => items[i]);
}
