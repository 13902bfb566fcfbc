// The embedded engine: GGUF models run in-process with node-llama-cpp (prebuilt llama.cpp).
//
// Log-probabilities are always taken from the RAW model distribution (softmax of the logits,
// no temperature, top-k or top-p), so the logprob reported for a generated token equals the
// score() of that token after the same prefix. Sampling with temperature > 0 draws from the
// raw distribution in JS (top-k, then top-p, then temperature, seeded), greedy decoding uses
// llama.cpp's greedy sampler.
//
// score() tokenizes the prefix as a prompt and each candidate on its own as a continuation
// (no BOS, no SentencePiece dummy space): the tokens a generator would have produced after
// that prefix, even where tokenizing prefix + candidate together would merge across the join.
// The prefix stays in the KV cache of a sequence; candidates are evaluated after it one by
// one (the cache is cut back to the prefix end between them), and a later call whose prefix
// extends a cached one evaluates only the new tokens.
import type { LlamaModel, Token } from "node-llama-cpp";
import { randomInt } from "node:crypto";
import {
  BackendError,
  type Backend,
  type Capabilities,
  type CompletionRequest,
  type CompletionResult,
  type FinishReason,
  type Prompt,
  type ScoreRequest,
  type ScoreResult,
  type ScoredText,
  type StreamChunk,
  type TokenLogprob,
} from "./types.js";
import { oneLine } from "../errors.js";
import { resolveModelFile, type ResolveModelOptions } from "./download.js";
import { LocalModelPool, commonPrefixLength, type KvCachePrecision, type ModelLease, type SequenceSlot } from "./local/pool.js";
import { chatFormatFor, continuationTokens, promptTokens, type ChatFormat } from "./local/prompt.js";
import { StopMatcher, sampleToken, seededRandom, type SampleParams } from "./local/sampling.js";
import { ThinkSplitter } from "../core/thinking.js";
import { probeLocal } from "./local/probe.js";

export { LocalModelPool, defaultThreads, estimateMemory, type KvCachePrecision, type LocalModelPoolOptions, type ModelLease } from "./local/pool.js";
export { plainChatText } from "./local/prompt.js";

export interface LocalBackendOptions {
  /** Profile name, used in errors. */
  name: string;
  /** Path to a GGUF file (resolve hf: and https: specs first with resolveModelSpec). */
  modelPath: string;
  /** Tokens per sequence (default 4096, capped at the model's training context). */
  contextSize?: number;
  /** Parallel sequences: how many streams/scorings run at once on this model (default 4). */
  sequences?: number;
  /** Pool to load into (default: the process-wide LocalModelPool.shared()). */
  pool?: LocalModelPool;
  /** KV cache precision (default "f32": generated and scored logprobs agree; see KvCachePrecision). */
  kvCache?: KvCachePrecision;
  /** The chat template's reasoning_effort (gpt-oss writes it into its system message). */
  reasoningEffort?: string;
  /** Inline thinking tags routed to the `reasoning` channel (default <think> ... </think>). */
  thinkTags?: { open: string; close: string };
}

/** llama.cpp's sampling defaults, used when the GGUF names none and the request sets none. */
const LLAMA_CPP_DEFAULTS: SampleParams = { temperature: 0.8, topK: 40, topP: 0.95 };

type NextRequest = {
  token?: boolean;
  confidence?: boolean;
  probabilities?: boolean;
  options?: { temperature?: number };
};

/** Raw (greedy-chain) output: llama.cpp's greedy sampler leaves the logits untouched. */
const RAW = { temperature: 0 } as const;

/** The most alternatives kept per position (OpenAI's top_logprobs allows 20). */
export const MAX_TOP_LOGPROBS = 20;

/** The k most likely entries of a distribution, most likely first (one pass, no full sort). */
export function mostLikely<T>(probs: ReadonlyMap<T, number>, k: number): Array<[T, number]> {
  const top: Array<[T, number]> = [];
  for (const e of probs) {
    if (top.length === k && e[1] <= top[k - 1]![1]) continue;
    let i = Math.min(top.length, k - 1);
    while (i > 0 && top[i - 1]![1] < e[1]) i--;
    top.splice(i, 0, e);
    if (top.length > k) top.pop();
  }
  return top;
}

const silentByModel = new WeakMap<LlamaModel, Map<Token, boolean>>();

/**
 * Tokens that mark text boundaries rather than carry text: BOS, EOS, EOT, SEP and the unknown
 * token. Generated, they are kept in the context but never become text ("<s>" mid-story).
 * Other special tokens stay visible: thinking formats (harmony, OpenThinker) are made of them.
 */
function isSilentToken(model: LlamaModel, token: Token): boolean {
  let known = silentByModel.get(model);
  if (!known) silentByModel.set(model, (known = new Map()));
  let silent = known.get(token);
  if (silent === undefined) {
    const t = model.tokens;
    silent = token === t.bos || token === t.eos || token === t.eot || token === t.sep || model.getTokenAttributes(token).unknown;
    known.set(token, silent);
  }
  return silent;
}

export class LocalBackend implements Backend {
  readonly name: string;
  readonly modelPath: string;
  private readonly pool: LocalModelPool;
  private readonly contextSize?: number;
  private readonly sequenceCount?: number;
  private readonly kvCache?: KvCachePrecision;
  private readonly thinkTags: { open: string; close: string };
  private readonly reasoningEffort?: string;
  private leasePromise?: Promise<ModelLease>;
  private format: ChatFormat = { kind: "plain" };
  private closed = false;

  constructor(options: LocalBackendOptions) {
    this.name = options.name;
    this.modelPath = options.modelPath;
    this.pool = options.pool ?? LocalModelPool.shared();
    this.contextSize = options.contextSize;
    this.sequenceCount = options.sequences;
    this.kvCache = options.kvCache;
    this.thinkTags = options.thinkTags ?? { open: "<think>", close: "</think>" };
    this.reasoningEffort = options.reasoningEffort;
  }

  /** Variables the chat template reads beyond its messages. */
  private templateVars(effort: string | undefined): Record<string, string> {
    const e = effort ?? this.reasoningEffort;
    return e ? { reasoning_effort: e } : {};
  }

  /** Load the model now (otherwise the first request does). */
  async load(): Promise<ModelLease> {
    if (this.closed) throw new BackendError(`model ${this.name} is closed`, this.name);
    this.leasePromise ??= this.pool
      .acquire(this.modelPath, { contextSize: this.contextSize, sequences: this.sequenceCount, kvCache: this.kvCache })
      .then((lease) => {
        this.format = chatFormatFor(lease.model);
        return lease;
      });
    try {
      return await this.leasePromise;
    } catch (err) {
      this.leasePromise = undefined;
      throw err;
    }
  }

  /** Tokens per sequence actually used. */
  async getContextSize(): Promise<number> {
    return (await this.load()).context.contextSize;
  }

  async countTokens(text: string): Promise<number> {
    const { model } = await this.load();
    return model.tokenize(text, false).length;
  }

  async close(): Promise<void> {
    this.closed = true;
    const lease = this.leasePromise;
    this.leasePromise = undefined;
    if (lease) await (await lease.catch(() => undefined))?.release();
  }

  // ---- evaluation on a sequence slot -------------------------------------------------------

  /** Drop cached tokens from index `keep` on. */
  private async rewind(slot: SequenceSlot, keep: number): Promise<void> {
    const seq = slot.sequence;
    if (seq.nextTokenIndex > keep) await seq.eraseContextTokenRanges([{ start: keep, end: seq.nextTokenIndex }]);
    slot.tokens.length = keep;
    slot.logprobs.length = keep;
  }

  /**
   * Evaluate `tokens` after what the slot holds; `wants[i]` asks for the next-token output
   * after tokens[i]. `known[i]` is the logprob of tokens[i], when already known.
   */
  private async feed(slot: SequenceSlot, tokens: Token[], wants: (NextRequest | undefined)[], known: (number | undefined)[] = []) {
    const input = tokens.map((t, i) => (wants[i] ? ([t, { generateNext: wants[i] }] as [Token, { generateNext: NextRequest }]) : t));
    try {
      const out = await slot.sequence.controlledEvaluate(input);
      slot.tokens.push(...tokens);
      tokens.forEach((_, i) => slot.logprobs.push(known[i]));
      return out;
    } catch (err) {
      // The KV cache may be half-written: forget it.
      await slot.sequence.clearHistory().catch(() => undefined);
      slot.tokens.length = 0;
      slot.logprobs.length = 0;
      throw new BackendError(`model ${this.name} failed to evaluate: ${oneLine(err)}`, this.name);
    }
  }

  private tooLong(what: string, n: number, ctx: number): BackendError {
    return new BackendError(`${what} is ${n} tokens, more than the ${ctx}-token context of model ${this.name}; shorten it or use a larger context`, this.name);
  }

  private samplingDefaults(model: LlamaModel): SampleParams {
    const s = (model.fileInfo.metadata as { general?: { sampling?: { temp?: number; top_k?: number; top_p?: number } } }).general?.sampling;
    return {
      temperature: typeof s?.temp === "number" ? s.temp : LLAMA_CPP_DEFAULTS.temperature,
      topK: typeof s?.top_k === "number" ? s.top_k : LLAMA_CPP_DEFAULTS.topK,
      topP: typeof s?.top_p === "number" ? s.top_p : LLAMA_CPP_DEFAULTS.topP,
    };
  }

  /** Whether the end of the prompt leaves a thinking block open. */
  private opensThink(model: LlamaModel, tokens: Token[]): boolean {
    const tail = model.detokenize(tokens.slice(-48), true);
    return tail.lastIndexOf(this.thinkTags.open) > tail.lastIndexOf(this.thinkTags.close);
  }

  private tokenText(model: LlamaModel, token: Token, before: readonly Token[]): string {
    if (isSilentToken(model, token)) return "";
    return model.detokenize([token], true, before.slice(-8));
  }

  /** A prompt's tokens; a fixed-bytes prompt this file cannot render fails with one line naming the model. */
  private tokensOf(model: LlamaModel, prompt: Prompt, effort: CompletionRequest["reasoningEffort"]): Token[] {
    try {
      return promptTokens(model, prompt, this.format, this.thinkTags.open, this.templateVars(effort));
    } catch (err) {
      if (prompt.kind === "chat" && prompt.exact)
        throw new BackendError(`model "${this.name}": ${(err as Error).message}`, this.name, undefined, false, "refused");
      throw err;
    }
  }

  // ---- stream ----------------------------------------------------------------------------

  async *stream(req: CompletionRequest): AsyncGenerator<StreamChunk, CompletionResult> {
    const lease = await this.load();
    const { model, sequences } = lease;
    const ctxSize = lease.context.contextSize;
    const prompt = this.tokensOf(model, req.prompt, req.reasoningEffort);
    if (prompt.length >= ctxSize) throw this.tooLong("the prompt", prompt.length, ctxSize);
    const defaults = this.samplingDefaults(model);
    const params: SampleParams = {
      temperature: req.temperature ?? defaults.temperature,
      topK: req.topK ?? defaults.topK,
      topP: req.topP ?? defaults.topP,
    };
    const greedy = params.temperature <= 0;
    const random = seededRandom(req.seed ?? randomInt(0, 2 ** 32));
    const wantLogprobs = req.logprobs === true;
    const topK = wantLogprobs ? Math.min(MAX_TOP_LOGPROBS, Math.max(0, req.topLogprobs ?? 0)) : 0;

    let text = "";
    let reasoning = "";
    const all: TokenLogprob[] = [];
    let pendingTokens: TokenLogprob[] = [];
    const stops = new StopMatcher(req.stop ?? []);
    const splitter = new ThinkSplitter(this.opensThink(model, prompt), this.thinkTags.open, this.thinkTags.close);
    const generated: Token[] = [];
    const history: Token[] = [...prompt];
    let undecoded: Token[] = [];
    let finish: FinishReason = "length";

    // Routes a piece of generated text through stop strings and think tags into chunks.
    const route = (piece: string, final: boolean): { chunks: StreamChunk[]; stopped: boolean } => {
      const { text: safe, stopped } = stops.push(piece);
      const tail = stopped || final ? (stopped ? "" : stops.flush()) : "";
      const parts = splitter.push(safe + tail);
      if (stopped || final) parts.push(...splitter.flush());
      const chunks: StreamChunk[] = [];
      for (const p of parts) {
        if (p.channel === "content") text += p.text;
        else reasoning += p.text;
        const chunk: StreamChunk = { channel: p.channel, text: p.text };
        if (wantLogprobs && pendingTokens.length) {
          chunk.tokens = pendingTokens;
          pendingTokens = [];
        }
        chunks.push(chunk);
      }
      if ((stopped || final) && wantLogprobs && pendingTokens.length) {
        chunks.push({ channel: splitter.inThink ? "reasoning" : "content", text: "", tokens: pendingTokens });
        pendingTokens = [];
      }
      return { chunks, stopped };
    };

    if (req.maxTokens <= 0) return { text, reasoning, ...(wantLogprobs ? { tokens: all } : {}), finishReason: "length" };
    const slot = await sequences.acquire(prompt, req.signal);
    try {
      const lcp = commonPrefixLength(slot.tokens, prompt);
      const reuse = Math.min(lcp, prompt.length - 1);
      let feedKnown: (number | undefined)[] = slot.logprobs.slice(reuse, lcp);
      await this.rewind(slot, reuse);
      let feedTokens = prompt.slice(reuse);
      // The k most likely tokens need the whole distribution, greedy or not.
      const next: NextRequest =
        greedy && !topK ? { token: true, confidence: wantLogprobs, options: RAW } : { ...(greedy ? { token: true } : {}), probabilities: true, options: RAW };
      for (;;) {
        if (req.signal?.aborted) {
          finish = "abort";
          break;
        }
        const wants: (NextRequest | undefined)[] = [];
        wants[feedTokens.length - 1] = next;
        const out = (await this.feed(slot, feedTokens, wants, feedKnown))[feedTokens.length - 1]?.next;
        if (req.signal?.aborted) {
          finish = "abort";
          break;
        }
        let token: Token | null | undefined;
        let logprob = NaN;
        if (greedy) {
          token = out?.token;
          if (out?.confidence !== undefined) logprob = Math.log(out.confidence);
          else if (token != null && out?.probabilities) logprob = Math.log(out.probabilities.get(token) ?? 0);
        } else if (out?.probabilities) {
          token = sampleToken(out.probabilities, params, random) as Token;
          logprob = Math.log(out.probabilities.get(token) ?? 0);
        }
        if (token == null || model.isEogToken(token)) {
          finish = "stop";
          break;
        }
        const before = history.slice(-8);
        history.push(token);
        generated.push(token);
        if (wantLogprobs) {
          const entry: TokenLogprob = { token: this.tokenText(model, token, before), logprob };
          if (topK && out?.probabilities)
            entry.top = mostLikely(out.probabilities, topK).map(([t, p]) => ({ token: this.tokenText(model, t, before), logprob: Math.log(p) }));
          all.push(entry);
          pendingTokens.push(entry);
        }
        // A sampled BOS (a tiny model starting its next story) stays in the context but is no text.
        if (!isSilentToken(model, token)) undecoded.push(token);
        const atLimit = generated.length >= req.maxTokens || slot.tokens.length + 1 >= ctxSize;
        feedTokens = [token];
        feedKnown = [Number.isFinite(logprob) ? logprob : undefined];
        const piece = undecoded.length ? model.detokenize(undecoded, true, history.slice(-8 - undecoded.length, -undecoded.length)) : "";
        // A multi-byte character split over tokens decodes to U+FFFD until it is complete.
        if (piece.endsWith("\uFFFD") && undecoded.length < 4 && !atLimit) continue;
        undecoded = [];
        const { chunks, stopped } = route(piece, false);
        for (const c of chunks) yield c;
        if (stopped) {
          finish = "stop";
          break;
        }
        if (atLimit) {
          finish = "length";
          break;
        }
      }
    } finally {
      sequences.release(slot);
    }
    const { chunks } = route(undecoded.length ? model.detokenize(undecoded, true, history.slice(-8 - undecoded.length, -undecoded.length)) : "", true);
    for (const c of chunks) yield c;
    return { text, reasoning, ...(wantLogprobs ? { tokens: all } : {}), finishReason: finish };
  }

  // ---- score -----------------------------------------------------------------------------

  async score(req: ScoreRequest): Promise<ScoreResult> {
    const lease = await this.load();
    const { model, sequences } = lease;
    const ctxSize = lease.context.contextSize;
    req.signal?.throwIfAborted();
    const prefix = this.tokensOf(model, req.prefix, undefined);
    const cands = req.candidates.map((c) => continuationTokens(model, c));
    const longest = Math.max(0, ...cands.map((c) => c.length));
    if (prefix.length + longest > ctxSize) throw this.tooLong("the prefix plus the longest candidate", prefix.length + longest, ctxSize);
    const P = prefix.length;
    const logp = (probs: Map<number, number> | undefined, t: Token) => Math.log(probs?.get(t) ?? 0);
    const raw: NextRequest = { probabilities: true, options: RAW };

    const slot = await sequences.acquire(prefix, req.signal);
    let evaluated = 0;
    try {
      const lcp = commonPrefixLength(slot.tokens, prefix);
      // The distribution after the last prefix token is not kept, so that token is always fed.
      let reuse = Math.min(lcp, P - 1);
      if (req.includePrefix) {
        // Cached prefix logprobs are usable only up to a position whose token still matches.
        reuse = Math.min(reuse, lcp - 1);
        let r = 1;
        while (r <= reuse && slot.logprobs[r] !== undefined) r++;
        reuse = Math.max(0, Math.min(reuse, r - 1));
      }
      // Logprobs already known for re-fed tokens that still match (the cache is cut below them).
      const knownBefore = slot.logprobs.slice(reuse, lcp);
      await this.rewind(slot, reuse);
      const feedPrefix = prefix.slice(reuse);
      const wants: (NextRequest | undefined)[] = feedPrefix.map((_, i) => (req.includePrefix || i === feedPrefix.length - 1 ? raw : undefined));
      const prefOut = await this.feed(slot, feedPrefix, wants, knownBefore);
      evaluated += feedPrefix.length;
      // Fill in the prefix logprobs just computed (position reuse+i+1 from output i).
      for (let i = 0; i < feedPrefix.length - 1; i++) {
        const probs = prefOut[i]?.next.probabilities;
        if (probs) slot.logprobs[reuse + i + 1] = logp(probs, prefix[reuse + i + 1]!);
      }
      const firstProbs = prefOut[feedPrefix.length - 1]?.next.probabilities;

      const results: ScoredText[] = [];
      for (const cand of cands) {
        req.signal?.throwIfAborted();
        await this.rewind(slot, P);
        const tokens: TokenLogprob[] = [];
        if (cand.length > 0) {
          const lps: number[] = [logp(firstProbs, cand[0]!)];
          const candWants = cand.map((_, i) => (i < cand.length - 1 ? raw : undefined));
          // Every candidate token is fed (the last one too) so that a later prefix that
          // continues with this candidate finds it in the cache.
          const out = await this.feed(slot, cand, candWants, []);
          evaluated += cand.length;
          for (let i = 1; i < cand.length; i++) lps.push(logp(out[i - 1]?.next.probabilities, cand[i]!));
          lps.forEach((lp, i) => {
            slot.logprobs[P + i] = lp;
            tokens.push({ token: this.tokenText(model, cand[i]!, [...prefix, ...cand.slice(0, i)]), logprob: lp });
          });
        }
        const scored: ScoredText = { tokens };
        if (req.includePrefix) {
          scored.prefixTokens = prefix.slice(1).map((t, i) => ({
            token: this.tokenText(model, t, prefix.slice(0, i + 1)),
            logprob: slot.logprobs[i + 1] ?? NaN,
          }));
        }
        results.push(scored);
      }
      return { candidates: results, evaluatedTokens: evaluated };
    } finally {
      sequences.release(slot);
    }
  }

  // ---- probe -----------------------------------------------------------------------------

  async probe(signal?: AbortSignal): Promise<Capabilities> {
    const lease = await this.load();
    return probeLocal({ stream: (r) => this.stream(r), score: (r) => this.score(r), format: this.format, thinkOpen: this.thinkTags.open }, lease, signal);
  }
}

/**
 * A LocalBackend for a model spec (local path, `hf:` URI or URL): the file is resolved first,
 * downloading it into the models folder when needed (see download.ts).
 */
export async function openLocalBackend(
  options: Omit<LocalBackendOptions, "modelPath"> & { model: string },
  resolve: ResolveModelOptions = {},
): Promise<LocalBackend> {
  const { model, ...rest } = options;
  const modelPath = await resolveModelFile(model, resolve);
  return new LocalBackend({ ...rest, modelPath });
}
