// Counts the model calls a command makes (every stream and every scoring that reaches a model),
// so progress can say how many were made and how many are left of those planned. A response
// the cache serves is not a model call: behind a CachedBackend its own misses are counted.
import { CachedBackend } from "../backends/cache.js";
import { passThrough, type CompletionRequest, type CompletionResult, type ScoreRequest, type ScoreResult, type StreamChunk } from "../backends/types.js";
import type { ModelHandle } from "./models.js";

export class CallCounter {
  private direct = 0;
  private cached = new Map<CachedBackend, { calls: number; hits: number }>();

  /** Model calls so far (since each backend was wrapped). */
  get calls(): number {
    let n = this.direct;
    for (const [b, start] of this.cached) n += modelCalls(b) - start.calls;
    return n;
  }

  /** Answers the response cache served in place of a model call, so a rerun can say it ran nothing. */
  get servedFromCache(): number {
    let n = 0;
    for (const [b, start] of this.cached) n += b.stats().hits - start.hits;
    return n;
  }

  wrap(handle: ModelHandle): ModelHandle {
    const inner = handle.backend;
    if (inner instanceof CachedBackend) {
      if (!this.cached.has(inner)) this.cached.set(inner, { calls: modelCalls(inner), hits: inner.stats().hits });
      return handle;
    }
    const counter = this;
    const backend = passThrough(inner, {
      async *stream(req: CompletionRequest): AsyncGenerator<StreamChunk, CompletionResult> {
        counter.direct++;
        return yield* inner.stream(req);
      },
      score(req: ScoreRequest): Promise<ScoreResult> {
        counter.direct++;
        return inner.score(req);
      },
    });
    return { ...handle, backend };
  }
}

function modelCalls(b: CachedBackend): number {
  const s = b.stats();
  return s.misses + s.bypassed;
}
