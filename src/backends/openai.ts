// The backend for any OpenAI-compatible server (vLLM, SGLang, llama-server, Ollama, hosted
// APIs), through the `openai` client. Servers differ in exactly what Concord needs (scoring,
// prefill, reasoning fields), so each feature picks its wire method from the probed record,
// else the server's flavor, and refusals become one-line BackendErrors naming the model.
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import type { ModelProfile, ProbeRecord, Flavor, PrefillMethod, ScoringMethod } from "../config/profile.js";
import { oneLine } from "../errors.js";
import {
  BackendError,
  collect,
  type Backend,
  type Capabilities,
  type ChatMessage,
  type CompletionRequest,
  type CompletionResult,
  type Prompt,
  type ScoreRequest,
  type ScoreResult,
  type ScoredText,
  type StreamChunk,
  type TokenLogprob,
} from "./types.js";

export interface OpenAIBackendOptions {
  /** Where the key variable named by the profile is read. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Per request: time to the response headers, and for streams the longest silence between chunks. */
  timeoutMs?: number;
  /** Retries on 408/409/429/5xx and refused connections, before any text arrived. */
  maxRetries?: number;
  /** Longest Retry-After the backend will wait; a longer one fails at once (retryable). */
  maxRetryDelayMs?: number;
  /** The probe record to plan with (default: profile.capabilities). */
  capabilities?: ProbeRecord;
}

type Json = Record<string, unknown>;

const HOST_FLAVORS: Array<[RegExp, Flavor]> = [
  [/(^|\.)api\.openai\.com$/, "openai"],
  [/(^|\.)openrouter\.ai$/, "openrouter"],
  [/(^|\.)together\.(xyz|ai)$/, "together"],
  [/(^|\.)deepseek\.com$/, "deepseek"],
];

const PREFILL_BY_FLAVOR: Record<Flavor, PrefillMethod> = {
  vllm: "continue_final_message",
  sglang: "continue_final_message",
  "llama-server": "trailing_assistant",
  ollama: "trailing_assistant",
  lmstudio: "trailing_assistant",
  openrouter: "trailing_assistant",
  together: "trailing_assistant",
  deepseek: "deepseek_prefix",
  openai: "none",
  unknown: "trailing_assistant",
};

const SCORING_BY_FLAVOR: Record<Flavor, ScoringMethod> = {
  vllm: "prompt_logprobs",
  sglang: "sglang_generate",
  together: "echo",
  unknown: "echo",
  "llama-server": "none",
  ollama: "none",
  lmstudio: "none",
  openrouter: "none",
  deepseek: "none",
  openai: "none",
};

/** Flavors that reject unknown sampling fields such as top_k. */
const STRICT_PARAMS = new Set<Flavor>(["openai", "deepseek"]);

/** Server answers that mean "this feature is not here" rather than "try again". */
const REFUSAL = /only no echo|not supported|unsupported|unrecognized request argument|incompatible with/i;

const THINK_TAGS: Record<string, Array<[string, string]>> = {
  "think-tags": [["<think>", "</think>"]],
  openthinker: [["<|begin_of_thought|>", "<|end_of_thought|>"]],
  harmony: [["<|channel|>analysis<|message|>", "<|end|>"]],
};

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/**
 * Splits streamed content into thinking and answer by inline tags, even when a tag is cut
 * across chunks: a tail that could be the start of a tag is held back until the next piece.
 */
export class InlineThinkSplitter {
  private buf = "";
  constructor(
    private readonly open: string,
    private readonly close: string,
    private inside = false,
  ) {}

  push(text: string): Array<{ channel: "content" | "reasoning"; text: string }> {
    this.buf += text;
    const out: Array<{ channel: "content" | "reasoning"; text: string }> = [];
    for (;;) {
      const tag = this.inside ? this.close : this.open;
      const i = this.buf.indexOf(tag);
      if (i >= 0) {
        if (i > 0) out.push({ channel: this.inside ? "reasoning" : "content", text: this.buf.slice(0, i) });
        this.buf = this.buf.slice(i + tag.length);
        this.inside = !this.inside;
        continue;
      }
      let keep = 0;
      for (let k = Math.min(tag.length - 1, this.buf.length); k > 0; k--) {
        if (tag.startsWith(this.buf.slice(this.buf.length - k))) {
          keep = k;
          break;
        }
      }
      const emit = this.buf.slice(0, this.buf.length - keep);
      if (emit) out.push({ channel: this.inside ? "reasoning" : "content", text: emit });
      this.buf = this.buf.slice(this.buf.length - keep);
      return out;
    }
  }

  flush(): Array<{ channel: "content" | "reasoning"; text: string }> {
    const rest = this.buf;
    this.buf = "";
    return rest ? [{ channel: this.inside ? "reasoning" : "content", text: rest }] : [];
  }
}

/** Does `prefix` leave a thinking block open (so the continuation starts inside it)? */
function opensThinking(prefix: string, open: string, close: string): boolean {
  const o = prefix.lastIndexOf(open);
  return o >= 0 && prefix.indexOf(close, o + open.length) < 0;
}

export class OpenAIBackend implements Backend {
  readonly name: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly maxRetryDelayMs: number;
  private caps: ProbeRecord | undefined;
  private clientCache: OpenAI | undefined;
  private flavorPromise: Promise<Flavor> | undefined;
  private modelPromise: Promise<string> | undefined;
  /** Error bodies by response headers object: the client drops bodies that are not `{error: ...}` (vLLM's). */
  private readonly errorBodies = new WeakMap<object, string>();
  private prefillOverride: PrefillMethod | undefined;
  /** Set by the last stream(): where its thinking text came from. */
  private lastReasoningSource: Capabilities["reasoningField"] = null;

  constructor(
    readonly profile: ModelProfile,
    opts: OpenAIBackendOptions = {},
  ) {
    this.name = profile.name;
    this.env = opts.env ?? process.env;
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.maxRetries = opts.maxRetries ?? 3;
    this.maxRetryDelayMs = opts.maxRetryDelayMs ?? 60_000;
    this.caps = opts.capabilities ?? profile.capabilities;
  }

  /** The base URL without its trailing /v1: where /tokenize, /version, /props live. */
  get serverRoot(): string {
    return this.baseURL.replace(/\/+$/, "").replace(/\/v1$/, "");
  }

  get baseURL(): string {
    return (this.profile.baseURL ?? "https://api.openai.com/v1").replace(/\/+$/, "");
  }

  private get apiKey(): string | undefined {
    const name = this.profile.apiKeyEnv;
    return name ? this.env[name] || undefined : undefined;
  }

  private client(): OpenAI {
    if (this.clientCache) return this.clientCache;
    const name = this.profile.apiKeyEnv;
    if (name && !this.env[name]) throw new BackendError(`model "${this.name}": environment variable ${name} (its API key) is not set`, this.name);
    const bodies = this.errorBodies;
    this.clientCache = new OpenAI({
      baseURL: this.baseURL,
      // Local servers want some bearer token or none; "sk-no-key" is what llama.cpp's docs use.
      apiKey: this.apiKey ?? "sk-no-key",
      maxRetries: 0, // retried here, so waits honour Retry-After and stay abortable
      timeout: this.timeoutMs,
      logLevel: "off",
      fetch: async (url: string | URL | Request, init?: RequestInit) => {
        const res = await fetch(url, init);
        if (!res.ok) {
          try {
            bodies.set(res.headers, await res.clone().text());
          } catch {
            // body unreadable: the status alone will do
          }
        }
        return res;
      },
    });
    return this.clientCache;
  }

  // ------------------------------------------------------------ errors and retries

  /** Remove the key (and any bearer token) from text that came from a server. */
  redact(text: string): string {
    let out = text;
    const key = this.apiKey;
    if (key && key.length >= 4) out = out.split(key).join("[redacted]");
    return out.replace(/(Bearer\s+)[^\s"',;)]+/gi, "$1[redacted]");
  }

  private serverMessage(err: APIError): string {
    const raw = err.headers ? this.errorBodies.get(err.headers) : undefined;
    let msg: string | undefined;
    if (raw) {
      try {
        const j = JSON.parse(raw) as Json;
        const e = j.error as Json | string | undefined;
        msg =
          typeof e === "string" ? e
          : e && typeof e.message === "string" ? e.message
          : typeof j.message === "string" ? j.message
          : typeof j.detail === "string" ? j.detail
          : raw;
      } catch {
        msg = raw;
      }
    }
    msg ??= (err.error as Json | undefined)?.message as string | undefined;
    msg ??= err.message;
    return oneLine(this.redact(String(msg))).slice(0, 300);
  }

  private toBackendError(err: unknown, what: string): BackendError {
    if (err instanceof BackendError) return err;
    const who = `model "${this.name}"`;
    if (err instanceof APIUserAbortError) return new BackendError(`${who}: ${what} aborted`, this.name);
    if (err instanceof APIConnectionTimeoutError)
      return new BackendError(`${who}: no answer from ${this.baseURL} within ${Math.round(this.timeoutMs / 100) / 10} s (${what})`, this.name, undefined, true);
    if (err instanceof APIConnectionError) {
      const cause = (err as { cause?: { cause?: { code?: string }; message?: string } }).cause;
      const detail = cause?.cause?.code ?? cause?.message ?? "connection failed";
      return new BackendError(`${who}: cannot reach ${this.baseURL} (${this.redact(oneLine(detail))}) during ${what}`, this.name, undefined, true);
    }
    if (err instanceof APIError) {
      const status = err.status;
      let hint = "";
      if (status === 401 || status === 403)
        hint = this.profile.apiKeyEnv ? `; check the key in $${this.profile.apiKeyEnv}` : "; the server wants an API key: set apiKeyEnv in the profile";
      const retryable = status === undefined || status === 408 || status === 409 || status === 429 || status >= 500;
      const head = status ? `HTTP ${status}` : "error in stream";
      return new BackendError(`${who}: ${head} from server: ${this.serverMessage(err)} (${what})${hint}`, this.name, status, retryable);
    }
    if (err instanceof SyntaxError)
      return new BackendError(`${who}: malformed data from server during ${what}: ${this.redact(oneLine(err)).slice(0, 200)}`, this.name, undefined, true);
    const msg = this.redact(oneLine(err)).slice(0, 300);
    return new BackendError(`${who}: ${what} failed: ${msg}`, this.name, undefined, true);
  }

  private retryDelay(err: unknown, attempt: number): number | "give-up" {
    if (err instanceof APIUserAbortError || err instanceof APIConnectionTimeoutError) return "give-up";
    if (err instanceof APIConnectionError) return Math.min(500 * 2 ** attempt, 8000);
    if (!(err instanceof APIError) || err.status === undefined) return "give-up";
    const s = err.status;
    if (!(s === 408 || s === 409 || s === 429 || s >= 500)) return "give-up";
    if (REFUSAL.test(this.serverMessage(err))) return "give-up";
    const h = err.headers;
    const ms = h?.get("retry-after-ms");
    if (ms && !Number.isNaN(parseFloat(ms))) return parseFloat(ms);
    const ra = h?.get("retry-after");
    if (ra) {
      const secs = parseFloat(ra);
      const wait = !Number.isNaN(secs) ? secs * 1000 : Date.parse(ra) - Date.now();
      if (!Number.isNaN(wait)) return Math.max(0, wait);
    }
    return Math.min(500 * 2 ** attempt, 8000) * (1 - Math.random() * 0.25);
  }

  /** Run one HTTP call with retries; `fn` gets the signal to pass to the client. */
  private async call<T>(what: string, signal: AbortSignal | undefined, fn: (client: OpenAI) => Promise<T>): Promise<T> {
    const client = this.client();
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn(client);
      } catch (err) {
        if (signal?.aborted) throw new BackendError(`model "${this.name}": ${what} aborted`, this.name);
        const delay = this.retryDelay(err, attempt);
        if (delay === "give-up" || attempt >= this.maxRetries) throw this.toBackendError(err, what);
        if (delay > this.maxRetryDelayMs) {
          const be = this.toBackendError(err, what);
          throw new BackendError(`${be.message}; the server asks to wait ${Math.round(delay / 1000)} s`, this.name, be.status, true);
        }
        try {
          await sleep(delay, signal);
        } catch {
          throw new BackendError(`model "${this.name}": ${what} aborted`, this.name);
        }
      }
    }
  }

  private post<T = Json>(path: string, body: Json, what: string, signal?: AbortSignal, opts: { retries?: boolean; timeoutMs?: number } = {}): Promise<T> {
    const url = path.startsWith("/v1/") ? this.baseURL + path.slice(3) : this.serverRoot + path;
    const run = (c: OpenAI) => c.post<T>(url, { body, signal, timeout: opts.timeoutMs ?? this.timeoutMs }) as Promise<T>;
    if (opts.retries === false) {
      return run(this.client()).catch((err) => {
        throw this.toBackendError(err, what);
      });
    }
    return this.call(what, signal, run);
  }

  // ------------------------------------------------------------ server facts

  /** The server kind: the profile's, the probe's, the host's, else asked of the server itself. */
  flavor(signal?: AbortSignal): Promise<Flavor> {
    const known = this.profile.flavor ?? this.caps?.flavor;
    if (known) return Promise.resolve(known);
    let host = "";
    try {
      host = new URL(this.baseURL).hostname;
    } catch {
      // validated at load; unreachable
    }
    for (const [re, f] of HOST_FLAVORS) if (re.test(host)) return Promise.resolve(f);
    this.flavorPromise ??= this.detectFlavor(signal);
    return this.flavorPromise;
  }

  private async detectFlavor(signal?: AbortSignal): Promise<Flavor> {
    const client = this.client();
    const get = async (path: string): Promise<Json | undefined> => {
      try {
        const r = (await client.get(this.serverRoot + path, { signal, timeout: Math.min(this.timeoutMs, 5000), maxRetries: 0 })) as unknown;
        return r && typeof r === "object" ? (r as Json) : undefined;
      } catch {
        return undefined;
      }
    };
    const [sglang, vllm, ollama, llama] = await Promise.all([get("/get_model_info"), get("/version"), get("/api/version"), get("/props")]);
    if (sglang && "model_path" in sglang) return "sglang";
    if (ollama && typeof ollama.version === "string") return "ollama";
    if (llama && ("default_generation_settings" in llama || "build_info" in llama)) return "llama-server";
    if (vllm && typeof vllm.version === "string") return "vllm";
    return "unknown";
  }

  /** The model id to send; "auto" takes the server's first listed model. */
  private resolveModel(signal?: AbortSignal): Promise<string> {
    if (this.profile.model !== "auto") return Promise.resolve(this.profile.model);
    this.modelPromise ??= this.call("listing models", signal, async (c) => {
      const page = await c.models.list({ signal, timeout: this.timeoutMs });
      const first = page.data[0]?.id;
      if (!first) throw new BackendError(`model "${this.name}": the server lists no models (model "auto")`, this.name);
      return first;
    });
    return this.modelPromise;
  }

  private thinkTags(): Array<[string, string]> {
    const f = this.profile.thinkingFormat;
    if (f === "none") return [];
    return THINK_TAGS[f ?? "think-tags"] ?? THINK_TAGS["think-tags"];
  }

  private async samplingFields(req: CompletionRequest, flavor: Flavor): Promise<Json> {
    const d = this.profile.sampling ?? {};
    const out: Json = {};
    const temperature = req.temperature ?? d.temperature;
    const topP = req.topP ?? d.topP;
    const topK = req.topK ?? d.topK;
    const seed = req.seed ?? d.seed;
    if (temperature !== undefined) out.temperature = temperature;
    if (topP !== undefined) out.top_p = topP;
    if (topK !== undefined && !STRICT_PARAMS.has(flavor)) out.top_k = topK;
    if (seed !== undefined) out.seed = seed;
    if (req.stop?.length) out.stop = req.stop;
    return out;
  }

  private prefillMethod(flavor: Flavor): PrefillMethod {
    return this.prefillOverride ?? this.caps?.prefillMethod ?? PREFILL_BY_FLAVOR[flavor];
  }

  // ------------------------------------------------------------ streaming

  private async plan(req: CompletionRequest, flavor: Flavor, model: string, signal?: AbortSignal): Promise<{ endpoint: "chat" | "completions"; body: Json; prefix: string }> {
    const sampling = await this.samplingFields(req, flavor);
    const maxField = flavor === "openai" ? "max_completion_tokens" : "max_tokens";
    const base: Json = { model, ...sampling, [maxField]: req.maxTokens, ...(this.profile.extra ?? {}) };
    const prompt = req.prompt;
    if (prompt.kind === "raw") {
      return { endpoint: "completions", body: { ...base, prompt: prompt.text, ...(req.logprobs ? { logprobs: 1 } : {}) }, prefix: "" };
    }
    const prefix = prompt.assistantPrefix ?? "";
    const chat: Json = { ...base, ...(req.logprobs ? { logprobs: true } : {}) };
    if (!prefix) return { endpoint: "chat", body: { ...chat, messages: prompt.messages }, prefix };
    const method = this.prefillMethod(flavor);
    const withAssistant = (extra: Json = {}) => [...prompt.messages, { role: "assistant", content: prefix, ...extra }];
    switch (method) {
      case "continue_final_message":
        return { endpoint: "chat", body: { ...chat, messages: withAssistant(), continue_final_message: true, add_generation_prompt: false }, prefix };
      case "trailing_assistant":
        return { endpoint: "chat", body: { ...chat, messages: withAssistant() }, prefix };
      case "deepseek_prefix":
        return { endpoint: "chat", body: { ...chat, messages: withAssistant({ prefix: true }) }, prefix };
      case "apply_template": {
        const templated = await this.post<{ prompt?: string }>("/apply-template", { messages: prompt.messages }, "applying the chat template", signal);
        if (typeof templated.prompt !== "string") throw new BackendError(`model "${this.name}": /apply-template gave no prompt`, this.name);
        return { endpoint: "completions", body: { ...base, prompt: templated.prompt + prefix, ...(req.logprobs ? { logprobs: 1 } : {}) }, prefix };
      }
      case "none":
        throw new BackendError(
          `model "${this.name}" (${flavor}): this server cannot continue a partial assistant message (prefill); use an embedded model or a ${["vLLM", "SGLang", "llama-server"].filter((k) => k.toLowerCase() !== flavor).join("/")} server`,
          this.name,
        );
    }
  }

  async *stream(req: CompletionRequest): AsyncGenerator<StreamChunk, CompletionResult> {
    const userSignal = req.signal;
    const flavor = await this.flavor(userSignal);
    const model = await this.resolveModel(userSignal);
    let plan = await this.plan(req, flavor, model, userSignal);
    const idle = new AbortController();
    const signal = userSignal ? AbortSignal.any([userSignal, idle.signal]) : idle.signal;
    const what = plan.endpoint === "chat" ? "streaming a chat completion" : "streaming a completion";

    const open = async (p: typeof plan) =>
      this.call(what, userSignal, (c) =>
        p.endpoint === "chat"
          ? (c.chat.completions.create({ ...(p.body as object), stream: true } as unknown as OpenAI.ChatCompletionCreateParamsStreaming, { signal, timeout: this.timeoutMs }) as unknown as Promise<AsyncIterable<Json>>)
          : (c.completions.create({ ...(p.body as object), stream: true } as unknown as OpenAI.CompletionCreateParamsStreaming, { signal, timeout: this.timeoutMs }) as unknown as Promise<AsyncIterable<Json>>),
      );

    let iterable: AsyncIterable<Json>;
    try {
      iterable = await open(plan);
    } catch (err) {
      if (userSignal?.aborted) return { text: "", reasoning: "", finishReason: "abort" };
      // llama-server refuses a trailing assistant message when thinking is on: use its template endpoint instead.
      if (err instanceof BackendError && err.status === 400 && flavor === "llama-server" && plan.prefix && this.prefillMethod(flavor) === "trailing_assistant") {
        this.prefillOverride = "apply_template";
        plan = await this.plan(req, flavor, model, userSignal);
        iterable = await open(plan);
      } else throw err;
    }

    const tags = this.thinkTags();
    const splitters = tags.map(([o, c]) => new InlineThinkSplitter(o, c, opensThinking(plan.prefix, o, c)));
    const split = (text: string) => {
      let pieces: Array<{ channel: "content" | "reasoning"; text: string }> = [{ channel: "content", text }];
      for (const s of splitters) pieces = pieces.flatMap((p) => (p.channel === "content" ? s.push(p.text) : [p]));
      return pieces;
    };

    let text = "";
    let reasoning = "";
    const tokens: TokenLogprob[] = [];
    let pendingTokens: TokenLogprob[] = [];
    let finish: CompletionResult["finishReason"] = "stop";
    let idleTimer: NodeJS.Timeout | undefined;
    let idleFired = false;
    const arm = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        idleFired = true;
        idle.abort();
      }, this.timeoutMs);
    };
    this.lastReasoningSource = null;

    const emit = (channel: "content" | "reasoning", piece: string): StreamChunk => {
      if (channel === "content") text += piece;
      else reasoning += piece;
      const chunk: StreamChunk = { channel, text: piece };
      if (pendingTokens.length) {
        chunk.tokens = pendingTokens;
        pendingTokens = [];
      }
      return chunk;
    };

    arm();
    try {
      for await (const data of iterable) {
        arm();
        const choice = (data.choices as Json[] | undefined)?.[0];
        if (!choice) continue;
        const out: StreamChunk[] = [];
        if (plan.endpoint === "chat") {
          const delta = (choice.delta as Json | undefined) ?? {};
          for (const field of ["reasoning", "reasoning_content", "thinking"] as const) {
            const r = delta[field];
            if (typeof r === "string" && r) {
              this.lastReasoningSource ??= field;
              out.push({ channel: "reasoning", text: r });
              break; // servers that fill two fields send the same text twice
            }
          }
          const lp = (choice.logprobs as { content?: Array<{ token: string; logprob: number }> } | null | undefined)?.content;
          if (Array.isArray(lp)) for (const t of lp) pendingTokens.push({ token: t.token, logprob: t.logprob });
          if (typeof delta.content === "string" && delta.content) out.push({ channel: "content", text: delta.content });
        } else {
          const lp = choice.logprobs as { tokens?: string[]; token_logprobs?: Array<number | null> } | null | undefined;
          if (lp?.tokens) lp.tokens.forEach((t, i) => pendingTokens.push({ token: t, logprob: lp.token_logprobs?.[i] ?? 0 }));
          if (typeof choice.text === "string" && choice.text) out.push({ channel: "content", text: choice.text });
        }
        tokens.push(...pendingTokens);
        for (const piece of out) {
          const pieces = piece.channel === "content" ? split(piece.text) : [piece];
          for (const p of pieces) {
            if (p.channel === "reasoning" && piece.channel === "content") this.lastReasoningSource ??= "inline";
            if (p.text) yield emit(p.channel, p.text);
          }
        }
        const fr = choice.finish_reason;
        if (typeof fr === "string") finish = fr === "length" ? "length" : "stop";
      }
    } catch (err) {
      clearTimeout(idleTimer);
      if (userSignal?.aborted) return { text, reasoning, tokens: tokens.length ? tokens : undefined, finishReason: "abort" };
      const cut = err instanceof TypeError || (err as { code?: string }).code === "ECONNRESET" || /terminated|socket|premature/i.test(String((err as Error).message));
      if (cut) throw new BackendError(`model "${this.name}": connection closed mid-stream after ${text.length + reasoning.length} characters`, this.name, undefined, true);
      throw this.toBackendError(err, what);
    } finally {
      clearTimeout(idleTimer);
    }
    if (userSignal?.aborted) return { text, reasoning, tokens: tokens.length ? tokens : undefined, finishReason: "abort" };
    if (idleFired) throw new BackendError(`model "${this.name}": stream stalled: nothing for ${Math.round(this.timeoutMs / 100) / 10} s`, this.name, undefined, true);
    for (const s of splitters) for (const p of s.flush()) if (p.text) yield emit(p.channel, p.text);
    return { text, reasoning, tokens: tokens.length ? tokens : undefined, finishReason: finish };
  }

  // ------------------------------------------------------------ scoring

  private unsupported(flavor: Flavor, why?: string): BackendError {
    const reason = why ? ` (${why})` : "";
    return new BackendError(
      // Never suggest a server of the very kind that just refused.
      `model "${this.name}" (${flavor}): scoring is unsupported on this server${reason}; use an embedded model as evaluator${flavor === "vllm" ? "" : ", or a vLLM server"}`,
      this.name,
    );
  }

  async score(req: ScoreRequest): Promise<ScoreResult> {
    const flavor = await this.flavor(req.signal);
    const method = this.caps?.scoringMethod ?? SCORING_BY_FLAVOR[flavor];
    if (method === "none") throw this.unsupported(flavor, this.caps?.notes.find((n) => n.startsWith("scoring:"))?.slice(9));
    const model = await this.resolveModel(req.signal);
    if (req.prefix.kind === "chat") {
      if (method !== "prompt_logprobs") throw this.unsupported(flavor, "it can score raw text only; a chat prompt needs vLLM's prompt_logprobs");
      return this.scoreChat(req, req.prefix, model, flavor);
    }
    if (method === "sglang_generate") return this.scoreSglang(req, req.prefix.text, flavor);
    return this.scoreEcho(req, req.prefix.text, model, flavor);
  }

  /** vLLM chat: the candidate as an open assistant message, prompt_logprobs, split by the prefix's token count. */
  private async scoreChat(req: ScoreRequest, prefix: Extract<Prompt, { kind: "chat" }>, model: string, flavor: Flavor): Promise<ScoreResult> {
    const ap = prefix.assistantPrefix ?? "";
    const prefixMessages = ap ? [...prefix.messages, { role: "assistant", content: ap }] : prefix.messages;
    const tok = await this.post<{ count?: number; tokens?: number[] }>(
      "/tokenize",
      { model, messages: prefixMessages, add_generation_prompt: !ap, continue_final_message: !!ap },
      "tokenizing the prefix",
      req.signal,
    );
    const count = tok.count ?? tok.tokens?.length;
    if (typeof count !== "number") throw this.unsupported(flavor, "/tokenize gave no token count");
    let evaluated = 0;
    const candidates = await Promise.all(
      req.candidates.map(async (cand): Promise<ScoredText> => {
        const body = {
          model,
          messages: [...prefix.messages, { role: "assistant", content: ap + cand }],
          continue_final_message: true,
          add_generation_prompt: false,
          max_tokens: 1,
          temperature: 0,
          prompt_logprobs: 1,
          ...(this.profile.extra ?? {}),
        };
        let res: Json;
        try {
          res = await this.post<Json>("/v1/chat/completions", body, "scoring", req.signal);
        } catch (err) {
          if (err instanceof BackendError && err.status && err.status < 500 && err.status !== 429) throw this.unsupported(flavor, err.message.replace(/^model "[^"]*": /, ""));
          throw err;
        }
        const plp = res.prompt_logprobs as Array<Record<string, { logprob: number; rank?: number; decoded_token?: string }> | null> | undefined;
        if (!Array.isArray(plp)) throw this.unsupported(flavor, "the answer has no prompt_logprobs");
        evaluated += plp.length;
        const picked = plp.map((e) => (e ? pickPromptToken(e) : null));
        return this.splitScored(picked, count, req.includePrefix);
      }),
    );
    return { candidates, evaluatedTokens: evaluated };
  }

  /** Raw text: /v1/completions with echo, one request for all candidates. */
  private async scoreEcho(req: ScoreRequest, prefix: string, model: string, flavor: Flavor): Promise<ScoreResult> {
    let count: number | undefined;
    try {
      const tok = await this.post<{ count?: number; tokens?: number[] }>("/tokenize", { model, prompt: prefix }, "tokenizing the prefix", req.signal, { retries: false });
      count = tok.count ?? tok.tokens?.length;
    } catch {
      count = undefined; // no tokenizer endpoint (Together): split by text offset below
    }
    const body = { model, prompt: req.candidates.map((c) => prefix + c), echo: true, logprobs: 1, max_tokens: 0, temperature: 0, ...(this.profile.extra ?? {}) };
    let res: Json;
    try {
      res = await this.post<Json>("/v1/completions", body, "scoring", req.signal);
    } catch (err) {
      if (err instanceof BackendError && err.status && err.status !== 429 && (err.status < 500 || REFUSAL.test(err.message)))
        throw this.unsupported(flavor, err.message.replace(/^model "[^"]*": /, ""));
      throw err;
    }
    const choices = ((res.choices as Json[] | undefined) ?? []).slice().sort((a, b) => Number(a.index ?? 0) - Number(b.index ?? 0));
    if (choices.length !== req.candidates.length) throw this.unsupported(flavor, `asked to score ${req.candidates.length} texts, got ${choices.length} answers`);
    let evaluated = 0;
    const candidates = choices.map((ch) => {
      const lp = ch.logprobs as { tokens?: string[]; token_logprobs?: Array<number | null>; text_offset?: number[] } | null | undefined;
      const full = prefix + req.candidates[Number(ch.index ?? 0)];
      // A server that ignores echo answers with generated tokens only (or none): no prompt log-probabilities.
      const echoed = !!lp?.tokens?.length && !!lp.token_logprobs && (count !== undefined ? lp.tokens.length > count : typeof ch.text === "string" && ch.text.startsWith(full));
      if (!lp?.tokens || !lp.token_logprobs || !echoed) throw this.unsupported(flavor, "the server ignored echo: no prompt log-probabilities in its answer");
      evaluated += lp.tokens.length;
      const n = count ?? splitByOffset(lp.text_offset, prefix.length);
      if (n === undefined || lp.tokens.length < n) throw this.unsupported(flavor, "echoed tokens do not cover the prefix");
      const picked = lp.tokens.map((t, i) => (lp.token_logprobs![i] == null ? null : { token: t, logprob: lp.token_logprobs![i] as number }));
      return this.splitScored(picked, n, req.includePrefix);
    });
    return { candidates, evaluatedTokens: evaluated };
  }

  /** SGLang native /generate: input_token_logprobs from logprob_start_len. */
  private async scoreSglang(req: ScoreRequest, prefix: string, flavor: Flavor): Promise<ScoreResult> {
    const gen = (text: string, start: number) =>
      this.post<Json>(
        "/generate",
        { text, sampling_params: { max_new_tokens: 0, temperature: 0 }, return_logprob: true, logprob_start_len: start, return_text_in_logprobs: true },
        "scoring",
        req.signal,
      );
    const pre = await gen(prefix, 0);
    const preList = (pre.meta_info as Json | undefined)?.input_token_logprobs as unknown[] | undefined;
    if (!Array.isArray(preList)) throw this.unsupported(flavor, "/generate gave no input_token_logprobs");
    const count = preList.length;
    let evaluated = count;
    const candidates = await Promise.all(
      req.candidates.map(async (cand) => {
        const start = req.includePrefix ? 0 : count;
        const r = await gen(prefix + cand, start);
        const list = ((r.meta_info as Json | undefined)?.input_token_logprobs as Array<[number | null, number, string?]>) ?? [];
        evaluated += list.length;
        const picked: Array<TokenLogprob | null> = Array(start).fill(null);
        for (const [lp, id, t] of list) picked.push(lp == null ? null : { token: t ?? String(id), logprob: lp });
        return this.splitScored(picked, count, req.includePrefix);
      }),
    );
    return { candidates, evaluatedTokens: evaluated };
  }

  private splitScored(picked: Array<TokenLogprob | null>, prefixCount: number, includePrefix?: boolean): ScoredText {
    const tokens = picked.slice(prefixCount).map((t) => {
      if (!t) throw new BackendError(`model "${this.name}": a candidate token came back without a log-probability`, this.name);
      return t;
    });
    const out: ScoredText = { tokens };
    if (includePrefix) out.prefixTokens = picked.slice(0, prefixCount).filter((t): t is TokenLogprob => t !== null);
    return out;
  }

  async countTokens(text: string): Promise<number> {
    const flavor = await this.flavor();
    if (flavor === "vllm" || flavor === "sglang") {
      const model = await this.resolveModel();
      const r = await this.post<{ count?: number; tokens?: number[] }>("/tokenize", { model, prompt: text, add_special_tokens: false }, "counting tokens");
      const n = r.count ?? r.tokens?.length;
      if (typeof n === "number") return n;
    } else if (flavor === "llama-server") {
      const r = await this.post<{ tokens?: number[] }>("/tokenize", { content: text }, "counting tokens");
      if (Array.isArray(r.tokens)) return r.tokens.length;
    }
    throw new BackendError(`model "${this.name}" (${flavor}): this server has no tokenizer endpoint`, this.name);
  }

  // ------------------------------------------------------------ probe

  async probe(signal?: AbortSignal): Promise<ProbeRecord> {
    const notes: string[] = [];
    this.caps = undefined;
    this.prefillOverride = undefined;
    const flavor = await this.flavor(signal);
    notes.push(`flavor: ${flavor}${this.profile.flavor ? " (from profile)" : ""}`);
    const caps: ProbeRecord = { streaming: false, tokenLogprobs: false, promptScoring: false, prefill: false, reasoningField: null, notes, flavor };

    // 1. Stream a short answer with token logprobs.
    const question: Prompt = { kind: "chat", messages: [{ role: "user", content: "Name the capital of France in one short sentence." }] };
    try {
      let r: CompletionResult;
      try {
        r = await collect(this.stream({ prompt: question, maxTokens: 24, temperature: 0, logprobs: true, signal }));
      } catch (err) {
        if (!(err instanceof BackendError && err.status === 400)) throw err;
        notes.push(`token logprobs: refused (${short(err)})`);
        r = await collect(this.stream({ prompt: question, maxTokens: 24, temperature: 0, signal }));
      }
      caps.streaming = r.text.length + r.reasoning.length > 0;
      if (!caps.streaming) notes.push("stream: the answer was empty");
      caps.tokenLogprobs = (r.tokens?.length ?? 0) > 0;
      if (!caps.tokenLogprobs && !notes.some((n) => n.startsWith("token logprobs"))) notes.push("token logprobs: asked for, none given");
      caps.reasoningField = this.lastReasoningSource;
    } catch (err) {
      // Unreachable, silent, or refusing us: nothing was learnt about the server, and a record
      // of all "no" would wrongly refuse it later. Only a server that answered and declined the
      // request (400-like) tells us something.
      if (!(err instanceof BackendError) || err.status === undefined || [401, 403, 404, 407].includes(err.status) || err.status >= 500) throw err;
      notes.push(`stream: ${short(err)}`);
    }

    // 2. Score a short text (servers expected to refuse are asked anyway, so the note says how).
    const method = SCORING_BY_FLAVOR[flavor];
    const scoreTry = async (m: ScoringMethod, prefix: Prompt): Promise<boolean> => {
      this.caps = { ...caps, scoringMethod: m };
      try {
        const r = await this.score({ prefix, candidates: [" Paris."], signal });
        const ok = r.candidates[0]?.tokens.length > 0 && r.candidates[0].tokens.every((t) => Number.isFinite(t.logprob) && t.logprob <= 0);
        if (!ok) notes.push(`scoring (${m}): answer had no usable log-probabilities`);
        return ok;
      } catch (err) {
        notes.push(`scoring: ${short(err).replace(/^.*?scoring is unsupported on this server \((.*)\); use .*$/, "$1")}`);
        return false;
      } finally {
        this.caps = undefined;
      }
    };
    const rawPrefix: Prompt = { kind: "raw", text: "The capital of France is" };
    const chatPrefix: Prompt = { ...question, assistantPrefix: "The capital of France is" };
    if (method === "prompt_logprobs") {
      caps.promptScoring = await scoreTry("prompt_logprobs", chatPrefix);
      caps.scoringMethod = caps.promptScoring ? "prompt_logprobs" : "none";
      if (caps.promptScoring && (await scoreTry("echo", rawPrefix))) notes.push("scoring: raw text via echo works too");
    } else if (method === "sglang_generate") {
      caps.promptScoring = await scoreTry("sglang_generate", rawPrefix);
      caps.scoringMethod = caps.promptScoring ? "sglang_generate" : "none";
    } else {
      caps.promptScoring = await scoreTry("echo", rawPrefix);
      caps.scoringMethod = caps.promptScoring ? "echo" : "none";
    }

    // 3. Prefill: continue a partial answer.
    const pm = PREFILL_BY_FLAVOR[flavor];
    if (pm === "none") {
      notes.push(`prefill: ${flavor} does not continue a final assistant message`);
      caps.prefillMethod = "none";
    } else {
      try {
        const r = await collect(this.stream({ prompt: chatPrefix, maxTokens: 8, temperature: 0, signal }));
        caps.prefill = r.finishReason !== "abort";
        caps.prefillMethod = this.prefillOverride ?? pm;
        if (this.prefillOverride) notes.push(`prefill: trailing assistant message refused; ${this.prefillOverride} works`);
        if (caps.prefillMethod === "trailing_assistant") notes.push("prefill: trailing assistant message accepted (continuation is template dependent)");
      } catch (err) {
        notes.push(`prefill: ${short(err)}`);
        caps.prefillMethod = "none";
      }
    }
    caps.probedAt = new Date().toISOString();
    this.caps = caps;
    return caps;
  }

  async close(): Promise<void> {
    this.clientCache = undefined;
  }
}

/** Short form of an error for probe notes: without the model name prefix. */
function short(err: unknown): string {
  return oneLine(err).replace(/^model "[^"]*"( \([^)]*\))?: /, "");
}

/**
 * vLLM's prompt_logprobs entry holds the prompt token and the top-k others. With k = 1 there are
 * one or two entries: one when the prompt token is the top token, else the one not ranked 1.
 */
function pickPromptToken(entry: Record<string, { logprob: number; rank?: number; decoded_token?: string }>): TokenLogprob {
  const values = Object.entries(entry);
  const [id, v] = values.length === 1 ? values[0] : (values.find(([, x]) => x.rank !== 1) ?? values[0]);
  return { token: v.decoded_token ?? id, logprob: v.logprob };
}

/** Without a tokenizer endpoint: the first token starting at or after the prefix's end. */
function splitByOffset(offsets: number[] | undefined, prefixLength: number): number | undefined {
  if (!offsets) return undefined;
  const i = offsets.findIndex((o, k) => k > 0 && o >= prefixLength);
  return i < 0 ? offsets.length : i;
}

export function createOpenAIBackend(profile: ModelProfile, opts?: OpenAIBackendOptions): OpenAIBackend {
  return new OpenAIBackend(profile, opts);
}

export type { ChatMessage };
