// A small backend that is deterministic where a real model is: the same prompt with greedy
// decoding or a fixed seed gives the same words; a sampled request without a seed gives new words
// each call. Counts every call, so tests can see what reached "the model".
import { createHash } from "node:crypto";
import {
  BackendError,
  type Backend,
  type Capabilities,
  type CompletionRequest,
  type CompletionResult,
  type ScoreRequest,
  type ScoreResult,
  type StreamChunk,
  type TokenLogprob,
} from "../../src/backends/types.js";

const WORDS = ["the", "cat", "sat", "on", "a", "mat", "and", "then", "slept", "all", "day", "long"];

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

export interface DeterministicOptions {
  /** Wait this many ms before each chunk (to give a stream real timing). */
  chunkDelayMs?: number;
  /** Throw this message (as a BackendError) from every stream and score call. */
  failWith?: string;
}

export class DeterministicTextBackend implements Backend {
  calls = { stream: 0, score: 0, probe: 0 };
  /** Streams started and not yet finished or closed. */
  open = 0;
  closed = false;
  private sampled = 0;

  constructor(
    readonly name = "deterministic",
    private readonly options: DeterministicOptions = {},
  ) {}

  async *stream(req: CompletionRequest): AsyncGenerator<StreamChunk, CompletionResult> {
    this.calls.stream++;
    if (this.options.failWith) throw new BackendError(this.options.failWith, this.name);
    const sampledWithoutSeed = req.temperature !== 0 && req.seed === undefined;
    const salt = sampledWithoutSeed ? `#${this.sampled++}` : "";
    const h = digest(JSON.stringify([req.prompt, req.temperature, req.topK, req.topP, req.seed]) + salt);
    const n = Math.min(req.maxTokens, 3 + (h[0] % 6));
    let text = "";
    const tokens: TokenLogprob[] = [];
    this.open++;
    try {
      for (let i = 0; i < n; i++) {
        if (this.options.chunkDelayMs) await new Promise((r) => setTimeout(r, this.options.chunkDelayMs));
        if (req.signal?.aborted) return { text, reasoning: "", finishReason: "abort" };
        const word = WORDS[h[i + 1] % WORDS.length];
        const piece = i === 0 ? word : ` ${word}`;
        if (req.stop?.some((s) => (text + piece).includes(s))) return { text, reasoning: "", finishReason: "stop" };
        text += piece;
        const tok = { token: piece, logprob: -(h[i + 10] / 64) };
        tokens.push(tok);
        yield { channel: "content", text: piece, ...(req.logprobs ? { tokens: [tok] } : {}) };
      }
      return { text, reasoning: "", ...(req.logprobs ? { tokens } : {}), finishReason: n < req.maxTokens ? "stop" : "length" };
    } finally {
      this.open--;
    }
  }

  async score(req: ScoreRequest): Promise<ScoreResult> {
    this.calls.score++;
    if (this.options.failWith) throw new BackendError(this.options.failWith, this.name);
    req.signal?.throwIfAborted();
    const prefix = JSON.stringify(req.prefix);
    const candidates = req.candidates.map((c) => {
      const pieces = c.match(/\S+\s*|\s+/g) ?? [];
      const tokens = pieces.map((token, i) => ({ token, logprob: -(digest(`${prefix}|${c}|${i}`)[0] / 32) }));
      return req.includePrefix ? { tokens, prefixTokens: [{ token: "P", logprob: -1 }] } : { tokens };
    });
    return { candidates, evaluatedTokens: candidates.reduce((s, c) => s + c.tokens.length, 0) };
  }

  async probe(): Promise<Capabilities> {
    this.calls.probe++;
    return { streaming: true, tokenLogprobs: true, promptScoring: true, prefill: true, reasoningField: null, notes: ["deterministic test backend"] };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
