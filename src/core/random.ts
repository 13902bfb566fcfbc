// Seeded randomness shared by sampling of tokens and of problems: the same seed gives the same
// sequence on every platform.

/** mulberry32: small, fast, seedable; good enough to pick tokens and problems reproducibly. */
export function seededRandom(seed: number): () => number {
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
 * numpy's legacy `RandomState(seed)`: the MT19937 generator seeded as numpy seeds it from an
 * integer, giving 32-bit outputs. Used only to reproduce pandas' `df.sample`.
 */
export class NumpyRandomState {
  private readonly mt = new Uint32Array(624);
  private pos = 624;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`numpy seed must be an integer in [0, 2^32), got ${seed}`);
    let s = seed >>> 0;
    for (let i = 0; i < 624; i++) {
      this.mt[i] = s;
      s = (Math.imul(1812433253, (s ^ (s >>> 30)) >>> 0) + i + 1) >>> 0;
    }
  }

  nextUint32(): number {
    const mt = this.mt;
    if (this.pos >= 624) {
      for (let i = 0; i < 624; i++) {
        const y = (mt[i]! & 0x80000000) | (mt[(i + 1) % 624]! & 0x7fffffff);
        mt[i] = mt[(i + 397) % 624]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.pos = 0;
    }
    let y = mt[this.pos++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A uniform integer in [0, max], by masked rejection as numpy's `random_interval` does. */
  interval(max: number): number {
    if (max === 0) return 0;
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    for (;;) {
      const v = (this.nextUint32() & mask) >>> 0;
      if (v <= max) return v;
    }
  }

  /** `RandomState.permutation(n)`: a Fisher–Yates shuffle of 0..n-1 from the top down. */
  permutation(n: number): number[] {
    const a = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i >= 1; i--) {
      const j = this.interval(i);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }
}

/**
 * Positions pandas' `df.sample(n=n, random_state=seed)` picks from a frame of `length` rows,
 * in the order it returns them (`RandomState(seed).choice(length, n, replace=False)`, which is
 * the first n of a permutation). This is how the paper drew its 100 MedCalc-Bench items.
 */
export function pandasSamplePositions(length: number, n: number, seed: number): number[] {
  if (n > length) throw new RangeError(`cannot sample ${n} of ${length} rows without replacement`);
  return new NumpyRandomState(seed).permutation(length).slice(0, n);
}
