// How many requests one model's server takes at once, learnt while running (additive increase,
// multiplicative decrease, as TCP congestion control). Pure: the caller passes the clock.
//
// - Start from what is known of the server (its sequences, its kind), never above the cap.
// - Slow start: until the first decrease, every answer that found the limit in use adds one
//   slot (the limit doubles per round trip), so a server that batches dozens is filled in a
//   few round trips rather than one slot per round trip (a minute or more at long answers).
// - After that, while latency holds, every `limit` answers that found the limit in use add one slot.
// - Latency rising past `tolerance` x its baseline takes away a share (at most once per
//   round trip, so one slow burst is one decrease); an overload answer (429/503) takes half and
//   holds new requests back until the server's Retry-After has passed.
// Latency is compared per kind (time to first token of a stream, a whole scoring answer):
// they differ by far more than any load makes them move.

export interface AimdOptions {
  /** The limit to start from. */
  initial: number;
  /** Never above this (an explicit limit in a spec, or a sanity bound). */
  max: number;
  /** Never below this (default 1). */
  min?: number;
  /** Latency above tolerance x baseline counts as rising (default 2). */
  tolerance?: number;
  /** Factor on rising latency (default 0.8). */
  latencyDecrease?: number;
  /** Factor on an overload answer (default 0.5). */
  overloadDecrease?: number;
}

export interface LatencySample {
  kind: string;
  ms: number;
  /** Requests in flight on this model when the request ended (itself included). */
  inFlight: number;
  now: number;
}

interface KindStats {
  /** A low estimate of unloaded latency: follows drops at once, rises slowly. */
  baseline: number;
  /** Recent latency (an exponential average). */
  recent: number;
  samples: number;
}

export class AimdController {
  /** Whole slots. */
  private value: number;
  /** Answers towards the next slot. */
  private credit = 0;
  readonly max: number;
  readonly min: number;
  private readonly tolerance: number;
  private readonly latencyDecrease: number;
  private readonly overloadDecrease: number;
  private readonly kinds = new Map<string, KindStats>();
  private lastDecrease = -Infinity;
  /** Until the first decrease the limit grows by one per answer at the limit (slow start). */
  private slowStart = true;
  private holdUntil = -Infinity;
  /** Counters, for progress lines and benchmarks. */
  readonly counts = { increases: 0, latencyDecreases: 0, overloads: 0 };

  constructor(opts: AimdOptions) {
    this.min = Math.max(1, Math.floor(opts.min ?? 1));
    this.max = Math.max(this.min, Math.floor(opts.max));
    this.value = clamp(Math.floor(opts.initial), this.min, this.max);
    this.tolerance = opts.tolerance ?? 2;
    this.latencyDecrease = opts.latencyDecrease ?? 0.8;
    this.overloadDecrease = opts.overloadDecrease ?? 0.5;
  }

  /** Requests that may be in flight now. */
  get limit(): number {
    return this.value;
  }

  /** New requests wait until this time (a server's Retry-After). */
  get resumeAt(): number {
    return this.holdUntil;
  }

  /** A request ended with an answer after `ms`. */
  onLatency(s: LatencySample): void {
    if (!(s.ms >= 0) || !Number.isFinite(s.ms)) return;
    // A request sent before the last decrease measured the old limit: its news is stale, and
    // counting it would cut again and again for one overload (with answers seconds long, a
    // server queue drains long after the limit came down).
    if (s.now - s.ms < this.lastDecrease) return;
    let k = this.kinds.get(s.kind);
    if (!k) {
      this.kinds.set(s.kind, (k = { baseline: s.ms, recent: s.ms, samples: 0 }));
    }
    k.samples++;
    k.recent += (s.ms - k.recent) * 0.2;
    // The baseline drifts up slowly so that a workload that changed (longer prompts) is
    // relearnt instead of read as overload for ever.
    k.baseline = s.ms < k.baseline ? s.ms : k.baseline + (s.ms - k.baseline) * 0.0005;
    const floor = Math.max(k.baseline, 1);
    if (k.samples >= 3 && k.recent > this.tolerance * floor) {
      // One decrease per round trip: the answers of one slow burst arrive together.
      if (s.now - this.lastDecrease >= k.recent) {
        this.decrease(this.latencyDecrease, s.now);
        this.counts.latencyDecreases++;
      }
      return;
    }
    // Only a limit in use is tested by an answer: an idle slot says nothing about the server.
    if (s.inFlight >= this.limit && this.value < this.max) {
      if (this.slowStart) {
        this.value++;
        this.counts.increases++;
      } else if (++this.credit >= this.value) {
        this.credit = 0;
        this.value++;
        this.counts.increases++;
      }
    }
  }

  /** The server refused for load (429/503); `retryAfterMs` when it said how long to wait. */
  onOverload(now: number, retryAfterMs?: number): void {
    this.counts.overloads++;
    if (retryAfterMs !== undefined && retryAfterMs > 0) this.holdUntil = Math.max(this.holdUntil, now + retryAfterMs);
    // Several requests refused by one overload halve the limit once.
    const sinceLast = now - this.lastDecrease;
    const roundTrip = Math.max(...[...this.kinds.values()].map((k) => k.recent), 0);
    if (sinceLast >= Math.max(roundTrip, retryAfterMs ?? 0, 1)) this.decrease(this.overloadDecrease, now);
  }

  private decrease(factor: number, now: number): void {
    this.value = clamp(Math.floor(this.value * factor), this.min, this.max);
    this.credit = 0;
    this.lastDecrease = now;
    this.slowStart = false;
    // Recent latency is relearnt from requests sent under the new limit.
    for (const k of this.kinds.values()) k.recent = k.baseline;
  }
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
