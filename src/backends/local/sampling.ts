// Pure helpers for the local backend: seeded sampling from a probability map, inline thinking
// tags split into channels, and stop strings held back until they can no longer match.

import { seededRandom } from "../../core/random.js";
import { partialTagSuffix } from "../../core/thinking.js";

export { seededRandom };

export interface SampleParams {
  temperature: number;
  /** 0 = no top-k cut. */
  topK: number;
  /** 1 = no nucleus cut. */
  topP: number;
}

/**
 * Pick a token from the model's raw next-token probabilities, in llama.cpp's order:
 * top-k, then top-p (on the renormalised survivors), then temperature, then a draw.
 * Temperature <= 0 is greedy.
 */
export function sampleToken(probs: Map<number, number>, params: SampleParams, random: () => number): number {
  if (probs.size === 0) throw new Error("empty probability distribution");
  const k = params.temperature <= 0 ? 1 : params.topK > 0 ? Math.min(params.topK, probs.size) : probs.size;
  let entries = k < probs.size ? topEntries(probs, k) : [...probs.entries()].sort((a, b) => b[1] - a[1]);
  if (params.temperature <= 0) return entries[0]![0];
  if (params.topP < 1) {
    const total = entries.reduce((s, e) => s + e[1], 0);
    let cum = 0;
    let keep = entries.length;
    for (let i = 0; i < entries.length; i++) {
      cum += entries[i]![1] / total;
      if (cum >= params.topP) {
        keep = i + 1;
        break;
      }
    }
    entries = entries.slice(0, keep);
  }
  // p^(1/T) equals softmax(logit / T) up to normalisation.
  const weights = entries.map(([, p]) => Math.pow(p, 1 / params.temperature));
  const sum = weights.reduce((s, w) => s + w, 0);
  if (!(sum > 0)) return entries[0]![0];
  let r = random() * sum;
  for (let i = 0; i < entries.length; i++) {
    r -= weights[i]!;
    if (r < 0) return entries[i]![0];
  }
  return entries[entries.length - 1]![0];
}

/** The k most likely entries, best first, without sorting a whole (large) vocabulary. */
function topEntries(probs: Map<number, number>, k: number): [number, number][] {
  const top: [number, number][] = [];
  for (const e of probs) {
    if (top.length === k && e[1] <= top[k - 1]![1]) continue;
    let i = top.length === k ? k - 1 : top.length;
    if (top.length === k) top.pop();
    while (i > 0 && top[i - 1]![1] < e[1]) i--;
    top.splice(i, 0, e);
  }
  return top;
}

/**
 * Watches generated text for stop strings. `push` returns the text that is safe to show (it
 * can no longer be the start of a stop string) and whether a stop string was found; text from
 * the stop string on is dropped.
 */
export class StopMatcher {
  private pending = "";
  private readonly longest: number;
  constructor(private readonly stops: string[]) {
    this.stops = stops.filter((s) => s.length > 0);
    this.longest = Math.max(0, ...this.stops.map((s) => s.length));
  }

  push(text: string): { text: string; stopped: boolean } {
    this.pending += text;
    if (this.stops.length === 0) {
      const out = this.pending;
      this.pending = "";
      return { text: out, stopped: false };
    }
    let first = -1;
    for (const s of this.stops) {
      const at = this.pending.indexOf(s);
      if (at >= 0 && (first < 0 || at < first)) first = at;
    }
    if (first >= 0) {
      const out = this.pending.slice(0, first);
      this.pending = "";
      return { text: out, stopped: true };
    }
    let keep = 0;
    for (const s of this.stops) keep = Math.max(keep, partialTagSuffix(this.pending, s));
    keep = Math.min(keep, this.longest - 1);
    const out = this.pending.slice(0, this.pending.length - keep);
    this.pending = this.pending.slice(this.pending.length - keep);
    return { text: out, stopped: false };
  }

  flush(): string {
    const out = this.pending;
    this.pending = "";
    return out;
  }
}
