// ScriptedBackend: a deterministic test double (not a model). It streams text chosen by a
// script, one word-sized token every `tokenDelayMs`, scores candidates with a scripted
// log-probability per token, honours AbortSignal, and counts open streams so tests can prove
// that cancellation leaves nothing running.
import type {
  Backend,
  Capabilities,
  CompletionRequest,
  CompletionResult,
  Prompt,
  ScoreRequest,
  ScoreResult,
  StreamChunk,
  TokenLogprob,
} from "../../src/backends/types.js";

export interface ScriptedBackendOptions {
  name: string;
  /** The whole text a request would produce; `call` counts this backend's stream calls from 0. */
  respond: (req: CompletionRequest, call: number) => string;
  /** Delay before each token (ms). */
  tokenDelayMs?: number | ((call: number) => number);
  /** Log-probability given to every token of a scored candidate. */
  logprobFor?: (candidate: string, prefix: Prompt) => number;
  scoreDelayMs?: number;
}

/** Word-sized tokens that keep their leading whitespace, so joining them gives the text back. */
export function scriptedTokens(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? [];
}

export function promptText(p: Prompt): string {
  return p.kind === "raw" ? p.text : p.messages.map((m) => m.content).join("\n") + (p.assistantPrefix ?? "");
}

export class ScriptedBackend implements Backend {
  readonly name: string;
  openStreams = 0;
  maxOpenStreams = 0;
  openScores = 0;
  streamCalls: CompletionRequest[] = [];
  scoreCalls: ScoreRequest[] = [];
  abortedStreams = 0;
  abortedScores = 0;
  private calls = 0;

  constructor(private opts: ScriptedBackendOptions) {
    this.name = opts.name;
  }

  private delay(ms: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve(false);
      const t = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve(true);
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        resolve(false);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  async *stream(req: CompletionRequest): AsyncGenerator<StreamChunk, CompletionResult> {
    const call = this.calls++;
    this.streamCalls.push(req);
    const full = this.opts.respond(req, call);
    const tokens = scriptedTokens(full).slice(0, req.maxTokens);
    const d = this.opts.tokenDelayMs;
    const delay = typeof d === "function" ? d(call) : (d ?? 0);
    this.openStreams++;
    this.maxOpenStreams = Math.max(this.maxOpenStreams, this.openStreams);
    let text = "";
    const out: TokenLogprob[] = [];
    let finishReason: CompletionResult["finishReason"] = "stop";
    try {
      for (const t of tokens) {
        if (!(await this.delay(delay, req.signal))) {
          finishReason = "abort";
          this.abortedStreams++;
          break;
        }
        text += t;
        const tok = { token: t, logprob: -1 };
        out.push(tok);
        yield { channel: "content", text: t, tokens: req.logprobs ? [tok] : undefined };
      }
      if (finishReason !== "abort" && tokens.length < scriptedTokens(full).length) finishReason = "length";
      return { text, reasoning: "", tokens: req.logprobs ? out : undefined, finishReason };
    } finally {
      this.openStreams--;
    }
  }

  async score(req: ScoreRequest): Promise<ScoreResult> {
    this.scoreCalls.push(req);
    this.openScores++;
    try {
      if (!(await this.delay(this.opts.scoreDelayMs ?? 0, req.signal))) {
        this.abortedScores++;
        const err = new Error("score aborted");
        err.name = "AbortError";
        throw err;
      }
      const lp = this.opts.logprobFor ?? (() => -1);
      const prefixTokens = scriptedTokens(promptText(req.prefix));
      return {
        candidates: req.candidates.map((c) => ({
          tokens: scriptedTokens(c).map((token) => ({ token, logprob: lp(c, req.prefix) })),
          prefixTokens: req.includePrefix ? prefixTokens.slice(1).map((token) => ({ token, logprob: -2 })) : undefined,
        })),
        evaluatedTokens: prefixTokens.length + req.candidates.reduce((s, c) => s + scriptedTokens(c).length, 0),
      };
    } finally {
      this.openScores--;
    }
  }

  async probe(): Promise<Capabilities> {
    return { streaming: true, tokenLogprobs: true, promptScoring: true, prefill: true, reasoningField: null, notes: ["scripted test double"] };
  }

  async countTokens(text: string): Promise<number> {
    return scriptedTokens(text).length;
  }

  async close(): Promise<void> {}
}
