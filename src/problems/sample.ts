// Deterministic sampling of problems.

// mulberry32: a small seeded generator; the same seed gives the same sample on every platform.
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * n items drawn without replacement, in draw order, the same for the same (items, n, seed).
 * This is NOT pandas' `df.sample(n, random_state=seed)` (numpy's generator is not reproduced):
 * to run the paper's 100 MedCalc items, select by the `Row Number`s listed in its genex output
 * files (see `selectByIds`).
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
