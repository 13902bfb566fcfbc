// A disk cache for deterministic requests, wrapping any backend. Only answers that cannot change
// between calls are kept (greedy or fixed-seed completions, and scoring), keyed on everything
// that changes the answer, so a second identical run makes no model calls at all.
import { createHash } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { closeCacheLog, openCacheLog, type CacheLog } from "./cache-log.js";
import type { Backend, Capabilities, CompletionRequest, CompletionResult, Prompt, ScoreRequest, ScoreResult, StreamChunk } from "./types.js";

/**
 * Writes a value's stable JSON (object keys sorted, undefined fields dropped) to `put`, piece by
 * piece. stableStringify joins the pieces; stableHash feeds them to the hash without building the
 * text, so a request's prompt (a patient note, a chain of 70 sentences) is not copied once per
 * level of nesting to make a key. One walker, so the two always agree.
 */
function writeStable(value: unknown, put: (piece: string) => void): void {
  if (value === null || typeof value !== "object") {
    put(JSON.stringify(value) ?? "null");
    return;
  }
  if (Array.isArray(value)) {
    put("[");
    value.forEach((item, i) => {
      if (i > 0) put(",");
      if (item === undefined) put("null");
      else writeStable(item, put);
    });
    put("]");
    return;
  }
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, x]) => x !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  put("{");
  entries.forEach(([k, x], i) => {
    put(i > 0 ? `,${JSON.stringify(k)}:` : `${JSON.stringify(k)}:`);
    writeStable(x, put);
  });
  put("}");
}

/** JSON with object keys sorted and undefined fields dropped: equal requests give equal text. */
export function stableStringify(value: unknown): string {
  const pieces: string[] = [];
  writeStable(value, (piece) => pieces.push(piece));
  return pieces.join("");
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** sha256(stableStringify(value)), without building the text. */
export function stableHash(value: unknown): string {
  const hash = createHash("sha256");
  writeStable(value, (piece) => hash.update(piece));
  return hash.digest("hex");
}

/** Everything in a completion request that can change the answer (the signal cannot). */
export function completionIdentity(req: CompletionRequest): Record<string, unknown> {
  return {
    prompt: req.prompt,
    maxTokens: req.maxTokens,
    temperature: req.temperature,
    topK: req.topK,
    topP: req.topP,
    seed: req.seed,
    stop: req.stop,
    logprobs: req.logprobs ?? false,
    // Absent when not asked for, so keys made before it existed still match.
    ...(req.topLogprobs ? { topLogprobs: req.topLogprobs } : {}),
  };
}

/** Everything in a score request that can change the answer. */
export function scoreIdentity(req: ScoreRequest): Record<string, unknown> {
  return { prefix: req.prefix, candidates: req.candidates, includePrefix: req.includePrefix ?? false };
}

/** Cache key of a completion: backend name + caller's model identity + the request. */
export function completionKey(backend: string, model: string, req: CompletionRequest): string {
  return stableHash({ kind: "stream", backend, model, request: completionIdentity(req) });
}

export function scoreKey(backend: string, model: string, req: ScoreRequest): string {
  return stableHash({ kind: "score", backend, model, request: scoreIdentity(req) });
}

/** Key of a prompt alone (used by replay for near matches that differ only in sampling). */
export function promptKey(prompt: Prompt): string {
  return stableHash(prompt);
}

/** Greedy decoding or a fixed seed: the same request gives the same answer. */
export function isDeterministic(req: CompletionRequest): boolean {
  return req.temperature === 0 || req.seed !== undefined;
}

// --- entry files -------------------------------------------------------------------------------

const tokenSchema = z.object({ token: z.string(), logprob: z.number() });
const chunkSchema = z.object({
  channel: z.enum(["content", "reasoning"]),
  text: z.string(),
  tokens: z.array(tokenSchema).optional(),
});
const completionResultSchema = z.object({
  text: z.string(),
  reasoning: z.string(),
  tokens: z.array(tokenSchema).optional(),
  finishReason: z.enum(["stop", "length", "abort"]),
});
const scoreResultSchema = z.object({
  candidates: z.array(z.object({ tokens: z.array(tokenSchema), prefixTokens: z.array(tokenSchema).optional() })),
  evaluatedTokens: z.number(),
});
const entrySchema = z.discriminatedUnion("kind", [
  z.object({ schema: z.literal(1), kind: z.literal("stream"), key: z.string(), chunks: z.array(chunkSchema), result: completionResultSchema }),
  z.object({ schema: z.literal(1), kind: z.literal("score"), key: z.string(), result: scoreResultSchema }),
  z.object({ schema: z.literal(1), kind: z.literal("tokens"), key: z.string(), count: z.number().int().min(0) }),
  // Work made from cached answers alone (a built ensemble chain, engine/chain-memo.ts).
  z.object({ schema: z.literal(1), kind: z.literal("derived"), key: z.string(), value: z.unknown() }),
]);
type Entry = z.infer<typeof entrySchema>;

export interface CacheOptions {
  /**
   * Folder holding the entries (created on first write): an append-only log per model under
   * `log/` (src/backends/cache-log.ts); entries of the earlier one-file-per-entry layout
   * (`<2 hex>/<key>.json`) are still read, and copied into the log when used.
   */
  dir: string;
  /** false turns the cache off; so does the environment variable CONCORD_NO_CACHE=1. */
  enabled?: boolean;
  /** What the backend name alone does not say about the model (file path, model id, URL). */
  model?: string;
  /**
   * What the server says it serves, asked once per backend (a model id and its facts): a server
   * that now serves another model under the same URL and name gets other keys.
   */
  served?: (signal?: AbortSignal) => Promise<string | undefined>;
}

export interface CacheStats {
  hits: number;
  /** Cacheable requests that were not in the cache (each one called the model). */
  misses: number;
  /** Requests that could not be cached (sampled, or cache off) and went to the model. */
  bypassed: number;
  /** Entries written. */
  writes: number;
  /** Entries that could not be read and were removed (or skipped: a damaged log line). */
  corrupt: number;
  /** Entries that could not be written (a full disk): the log was cut back, nothing half-written. */
  unwritten: number;
}

function cacheDisabledByEnv(): boolean {
  const v = process.env.CONCORD_NO_CACHE;
  return v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";
}

export class CachedBackend implements Backend {
  readonly name: string;
  readonly enabled: boolean;
  private readonly counters: CacheStats = { hits: 0, misses: 0, bypassed: 0, writes: 0, corrupt: 0, unwritten: 0 };
  private logStore: CacheLog | undefined;
  readonly countTokens?: (text: string) => Promise<number>;

  constructor(
    private readonly inner: Backend,
    private readonly options: CacheOptions,
  ) {
    this.name = inner.name;
    this.enabled = options.enabled !== false && !cacheDisabledByEnv();
    if (inner.countTokens) this.countTokens = (text) => this.storedCount(text, inner.countTokens!.bind(inner));
  }

  /**
   * A text's length in the model's tokens (an experiment's answer budget counts every prompt and
   * chain): asked of the server once, then kept, so a run from the cache sends nothing at all.
   * Not counted as a hit or a miss: those are model calls.
   */
  private async storedCount(text: string, count: (text: string) => Promise<number>): Promise<number> {
    if (!this.enabled) return count(text);
    const key = stableHash({ kind: "tokens", backend: this.inner.name, model: await this.modelKey(), text });
    const hit = await this.read(key, "tokens");
    if (hit?.kind === "tokens") return hit.count;
    const n = await count(text);
    this.log.put(key, JSON.stringify({ schema: 1, kind: "tokens", key, count: n } satisfies Entry));
    return n;
  }

  stats(): CacheStats {
    const log = this.logStore?.stats;
    return { ...this.counters, corrupt: this.counters.corrupt + (log?.damaged ?? 0), unwritten: log?.unwritten ?? 0 };
  }

  private get log(): CacheLog {
    return (this.logStore ??= openCacheLog(this.options.dir, `${this.inner.name}\u241f${this.options.model ?? ""}`));
  }

  /** Append the entries still waiting (they are also appended on their own within 100 ms). */
  flush(): Promise<void> {
    return this.logStore?.flush() ?? Promise.resolve();
  }

  /** Requests that reached the wrapped backend. */
  get innerCalls(): number {
    return this.counters.misses + this.counters.bypassed;
  }

  private servedPromise: Promise<string> | undefined;

  /** The model part of a key: the caller's identity, and the server's word on what it serves. */
  private async modelKey(signal?: AbortSignal): Promise<string> {
    const base = this.options.model ?? "";
    const served = this.options.served;
    if (!served) return base;
    this.servedPromise ??= served(signal).then((s) => (s === undefined ? base : `${base}\u241f${s}`));
    // A failed question is asked again next time, not remembered.
    this.servedPromise.catch(() => (this.servedPromise = undefined));
    return this.servedPromise;
  }

  private pathFor(key: string): string {
    return join(this.options.dir, key.slice(0, 2), `${key}.json`);
  }

  private async read(key: string, kind: Entry["kind"]): Promise<Entry | undefined> {
    const logged = await this.log.get(key);
    if (logged !== undefined) {
      const entry = parseEntry(logged, key, kind);
      if (entry) return entry;
      // Whole on disk (its checksum held) but not an entry of this kind and key: never served.
      this.log.drop(key);
      this.counters.corrupt++;
      return undefined;
    }
    return this.readEntryFile(key, kind);
  }

  /** An entry of the one-file-per-entry layout; copied into the log so the next run reads it there. */
  private async readEntryFile(key: string, kind: Entry["kind"]): Promise<Entry | undefined> {
    const path = this.pathFor(key);
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch {
      return undefined;
    }
    const entry = parseEntry(text, key, kind);
    if (!entry) {
      // A damaged entry is only a lost shortcut: drop it and ask the model again.
      this.counters.corrupt++;
      await rm(path, { force: true }).catch(() => undefined);
      return undefined;
    }
    this.log.put(key, JSON.stringify(entry));
    return entry;
  }

  private write(entry: Entry): void {
    this.log.put(entry.key, JSON.stringify(entry));
    this.counters.writes++;
  }

  /**
   * The key `req` is stored under here, or undefined when it would not be stored (sampled
   * without a seed, or the cache off). The key holds the model's identity and the whole request.
   */
  async requestKey(kind: "stream", req: CompletionRequest): Promise<string | undefined>;
  async requestKey(kind: "score", req: ScoreRequest): Promise<string | undefined>;
  async requestKey(kind: "stream" | "score", req: CompletionRequest | ScoreRequest): Promise<string | undefined> {
    if (!this.enabled) return undefined;
    const model = await this.modelKey(req.signal);
    if (kind === "score") return scoreKey(this.inner.name, model, req as ScoreRequest);
    const completion = req as CompletionRequest;
    return isDeterministic(completion) ? completionKey(this.inner.name, model, completion) : undefined;
  }

  /** A value stored with putDerived under `key`, or undefined. */
  async storedDerived(key: string): Promise<unknown> {
    if (!this.enabled) return undefined;
    const hit = await this.read(key, "derived");
    return hit?.kind === "derived" ? hit.value : undefined;
  }

  /**
   * Keep a value made from this cache's answers alone, under a key the caller derives from their
   * keys (so it is found only where those answers would be).
   */
  putDerived(key: string, value: unknown): void {
    if (!this.enabled) return;
    this.write({ schema: 1, kind: "derived", key, value });
  }

  /**
   * The stored answer to `req` as a stream, or undefined (then `stream` asks the model). Lets a
   * caller that gates requests to the server (engine/limits.ts) serve hits without a slot: a hit
   * never reaches the server, and queueing it behind slow requests made a run from the cache as
   * slow as the run that filled it.
   */
  async storedStream(req: CompletionRequest): Promise<AsyncGenerator<StreamChunk, CompletionResult> | undefined> {
    if (!this.enabled || !isDeterministic(req)) return undefined;
    const key = completionKey(this.inner.name, await this.modelKey(req.signal), req);
    const hit = await this.read(key, "stream");
    if (!hit || hit.kind !== "stream") return undefined;
    this.counters.hits++;
    return replayChunks(hit.chunks, hit.result, req.signal);
  }

  /** The stored score of `req`, or undefined (as storedStream). */
  async storedScore(req: ScoreRequest): Promise<ScoreResult | undefined> {
    if (!this.enabled) return undefined;
    const key = scoreKey(this.inner.name, await this.modelKey(req.signal), req);
    const hit = await this.read(key, "score");
    if (!hit || hit.kind !== "score") return undefined;
    req.signal?.throwIfAborted();
    this.counters.hits++;
    return hit.result;
  }

  async *stream(req: CompletionRequest): AsyncGenerator<StreamChunk, CompletionResult> {
    if (!this.enabled || !isDeterministic(req)) {
      this.counters.bypassed++;
      return yield* this.inner.stream(req);
    }
    const key = completionKey(this.inner.name, await this.modelKey(req.signal), req);
    const hit = await this.read(key, "stream");
    if (hit && hit.kind === "stream") {
      this.counters.hits++;
      return yield* replayChunks(hit.chunks, hit.result, req.signal);
    }
    this.counters.misses++;
    const chunks: StreamChunk[] = [];
    const gen = this.inner.stream(req);
    let result: CompletionResult | undefined;
    try {
      for (;;) {
        const next = await gen.next();
        if (next.done) {
          result = next.value;
          break;
        }
        chunks.push(next.value);
        yield next.value;
      }
    } finally {
      // The consumer stopped early: let the wrapped stream release what it holds.
      if (!result) await gen.return(undefined as never).catch(() => undefined);
    }
    // Only whole answers are kept: an aborted or cut-short stream is not what the model says.
    if (result.finishReason !== "abort" && !req.signal?.aborted) {
      this.write({ schema: 1, kind: "stream", key, chunks, result });
    }
    return result;
  }

  async score(req: ScoreRequest): Promise<ScoreResult> {
    if (!this.enabled) {
      this.counters.bypassed++;
      return this.inner.score(req);
    }
    const key = scoreKey(this.inner.name, await this.modelKey(req.signal), req);
    const hit = await this.read(key, "score");
    if (hit && hit.kind === "score") {
      req.signal?.throwIfAborted();
      this.counters.hits++;
      return hit.result;
    }
    this.counters.misses++;
    const result = await this.inner.score(req);
    if (!req.signal?.aborted) this.write({ schema: 1, kind: "score", key, result });
    return result;
  }

  /** Probes are never cached: they ask what the model can do now. */
  probe(signal?: AbortSignal): Promise<Capabilities> {
    return this.inner.probe(signal);
  }

  async close(): Promise<void> {
    const log = this.logStore;
    this.logStore = undefined;
    if (log) await closeCacheLog(log);
    return this.inner.close();
  }
}

function parseEntry(text: string, key: string, kind: Entry["kind"]): Entry | undefined {
  try {
    const entry = entrySchema.parse(JSON.parse(text));
    return entry.key === key && entry.kind === kind ? entry : undefined;
  } catch {
    return undefined;
  }
}

/** Serve stored chunks as a stream so the screen still sees tokens arrive. */
async function* replayChunks(chunks: StreamChunk[], result: CompletionResult, signal?: AbortSignal): AsyncGenerator<StreamChunk, CompletionResult> {
  let text = "";
  let reasoning = "";
  for (const chunk of chunks) {
    if (signal?.aborted) return { text, reasoning, finishReason: "abort" };
    if (chunk.channel === "content") text += chunk.text;
    else reasoning += chunk.text;
    yield chunk;
  }
  return result;
}
