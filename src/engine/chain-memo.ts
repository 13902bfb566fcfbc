// A built ensemble chain, kept in the response cache beside the answers it was built from.
//
// Why: a run from the cache otherwise replays every step of every chain (about 70 steps, each a
// stream per candidate and a score per candidate and evaluator), and that replay, not any model,
// was most of a cached grid's time. With the chain kept, a chain costs its first step.
//
// When a kept chain is used: its first step is built as usual (from the cache), and the chain is
// looked up under a key made of that step's request keys (each holds a model's identity, its
// whole prompt as rendered, and its sampling), the algorithm's settings, and CHAIN_RULES. A
// chain is kept only when every request that built it would itself be cached (greedy or seeded)
// and it ended normally (its end of thought, or its budget), never when it failed or was stopped.
import { CachedBackend, isDeterministic, stableHash } from "../backends/cache.js";
import { passThrough, type CompletionRequest, type CompletionResult, type ScoreRequest, type ScoreResult, type StreamChunk } from "../backends/types.js";
import type { MadeCot } from "./conditions/types.js";
import { gatedBackend } from "./limits.js";
import type { ModelHandle } from "./models.js";

/**
 * The version of the rules that turn candidates into a chain (sentence cuts, joining, the pick,
 * when a chain ends). A change to those rules must change this number: chains kept under the old
 * rules are then not found, and are built again.
 */
export const CHAIN_RULES = 1;

/** The response cache a handle's requests go through, if they all do. */
function cacheOf(handle: ModelHandle): CachedBackend | undefined {
  const backend = gatedBackend(handle.backend);
  return backend instanceof CachedBackend && backend.enabled ? backend : undefined;
}

/**
 * Watches the requests of one chain as it is built: the keys of its first step's requests, and
 * whether every request is one the cache keeps.
 */
export class ChainMemo {
  private firstStep = true;
  private readonly keys: string[] = [];
  private pendingKeys: Promise<unknown>[] = [];
  /** False once a request is not one the cache keeps (sampled without a seed), or failed. */
  private cacheable = true;

  private constructor(
    private readonly store: CachedBackend,
    private readonly caches: Map<string, CachedBackend>,
  ) {}

  /** A memo for a chain built by these models, or undefined when one of them is not cached. */
  static for(models: readonly ModelHandle[]): ChainMemo | undefined {
    const caches = new Map<string, CachedBackend>();
    for (const m of models) {
      const cache = cacheOf(m);
      if (!cache) return undefined;
      caches.set(m.name, cache);
    }
    const store = caches.get(models[models.length - 1]!.name)!;
    return new ChainMemo(store, caches);
  }

  /** The handle with its requests watched (hand these to the chain builder). */
  watch(handle: ModelHandle): ModelHandle {
    const cache = this.caches.get(handle.name)!;
    const inner = handle.backend;
    const memo = this;
    const backend = passThrough(inner, {
      async *stream(req: CompletionRequest): AsyncGenerator<StreamChunk, CompletionResult> {
        memo.note(isDeterministic(req), () => cache.requestKey("stream", req));
        try {
          return yield* inner.stream(req);
        } catch (err) {
          memo.failed();
          throw err;
        }
      },
      score(req: ScoreRequest): Promise<ScoreResult> {
        memo.note(true, () => cache.requestKey("score", req));
        return inner.score(req).catch((err: unknown) => {
          memo.failed();
          throw err;
        });
      },
    });
    return { ...handle, backend };
  }

  /** A request failed: the chain was built without its answer, and is not kept. */
  private failed(): void {
    this.cacheable = false;
  }

  /** Past the first step only whether a request is kept matters: its key is not made twice. */
  private note(deterministic: boolean, key: () => Promise<string | undefined>): void {
    if (!deterministic) this.cacheable = false;
    if (!this.cacheable || !this.firstStep) return;
    this.pendingKeys.push(
      key().then((k) => {
        if (k === undefined) this.cacheable = false;
        else this.keys.push(k);
      }),
    );
  }

  /**
   * The key of this chain once its first step is built, or undefined when it cannot be kept.
   * `settings` are the algorithm's (k, mode, budget): what the first step's requests do not show.
   */
  async keyAfterFirstStep(settings: Record<string, unknown>): Promise<string | undefined> {
    this.firstStep = false;
    const pending = this.pendingKeys;
    this.pendingKeys = [];
    await Promise.all(pending);
    if (!this.cacheable || this.keys.length === 0) return undefined;
    // Candidates race: their requests are noted in any order.
    return stableHash({ kind: "ensemble-chain", rules: CHAIN_RULES, settings, firstStep: [...this.keys].sort() });
  }

  async kept(key: string): Promise<MadeCot | undefined> {
    const value = (await this.store.storedDerived(key)) as Partial<MadeCot> | undefined;
    if (!value || typeof value.cot !== "string" || typeof value.meta !== "object" || value.meta === null) return undefined;
    return { cot: value.cot, meta: value.meta };
  }

  /** Keep the chain, if every request that built it is one the cache keeps. */
  keep(key: string, chain: MadeCot): void {
    if (this.cacheable) this.store.putDerived(key, chain);
  }
}
