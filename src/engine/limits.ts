// Global and per-model concurrency limits (p-limit). A backend wrapped here takes a model slot,
// then a global slot, for every stream (held until the stream closes) and every scoring.
// Waiting for a model slot never holds a global one, so one busy model cannot starve the rest.
import pLimit, { type LimitFunction } from "p-limit";
import type { Backend, Capabilities, CompletionRequest, CompletionResult, ScoreRequest, ScoreResult, StreamChunk } from "../backends/types.js";
import { CancelledError } from "./abort.js";
import type { ModelHandle } from "./models.js";

export interface ConcurrencyLimits {
  /** Requests in flight across all models. */
  global: number;
  /** Requests in flight per model. */
  perModel: number;
}

/** Take one slot of `limit`; resolves with its release function (rejects if aborted first). */
function acquire(limit: LimitFunction, signal?: AbortSignal): Promise<() => void> {
  return new Promise((resolve, reject) => {
    void limit(
      () =>
        new Promise<void>((release) => {
          if (signal?.aborted) {
            release();
            reject(new CancelledError());
            return;
          }
          resolve(release);
        }),
    );
    signal?.addEventListener("abort", () => reject(new CancelledError()), { once: true });
  });
}

export class Limiter {
  readonly global: LimitFunction;
  private perModel = new Map<string, LimitFunction>();

  constructor(readonly limits: ConcurrencyLimits) {
    this.global = pLimit(Math.max(1, limits.global));
  }

  model(name: string): LimitFunction {
    let l = this.perModel.get(name);
    if (!l) this.perModel.set(name, (l = pLimit(Math.max(1, this.limits.perModel))));
    return l;
  }

  /** Both slots for one request; the release function frees them. */
  async slots(model: string, signal?: AbortSignal): Promise<() => void> {
    const releaseModel = await acquire(this.model(model), signal);
    try {
      const releaseGlobal = await acquire(this.global, signal);
      let done = false;
      return () => {
        if (done) return;
        done = true;
        releaseGlobal();
        releaseModel();
      };
    } catch (err) {
      releaseModel();
      throw err;
    }
  }

  wrap(handle: ModelHandle): ModelHandle {
    return { ...handle, backend: new LimitedBackend(handle.backend, this, handle.name) };
  }
}

class LimitedBackend implements Backend {
  readonly name: string;
  constructor(
    private inner: Backend,
    private limiter: Limiter,
    private key: string,
  ) {
    this.name = inner.name;
  }

  async *stream(req: CompletionRequest): AsyncGenerator<StreamChunk, CompletionResult> {
    const release = await this.limiter.slots(this.key, req.signal);
    try {
      return yield* this.inner.stream(req);
    } finally {
      release();
    }
  }

  async score(req: ScoreRequest): Promise<ScoreResult> {
    const release = await this.limiter.slots(this.key, req.signal);
    try {
      return await this.inner.score(req);
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
