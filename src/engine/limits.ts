// Global and per-model concurrency limits. A backend wrapped here takes a model slot, then a
// global slot, for every stream (held until the stream closes) and every scoring. Waiting for
// a model slot never holds a global one, so one busy model cannot starve the rest.
//
// Each model's limit adapts to its server (core/aimd.ts): it starts from what is known of the
// server (ModelHandle.concurrency: an embedded engine's sequences, a vLLM server's batch), grows
// while latency holds, shrinks on 429/503 or rising latency, and holds new requests back for a
// server's Retry-After. Limits written in a spec are caps; `adaptive: false` makes them fixed.
import pLimit, { type LimitFunction } from "p-limit";
import type { Backend, Capabilities, CompletionRequest, CompletionResult, LoadObserver, ScoreRequest, ScoreResult, StreamChunk } from "../backends/types.js";
import { CachedBackend } from "../backends/cache.js";
import { AimdController } from "../core/aimd.js";
import { CancelledError, isAbort } from "./abort.js";
import { oneLine } from "../errors.js";
import type { ModelHandle } from "./models.js";

export interface ConcurrencyLimits {
  /** Requests in flight across all models (a cap). */
  global?: number;
  /** Requests in flight per model: a cap on the adaptive limit, or the fixed limit. */
  perModel?: number;
  /** Learn each model's limit from its server while running (default true). */
  adaptive?: boolean;
}

/** Caps when a spec names none: far above any one server's batch, low enough to bound memory. */
export const DEFAULT_GLOBAL_CAP = 512;
export const DEFAULT_MODEL_CAP = 256;
/** The limits before they adapted (and with `adaptive: false` and nothing written). */
export const FIXED_DEFAULTS = { global: 4, perModel: 2 } as const;
/** A model whose server nothing is known of starts here. */
export const UNKNOWN_SERVER_START = 4;

export interface ModelLoad {
  model: string;
  /** Requests holding both slots. */
  inFlight: number;
  /** Requests waiting for a slot (of the model, or the global one). */
  queued: number;
  limit: number;
  /** Overload answers (429/503) and latency rises the limit gave way to. */
  overloads: number;
  latencyDecreases: number;
  /** Requests that failed (not cancelled) after the backend's own retries. */
  failed: number;
}

/** A request that failed; `firstOfKind` when no earlier failure of this model read the same, digits aside. */
export interface CallFailure {
  model: string;
  message: string;
  firstOfKind: boolean;
}

/** Take one slot of `limit`; resolves with its release function (rejects if aborted first). */
function acquire(limit: LimitFunction, signal?: AbortSignal): Promise<() => void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      if (settled) return;
      settled = true;
      reject(new CancelledError());
    };
    void limit(
      () =>
        new Promise<void>((release) => {
          // The run's signal outlives every request: its listener goes as soon as the slot is had.
          signal?.removeEventListener("abort", onAbort);
          if (settled || signal?.aborted) {
            release();
            onAbort();
            return;
          }
          settled = true;
          resolve(release);
        }),
    );
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** One model's slots: a limit that may change while requests wait. */
class ModelGate {
  /** Holding a model slot (in flight, or waiting for a global one). */
  held = 0;
  /** Holding both slots. */
  running = 0;
  /** Requests that failed, and the kinds of failure seen (their messages with digits masked). */
  failed = 0;
  readonly failureKinds = new Set<string>();
  private waiting: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly controller: AimdController | undefined,
    private readonly fixed: number,
    private readonly now: () => number,
  ) {}

  get limit(): number {
    return this.controller ? this.controller.limit : this.fixed;
  }

  get queued(): number {
    return this.waiting.length + (this.held - this.running);
  }

  take(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new CancelledError());
    return new Promise((resolve, reject) => {
      const w: Waiter = { resolve, reject, signal };
      if (signal) {
        w.onAbort = () => {
          const i = this.waiting.indexOf(w);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(new CancelledError());
        };
        signal.addEventListener("abort", w.onAbort, { once: true });
      }
      this.waiting.push(w);
      this.pump();
    });
  }

  give(): void {
    this.held--;
    this.pump();
  }

  pump(): void {
    const resumeAt = this.controller?.resumeAt ?? -Infinity;
    const wait = resumeAt - this.now();
    if (wait > 0) {
      // A server's Retry-After: nothing new starts before it has passed.
      if (!this.timer && this.waiting.length) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, wait);
        this.timer.unref?.();
      }
      return;
    }
    while (this.waiting.length && this.held < this.limit) {
      const w = this.waiting.shift()!;
      if (w.onAbort) w.signal?.removeEventListener("abort", w.onAbort);
      this.held++;
      w.resolve();
    }
  }
}

export interface LimiterOptions {
  /** Clock in milliseconds (tests). */
  now?: () => number;
  /** Told of every request that failed: a candidate or a score lost inside a step is otherwise silent. */
  onFailure?: (f: CallFailure) => void;
}

export class Limiter {
  readonly global: LimitFunction;
  private readonly gates = new Map<string, ModelGate>();
  private readonly now: () => number;
  private readonly onFailure: ((f: CallFailure) => void) | undefined;
  readonly adaptive: boolean;

  constructor(
    readonly limits: ConcurrencyLimits = {},
    opts: LimiterOptions = {},
  ) {
    this.adaptive = limits.adaptive ?? true;
    this.now = opts.now ?? (() => performance.now());
    this.onFailure = opts.onFailure;
    const global = limits.global ?? (this.adaptive ? DEFAULT_GLOBAL_CAP : FIXED_DEFAULTS.global);
    this.global = pLimit(Math.max(1, global));
  }

  /** The slots of one model; `start` is what is known of its server (used on first sight). */
  gate(name: string, start?: number): ModelGate {
    let g = this.gates.get(name);
    if (!g) {
      const cap = this.limits.perModel ?? (this.adaptive ? DEFAULT_MODEL_CAP : FIXED_DEFAULTS.perModel);
      const controller = this.adaptive ? new AimdController({ initial: Math.min(cap, start ?? UNKNOWN_SERVER_START), max: cap }) : undefined;
      this.gates.set(name, (g = new ModelGate(controller, Math.max(1, cap), this.now)));
    }
    return g;
  }

  /** Both slots for one request; the release function frees them. */
  async slots(model: string, signal?: AbortSignal): Promise<() => void> {
    const gate = this.gate(model);
    await gate.take(signal);
    try {
      const releaseGlobal = await acquire(this.global, signal);
      gate.running++;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        gate.running--;
        releaseGlobal();
        gate.give();
      };
    } catch (err) {
      gate.give();
      throw err;
    }
  }

  /** What the model's server is told to report to (undefined with fixed limits). */
  observer(model: string): LoadObserver | undefined {
    const gate = this.gate(model);
    const c = gate.controller;
    if (!c) return undefined;
    return {
      latency: (kind, ms) => c.onLatency({ kind, ms, inFlight: gate.running, now: this.now() }),
      overloaded: (retryAfterMs) => c.onOverload(this.now(), retryAfterMs),
    };
  }

  /** Count a failed request of `model` (cancellations are not failures). */
  failure(model: string, err: unknown, signal?: AbortSignal): void {
    if (isAbort(err, signal)) return;
    const gate = this.gate(model);
    gate.failed++;
    const message = oneLine(err);
    // "prompt of 1034 tokens exceeds 512" and "... 1210 tokens ..." are one kind.
    const kind = message.replace(/\d+/g, "#");
    const firstOfKind = !gate.failureKinds.has(kind);
    if (firstOfKind) gate.failureKinds.add(kind);
    this.onFailure?.({ model, message, firstOfKind });
  }

  /** Requests in flight and queued, and the limit, of every model seen so far. */
  load(): ModelLoad[] {
    return [...this.gates].map(([model, g]) => ({
      model,
      inFlight: g.running,
      queued: g.queued,
      limit: g.limit,
      overloads: g.controller?.counts.overloads ?? 0,
      latencyDecreases: g.controller?.counts.latencyDecreases ?? 0,
      failed: g.failed,
    }));
  }

  wrap(handle: ModelHandle): ModelHandle {
    this.gate(handle.name, handle.concurrency);
    return { ...handle, backend: new LimitedBackend(handle.backend, this, handle.name) };
  }
}

function both(a: LoadObserver | undefined, b: LoadObserver | undefined): LoadObserver | undefined {
  if (!a || !b) return a ?? b;
  return {
    latency: (kind, ms) => {
      a.latency(kind, ms);
      b.latency(kind, ms);
    },
    overloaded: (ra) => {
      a.overloaded(ra);
      b.overloaded(ra);
    },
  };
}

/** The backend a limiter's wrapper gates (the backend itself when it is not wrapped). */
export function gatedBackend(backend: Backend): Backend {
  return backend instanceof LimitedBackend ? backend.inner : backend;
}

class LimitedBackend implements Backend {
  readonly name: string;
  constructor(
    readonly inner: Backend,
    private limiter: Limiter,
    private key: string,
  ) {
    this.name = inner.name;
  }

  async *stream(req: CompletionRequest): AsyncGenerator<StreamChunk, CompletionResult> {
    // Answers from the response cache never reach the server: they take no slot.
    const stored = this.inner instanceof CachedBackend ? await this.inner.storedStream(req) : undefined;
    if (stored) return yield* stored;
    const release = await this.limiter.slots(this.key, req.signal);
    try {
      const observe = both(req.observe, this.limiter.observer(this.key));
      return yield* this.inner.stream(observe ? { ...req, observe } : req);
    } catch (err) {
      this.limiter.failure(this.key, err, req.signal);
      throw err;
    } finally {
      release();
    }
  }

  async score(req: ScoreRequest): Promise<ScoreResult> {
    const stored = this.inner instanceof CachedBackend ? await this.inner.storedScore(req) : undefined;
    if (stored) return stored;
    const release = await this.limiter.slots(this.key, req.signal);
    try {
      const observe = both(req.observe, this.limiter.observer(this.key));
      return await this.inner.score(observe ? { ...req, observe } : req);
    } catch (err) {
      this.limiter.failure(this.key, err, req.signal);
      throw err;
    } finally {
      release();
    }
  }

  probe(signal?: AbortSignal): Promise<Capabilities> {
    return this.inner.probe(signal);
  }

  countTokens(text: string): Promise<number> {
    return this.inner.countTokens ? this.inner.countTokens(text) : Promise.resolve(Math.ceil(text.length / 4));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
