// Requests that share a prompt prefix, sent so that a server's prefix cache (vLLM's automatic
// prefix caching, SGLang's radix cache) can serve it: the first request with a prefix goes
// alone, and the rest follow once the server has computed it (its first token, or its answer).
// Sent together, each would compute the shared prefix again: a server caches a prefix only once
// it has been computed.
import { createHash } from "node:crypto";
import { BoundedMap } from "../../core/bounded-map.js";

export class PrefixOrder {
  private readonly pending = new Map<string, Promise<void>>();
  /** Prefixes the server has computed lately (oldest first), sent without waiting. */
  private readonly warm: BoundedMap<string, true>;

  constructor(remember = 1024) {
    this.warm = new BoundedMap(remember);
  }

  static key(value: unknown): string {
    return createHash("sha256").update(JSON.stringify(value)).digest("hex");
  }

  /**
   * Wait, if another request is computing this prefix; resolves with the function to call once
   * this request's prefix has been computed (or it failed: the next one goes then).
   */
  async enter(key: string, signal?: AbortSignal): Promise<() => void> {
    for (;;) {
      if (this.warm.has(key)) return () => {};
      const first = this.pending.get(key);
      if (!first) break;
      await untilDoneOrAborted(first, signal);
      // Aborted while waiting: the request itself reports its abort as it always does.
      if (signal?.aborted) return () => {};
    }
    let done!: () => void;
    const computed = new Promise<void>((r) => (done = r));
    this.pending.set(key, computed);
    let called = false;
    return () => {
      if (called) return;
      called = true;
      this.pending.delete(key);
      this.warm.set(key, true);
      done();
    };
  }
}

function untilDoneOrAborted(p: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (!signal) return p;
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const onAbort = () => resolve();
    signal.addEventListener("abort", onAbort, { once: true });
    void p.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}
