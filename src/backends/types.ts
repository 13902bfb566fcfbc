// The one small interface every model backend implements. Backends know nothing of problems,
// chains or screens: they stream completions, score given text, and say what they can do.
import type { ChatMessage, TokenLogprob } from "../core/types.js";

export type { ChatMessage, TokenLogprob };

/**
 * What the model sees. `chat`: the backend applies the model's chat template to `messages`
 * with a generation prompt, then appends `assistantPrefix` verbatim (prefill: an open or
 * closed thinking block, a partial answer). `raw`: the text is the whole prompt, no template.
 */
export type Prompt = { kind: "chat"; messages: ChatMessage[]; assistantPrefix?: string; exact?: ExactPrompt } | { kind: "raw"; text: string };

/**
 * A chat prompt whose bytes are fixed (the paper reading's requests): the model's own chat
 * template is rendered by the backend with a generation prompt and these extra variables
 * (gpt-oss's `model_identity`, `reasoning_effort`), and `assistantPrefix` is appended exactly,
 * with no tag de-duplication and never the server's own rendering. A backend that has no
 * template to render fails, naming what to configure.
 */
export interface ExactPrompt {
  vars: Record<string, string>;
  /** Marker texts in the prefix that are the model's control tokens (the rest is plain text). */
  markers: string[];
}

export interface SamplingOptions {
  maxTokens: number;
  /** 0 = greedy. Undefined = the model's default. */
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
  /** A reasoning model's effort (the profile's when absent); only servers that take it are sent it. */
  reasoningEffort?: "low" | "medium" | "high";
}

/**
 * Told how a server answers, by the backend that talks to it (the concurrency limits adapt to
 * it). Not part of what a request asks: caches and recordings ignore it.
 */
export interface LoadObserver {
  /** The server answered: `first-token` of a stream, or a whole `answer` (scoring). */
  latency(kind: "first-token" | "answer", ms: number): void;
  /** The server refused for load (429, 503), with its Retry-After when it gave one. */
  overloaded(retryAfterMs: number | undefined): void;
}

export interface CompletionRequest extends SamplingOptions {
  prompt: Prompt;
  /** Ask for the log-probability of every generated token. */
  logprobs?: boolean;
  /** With logprobs: also the k most likely tokens at each position (as far as the backend gives them). */
  topLogprobs?: number;
  signal?: AbortSignal;
  observe?: LoadObserver;
}

/** One piece of a streaming completion. */
export interface StreamChunk {
  /** `reasoning`: thinking text (from a reasoning field or an inline <think> block). */
  channel: "content" | "reasoning";
  text: string;
  /** Present when logprobs were asked for and the backend gives them, one per token. */
  tokens?: TokenLogprob[];
}

export type FinishReason = "stop" | "length" | "abort";

export interface CompletionResult {
  text: string;
  reasoning: string;
  /** Per generated token, when logprobs were asked for and given (content and reasoning, in order). */
  tokens?: TokenLogprob[];
  finishReason: FinishReason;
}

export interface ScoreRequest {
  /** The context the candidates follow (template applied as for completions). */
  prefix: Prompt;
  /** Candidate texts, each appended directly after the prefix. */
  candidates: string[];
  /** Also return the log-probabilities of the prefix tokens (paper-compatible perplexity). */
  includePrefix?: boolean;
  signal?: AbortSignal;
  observe?: LoadObserver;
}

export interface ScoredText {
  /** Log-probability of each candidate token given prefix + earlier candidate tokens. */
  tokens: TokenLogprob[];
  /** Prefix tokens (first one without context is omitted), when includePrefix was set. */
  prefixTokens?: TokenLogprob[];
}

export interface ScoreResult {
  candidates: ScoredText[];
  /** How many tokens the backend actually evaluated for this request (prefix reuse shows here). */
  evaluatedTokens: number;
  /** Prompt tokens a server served from its prefix cache, where it reports them. */
  cachedTokens?: number;
}

/** What a model actually did when asked; recorded by `concord models probe`. */
export interface Capabilities {
  streaming: boolean;
  tokenLogprobs: boolean;
  /** Can score given text after a prefix (what an evaluator needs). */
  promptScoring: boolean;
  /** Can continue a partial final assistant message / thinking block. */
  prefill: boolean;
  /** Where thinking text arrives: a response field name, "inline" <think> tags, or null. */
  reasoningField: "reasoning" | "reasoning_content" | "thinking" | "inline" | null;
  /** Free-form notes from the probe (what was refused and how). */
  notes: string[];
}

export interface Backend {
  /** Short profile name, used in errors, recordings and cache keys. */
  readonly name: string;
  /** Stream a completion; the generator's return value is the whole result. */
  stream(req: CompletionRequest): AsyncGenerator<StreamChunk, CompletionResult>;
  /** Score candidate texts after one shared prefix. */
  score(req: ScoreRequest): Promise<ScoreResult>;
  /** Ask the model small real questions and report what works. */
  probe(signal?: AbortSignal): Promise<Capabilities>;
  /** Number of tokens a text takes (for budgets and prefix/candidate splits). */
  countTokens?(text: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * What a server's refusal meant, read from what it said (not only its status): a prompt longer
 * than the context is not a refused feature, and neither is a page that is not the API.
 */
export type BackendErrorKind = "context-overflow" | "refused" | "auth" | "not-found" | "not-api" | "unreachable" | "timeout" | "too-large" | "server";

/** An error with a one-line, user-facing message naming the model. Never carries secrets. */
export class BackendError extends Error {
  constructor(
    message: string,
    readonly model: string,
    readonly status?: number,
    readonly retryable = false,
    readonly kind?: BackendErrorKind,
  ) {
    super(message);
    this.name = "BackendError";
  }
}

/** Drain a stream into its final result, forwarding chunks. */
export async function collect(gen: AsyncGenerator<StreamChunk, CompletionResult>, onChunk?: (c: StreamChunk) => void): Promise<CompletionResult> {
  for (;;) {
    const next = await gen.next();
    if (next.done) return next.value;
    onChunk?.(next.value);
  }
}

/**
 * `inner` with its model calls (stream, score) passed through `calls`; probes, token counts and
 * close go straight to it. For wrappers that watch or count requests without changing them.
 */
export function passThrough(inner: Backend, calls: Pick<Backend, "stream" | "score">): Backend {
  return {
    name: inner.name,
    stream: (req) => calls.stream(req),
    score: (req) => calls.score(req),
    probe: (signal) => inner.probe(signal),
    ...(inner.countTokens ? { countTokens: (text: string) => inner.countTokens!(text) } : {}),
    close: () => inner.close(),
  };
}
