// PacedBackend: an in-process test double (not a model) that streams a fixed text, one
// word-sized token at a fixed rate, and scores every candidate token at a fixed logprob.
// In-process so that the process's CPU time is the engine's and the interface's, not an HTTP
// server's; nearly free, so what it costs is the floor the interface benchmark subtracts.
import type {
  Backend,
  Capabilities,
  CompletionRequest,
  CompletionResult,
  ScoreRequest,
  ScoreResult,
  StreamChunk,
  TokenLogprob,
} from "../src/backends/types.js";

export interface PacedBackendOptions {
  name: string;
  /** Tokens per second of every stream. */
  tokensPerSecond: number;
  /** The whole text a stream produces (split into word-sized tokens). */
  text: string;
  /** Log-probability of every scored token. */
  logprob?: number;
  /** Awaited before the last token: the stream stays open until it resolves. */
  holdLast?: () => Promise<void>;
  /** "reasoning": every token comes on the reasoning channel, as a thinking model's server sends them. */
  channel?: "content" | "reasoning";
}

export function wordTokens(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? [];
}

export class PacedBackend implements Backend {
  readonly name: string;
  streams = 0;
  tokensSent = 0;
  scoreCalls = 0;

  constructor(private readonly opts: PacedBackendOptions) {
    this.name = opts.name;
  }

  async *stream(req: CompletionRequest): AsyncGenerator<StreamChunk, CompletionResult> {
    this.streams++;
    const tokens = wordTokens(this.opts.text).slice(0, req.maxTokens);
    const interval = 1000 / this.opts.tokensPerSecond;
    const start = performance.now();
    let text = "";
    const all: TokenLogprob[] = [];
    for (let i = 0; i < tokens.length; i++) {
      // Drift-corrected: token i is due at start + i * interval.
      const wait = start + (i + 1) * interval - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (i === tokens.length - 1 && this.opts.holdLast) await this.opts.holdLast();
      if (req.signal?.aborted) return { ...this.result(text), finishReason: "abort" };
      const t = tokens[i]!;
      text += t;
      this.tokensSent++;
      const tok = { token: t, logprob: -1 };
      all.push(tok);
      yield { channel: this.opts.channel ?? "content", text: t, ...(req.logprobs ? { tokens: [tok] } : {}) };
    }
    return { ...this.result(text), ...(req.logprobs ? { tokens: all } : {}), finishReason: tokens.length >= req.maxTokens ? "length" : "stop" };
  }

  private result(text: string): { text: string; reasoning: string } {
    return this.opts.channel === "reasoning" ? { text: "", reasoning: text } : { text, reasoning: "" };
  }

  async score(req: ScoreRequest): Promise<ScoreResult> {
    this.scoreCalls++;
    req.signal?.throwIfAborted();
    const lp = this.opts.logprob ?? -1.5;
    const candidates = req.candidates.map((c) => ({ tokens: wordTokens(c).map((token) => ({ token, logprob: lp })) }));
    return { candidates, evaluatedTokens: candidates.reduce((s, c) => s + c.tokens.length, 0) };
  }

  async probe(): Promise<Capabilities> {
    return { streaming: true, tokenLogprobs: true, promptScoring: true, prefill: true, reasoningField: null, notes: ["paced test double"] };
  }

  async close(): Promise<void> {}
}
