// One llama.cpp runtime per process and a pool of loaded GGUF models, keyed by file path, so
// two profiles on the same file share the weights. Loading is refused when the estimated
// memory would go past the budget. Each loaded model keeps one context per (context size,
// sequence count) with a small pool of sequences handed out to concurrent requests.
import { availableParallelism, freemem } from "node:os";
import { realpath, stat } from "node:fs/promises";
import { ggufProblem } from "./gguf-check.js";
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import { loadNodeLlamaCpp } from "./llama-module.js";
import { UserError, oneLine } from "../../errors.js";
import { BackendError } from "../types.js";

export type LocalGpu = "auto" | false | "cuda" | "vulkan" | "metal";

/**
 * Threads for token evaluation: one core is left for the interface and the event loop, at
 * least 1 and at most 8 (more rarely helps small models; on a 2-core machine this gives 1).
 */
export function defaultThreads(cores = availableParallelism()): number {
  return Math.max(1, Math.min(8, cores - 1));
}

const GiB = 1024 ** 3;
export function formatBytes(n: number): string {
  if (n >= GiB) return `${(n / GiB).toFixed(2)} GB`;
  return `${(n / 1024 ** 2).toFixed(1)} MB`;
}

export interface MemoryEstimate {
  /** Model weights (the file size). */
  modelBytes: number;
  /** KV cache for all sequences plus a compute-buffer allowance. */
  contextBytes: number;
}

/**
 * Rough memory a model and its context take: the file size for the weights, plus a KV cache
 * of layers x (K + V widths) x context x sequences x 4 bytes (f32; 2 for f16), plus an allowance of
 * 32 MB + 5% of the file for compute buffers. Only used to refuse loads that cannot fit.
 */
export async function estimateMemory(path: string, contextSize: number, sequences: number, kvCache: KvCachePrecision = "f32"): Promise<MemoryEstimate> {
  const modelBytes = (await stat(path)).size;
  let perTokenKv = 0;
  try {
    const { readGgufFileInfo } = await loadNodeLlamaCpp();
    const info = await readGgufFileInfo(path, { readTensorInfo: false, logWarnings: false });
    const md = info.metadata as unknown as Record<string, Record<string, unknown>>;
    const arch = String((md.general as { architecture?: string } | undefined)?.architecture ?? "");
    const a = (md[arch] ?? {}) as {
      block_count?: number;
      embedding_length?: number;
      attention?: { head_count?: number; head_count_kv?: number | number[]; key_length?: number; value_length?: number };
    };
    const layers = Number(a.block_count ?? 0);
    const heads = Number(a.attention?.head_count ?? 0);
    const kvHeadsRaw = a.attention?.head_count_kv;
    const kvHeads = Number(Array.isArray(kvHeadsRaw) ? Math.max(...kvHeadsRaw) : (kvHeadsRaw ?? heads));
    const headDim = heads > 0 ? Number(a.embedding_length ?? 0) / heads : 0;
    const kDim = Number(a.attention?.key_length ?? headDim) * kvHeads;
    const vDim = Number(a.attention?.value_length ?? headDim) * kvHeads;
    perTokenKv = layers * (kDim + vDim) * (kvCache === "f32" ? 4 : 2);
  } catch {
    // Unknown layout: fall back to the weights-only part of the estimate.
  }
  const contextBytes = Math.round(perTokenKv * contextSize * sequences + 32 * 1024 ** 2 + 0.05 * modelBytes);
  return { modelBytes, contextBytes };
}

/** A sequence of a context, with the tokens it holds and what is known of their log-probs. */
export interface SequenceSlot {
  readonly sequence: LlamaContextSequence;
  /** Mirror of the tokens in the KV cache. */
  tokens: Token[];
  /** logprobs[i]: log p(tokens[i] | tokens[<i]) when it was computed, else undefined. */
  logprobs: (number | undefined)[];
}

export function commonPrefixLength(a: readonly Token[], b: readonly Token[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * Hands the sequences of one context to concurrent requests. A request gets the free sequence
 * that already holds the longest prefix of its tokens (so KV cache reuse survives concurrency);
 * when every sequence is busy it waits in line. Sequences are never disposed and re-created
 * (that can fail with "No sequences left"); they are trimmed and reused.
 */
export class SequencePool {
  private readonly free: SequenceSlot[];
  private readonly waiting: { resolve: (s: SequenceSlot) => void; reject: (e: unknown) => void; want?: readonly Token[] }[] = [];
  private closed = false;

  constructor(readonly context: LlamaContext) {
    this.free = [];
    for (let i = 0; i < context.totalSequences; i++) {
      this.free.push({ sequence: context.getSequence(), tokens: [], logprobs: [] });
    }
  }

  get size(): number {
    return this.context.totalSequences;
  }

  acquire(want?: readonly Token[], signal?: AbortSignal): Promise<SequenceSlot> {
    if (this.closed) return Promise.reject(new Error("model is closed"));
    signal?.throwIfAborted();
    if (this.free.length > 0) return Promise.resolve(this.take(want));
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject, want };
      this.waiting.push(entry);
      signal?.addEventListener(
        "abort",
        () => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) {
            this.waiting.splice(i, 1);
            reject(signal.reason);
          }
        },
        { once: true },
      );
    });
  }

  release(slot: SequenceSlot): void {
    this.free.push(slot);
    const next = this.waiting.shift();
    if (next) next.resolve(this.take(next.want));
  }

  /** Fail every waiting request (the model is going away). */
  close(): void {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(new Error("model is closed"));
  }

  private take(want?: readonly Token[]): SequenceSlot {
    let best = 0;
    if (want) {
      let bestLen = -1;
      this.free.forEach((s, i) => {
        const len = commonPrefixLength(s.tokens, want);
        if (len > bestLen) {
          bestLen = len;
          best = i;
        }
      });
    }
    return this.free.splice(best, 1)[0]!;
  }
}

/**
 * "f32": f32 KV cache and no flash attention, so a token evaluated alone (generation) and in
 * a batch (scoring) get the same log-probability to about 1e-5. "f16": half the KV memory,
 * but those two paths then differ by up to about 1e-3.
 */
export type KvCachePrecision = "f32" | "f16";

export interface ContextOptions {
  /** Tokens per sequence; capped at the model's training context (default 4096). */
  contextSize?: number;
  /** Parallel sequences (concurrent requests on this model; default 4). */
  sequences?: number;
  /** KV cache precision (default "f32"). */
  kvCache?: KvCachePrecision;
}

/** What a backend holds while it uses a pooled model. */
export interface ModelLease {
  readonly path: string;
  readonly model: LlamaModel;
  readonly context: LlamaContext;
  readonly sequences: SequencePool;
  readonly threads: number;
  readonly gpu: string | false;
  readonly kvCache: KvCachePrecision;
  /** Give the model back; the last holder frees it. */
  release(): Promise<void>;
}

interface ContextEntry {
  context: LlamaContext;
  sequences: SequencePool;
  bytes: number;
  users: number;
}

interface ModelEntry {
  path: string;
  model: LlamaModel;
  bytes: number;
  contexts: Map<string, ContextEntry>;
  users: number;
}

export interface LocalModelPoolOptions {
  /** Evaluation threads (default: defaultThreads()). */
  threads?: number;
  /** "auto" uses a GPU when one is present; false never does (default: detected). */
  gpu?: LocalGpu;
  /** Memory all loaded models together may use (default: `memoryFraction` of free memory). */
  memoryBudgetBytes?: number;
  /** Share of the free memory (measured when the pool is made) used as budget; default 0.8. */
  memoryFraction?: number;
}

const DEFAULT_CONTEXT_SIZE = 4096;
const DEFAULT_SEQUENCES = 4;

export class LocalModelPool {
  readonly threads: number;
  readonly budgetBytes: number;
  private readonly gpuOption: LocalGpu | undefined;
  private llamaPromise?: Promise<Llama>;
  private readonly entries = new Map<string, ModelEntry>();
  private pendingBytes = 0;
  private lock: Promise<unknown> = Promise.resolve();

  constructor(options: LocalModelPoolOptions = {}) {
    this.threads = Math.max(1, Math.floor(options.threads ?? defaultThreads()));
    this.gpuOption = options.gpu;
    this.budgetBytes = options.memoryBudgetBytes ?? Math.floor(freemem() * (options.memoryFraction ?? 0.8));
  }

  private static sharedPool?: LocalModelPool;
  /** The process-wide pool local backends use unless given one. */
  static shared(): LocalModelPool {
    return (LocalModelPool.sharedPool ??= new LocalModelPool());
  }

  /** Bytes held by loaded models and contexts (estimated). */
  get usedBytes(): number {
    let n = this.pendingBytes;
    for (const e of this.entries.values()) {
      n += e.bytes;
      for (const c of e.contexts.values()) n += c.bytes;
    }
    return n;
  }

  loaded(): { path: string; users: number; bytes: number }[] {
    return [...this.entries.values()].map((e) => ({
      path: e.path,
      users: e.users,
      bytes: e.bytes + [...e.contexts.values()].reduce((s, c) => s + c.bytes, 0),
    }));
  }

  /** The llama.cpp runtime: prebuilt binaries only, never a build from source. */
  llama(): Promise<Llama> {
    this.llamaPromise ??= (async () => {
      const { getLlama, getLlamaGpuTypes, LlamaLogLevel } = await loadNodeLlamaCpp();
      let gpu = this.gpuOption;
      if (gpu === undefined) {
        const types = await getLlamaGpuTypes("supported").catch(() => [false as const]);
        gpu = types.some((t) => t !== false) ? "auto" : false;
      }
      try {
        return await getLlama({ build: "never", gpu, logLevel: LlamaLogLevel.error, maxThreads: this.threads });
      } catch (err) {
        if (gpu === false) throw err;
        return getLlama({ build: "never", gpu: false, logLevel: LlamaLogLevel.error, maxThreads: this.threads });
      }
    })();
    return this.llamaPromise;
  }

  /** Load (or share) the model at `path` and a context for it. */
  async acquire(path: string, options: ContextOptions = {}): Promise<ModelLease> {
    let real: string;
    try {
      real = await realpath(path);
    } catch {
      throw new UserError(`model file not found: ${path} (point Concord at a local GGUF with CONCORD_MODEL=<file.gguf> or --model <file.gguf>)`);
    }
    // Loads are serialised so two budgets are never checked against the same free space.
    const run = this.lock.then(() => this.acquireLocked(real, options));
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async acquireLocked(path: string, options: ContextOptions): Promise<ModelLease> {
    const sequences = Math.max(1, Math.floor(options.sequences ?? DEFAULT_SEQUENCES));
    let entry = this.entries.get(path);
    const requested = Math.max(16, Math.floor(options.contextSize ?? DEFAULT_CONTEXT_SIZE));
    const kvCache = options.kvCache ?? "f32";
    const est = await estimateMemory(path, requested, sequences, kvCache);
    const key = `${requested}x${sequences}:${kvCache}`;
    const needed = (entry ? 0 : est.modelBytes) + (entry?.contexts.has(key) ? 0 : est.contextBytes);
    if (needed > 0 && this.usedBytes + needed > this.budgetBytes) {
      throw new BackendError(
        `cannot load ${path}: it needs about ${formatBytes(est.modelBytes + est.contextBytes)} ` +
          `(weights ${formatBytes(est.modelBytes)} + context ${formatBytes(est.contextBytes)} for ${sequences} x ${requested} tokens), ` +
          `but only ${formatBytes(Math.max(0, this.budgetBytes - this.usedBytes))} of the ${formatBytes(this.budgetBytes)} local model budget is left` +
          (this.entries.size ? ` (${this.entries.size} model(s) loaded)` : "") +
          `; use a smaller context, fewer sequences or an f16 KV cache, or raise the budget`,
        path,
      );
    }
    const llama = await this.llama();
    if (!entry) {
      this.pendingBytes += est.modelBytes;
      try {
        const model = await llama.loadModel({ modelPath: path, gpuLayers: llama.gpu === false ? 0 : "auto" });
        entry = { path, model, bytes: est.modelBytes, contexts: new Map(), users: 0 };
        this.entries.set(path, entry);
      } catch (err) {
        throw new BackendError(`cannot load GGUF model ${path}: ${(await ggufProblem(path)) ?? oneLine(err)}`, path);
      } finally {
        this.pendingBytes -= est.modelBytes;
      }
    }
    let ctx = entry.contexts.get(key);
    if (!ctx) {
      const contextSize = Math.min(requested, entry.model.trainContextSize);
      let context: LlamaContext;
      try {
        context = await entry.model.createContext({
          contextSize,
          sequences,
          threads: this.threads,
          ...(kvCache === "f32" ? { flashAttention: false, experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" } : {}),
        });
      } catch (err) {
        if (entry.contexts.size === 0 && entry.users === 0) {
          this.entries.delete(path);
          await entry.model.dispose();
        }
        throw new BackendError(`cannot create a ${contextSize}-token context for ${path}: ${oneLine(err)}`, path);
      }
      ctx = { context, sequences: new SequencePool(context), bytes: est.contextBytes, users: 0 };
      entry.contexts.set(key, ctx);
    }
    entry.users++;
    ctx.users++;
    const modelEntry = entry;
    const ctxEntry = ctx;
    let released = false;
    return {
      path,
      model: entry.model,
      context: ctx.context,
      sequences: ctx.sequences,
      threads: this.threads,
      gpu: llama.gpu,
      kvCache,
      release: async () => {
        if (released) return;
        released = true;
        ctxEntry.users--;
        modelEntry.users--;
        if (ctxEntry.users === 0) {
          ctxEntry.sequences.close();
          modelEntry.contexts.delete(key);
          await ctxEntry.context.dispose();
        }
        if (modelEntry.users === 0) {
          this.entries.delete(path);
          await modelEntry.model.dispose();
        }
      },
    };
  }

  /** Free every model and the runtime. */
  async dispose(): Promise<void> {
    for (const e of this.entries.values()) {
      for (const c of e.contexts.values()) {
        c.sequences.close();
        await c.context.dispose();
      }
      await e.model.dispose();
    }
    this.entries.clear();
    if (this.llamaPromise) {
      const llama = await this.llamaPromise.catch(() => undefined);
      this.llamaPromise = undefined;
      await llama?.dispose();
    }
    if (LocalModelPool.sharedPool === this) LocalModelPool.sharedPool = undefined;
  }
}
