// One streamed completion: the request planned for the server's prefill method, the SSE
// chunks read in every shape servers send (reasoning fields, inline thinking tags, chat and
// completions logprobs), and limits enforced here, not trusted to the server: a server that
// ignores max_tokens or streams forever is cut off, and one that echoes a prefill back has the
// echo removed.
import type OpenAI from "openai";
import type { Flavor, ModelProfile, PrefillMethod } from "../../config/profile.js";
import { opensThinking, THINK_TAGS, ThinkSplitter, type ChannelText } from "../../core/thinking.js";
import { BackendError, type Capabilities, type CompletionRequest, type Prompt, type CompletionResult, type StreamChunk, type TokenLogprob } from "../types.js";
import type { TokenAlternative } from "../../core/types.js";

import { FLAVOR_TRAITS, reasoningEffortFields } from "./flavors.js";
import { loadChatTemplate, renderer } from "./chat-template.js";
import { renderWithPrefill } from "../../core/chat-template.js";
import { guessThinkingFormat } from "../../core/thinking.js";
import type { Json, ReplicaLease, Transport } from "./transport.js";

/** What the stream needs of the backend. */
export interface StreamContext {
  readonly name: string;
  readonly profile: ModelProfile;
  readonly transport: Transport;
  /** Longest a whole stream may take, whatever the server does. */
  readonly maxStreamMs: number;
  flavor(signal?: AbortSignal): Promise<Flavor>;
  resolveModel(signal?: AbortSignal): Promise<string>;
  prefillMethod(flavor: Flavor): PrefillMethod;
  /** The server refused the method in use: try this one for the rest of the session. */
  switchPrefill(method: PrefillMethod): void;
  /** Where the last stream's thinking came from (read by the probe). */
  lastReasoningSource: Capabilities["reasoningField"];
}

interface Plan {
  endpoint: "chat" | "completions";
  body: Json;
  prefix: string;
  method: PrefillMethod | null;
}

function samplingFields(profile: ModelProfile, req: CompletionRequest, flavor: Flavor): Json {
  const d = profile.sampling ?? {};
  const out: Json = {};
  const temperature = req.temperature ?? d.temperature;
  const topP = req.topP ?? d.topP;
  const topK = req.topK ?? d.topK;
  const seed = req.seed ?? d.seed;
  if (temperature !== undefined) out.temperature = temperature;
  if (topP !== undefined) out.top_p = topP;
  if (topK !== undefined && !FLAVOR_TRAITS[flavor].strictParams) out.top_k = topK;
  if (seed !== undefined) out.seed = seed;
  if (req.stop?.length) out.stop = req.stop;
  return out;
}

async function plan(ctx: StreamContext, req: CompletionRequest, flavor: Flavor, model: string, signal?: AbortSignal): Promise<Plan> {
  const traits = FLAVOR_TRAITS[flavor];
  const base: Json = { model, ...samplingFields(ctx.profile, req, flavor), [traits.maxTokensField]: req.maxTokens, ...(ctx.profile.extra ?? {}) };
  const prompt = req.prompt;
  const top = req.logprobs && req.topLogprobs ? Math.min(20, Math.max(1, req.topLogprobs)) : 0;
  const completionLogprobs = req.logprobs ? { logprobs: top || 1 } : {};
  // A raw prompt is already templated: the effort had to be written into it.
  const effort = reasoningEffortFields(flavor, req.reasoningEffort ?? ctx.profile.reasoningEffort);
  if (prompt.kind === "raw") return { endpoint: "completions", body: { ...base, prompt: prompt.text, ...completionLogprobs }, prefix: "", method: null };
  const prefix = prompt.assistantPrefix ?? "";
  if (prompt.exact) {
    // Fixed bytes (the paper reading): the model's template rendered here, the prefix appended as is.
    const text = await exactPromptText(ctx, flavor, prompt, signal);
    // The whole text decides whether the reply starts inside a thinking block (QwQ's template opens one).
    return { endpoint: "completions", body: { ...base, prompt: text, ...completionLogprobs }, prefix: text, method: null };
  }
  const chat: Json = { ...base, ...effort, ...(req.logprobs ? { logprobs: true, ...(top ? { top_logprobs: top } : {}) } : {}) };
  if (!prefix) return { endpoint: "chat", body: { ...chat, messages: prompt.messages }, prefix, method: null };
  const method = ctx.prefillMethod(flavor);
  const withAssistant = (extra: Json = {}) => [...prompt.messages, { role: "assistant", content: prefix, ...extra }];
  switch (method) {
    case "continue_final_message":
      return { endpoint: "chat", body: { ...chat, messages: withAssistant(), continue_final_message: true, add_generation_prompt: false }, prefix, method };
    case "trailing_assistant":
      return { endpoint: "chat", body: { ...chat, messages: withAssistant() }, prefix, method };
    case "deepseek_prefix":
      return { endpoint: "chat", body: { ...chat, messages: withAssistant({ prefix: true }) }, prefix, method };
    case "apply_template": {
      const templated = await ctx.transport.post<{ prompt?: string }>(
        "/apply-template",
        { messages: prompt.messages, ...effort },
        "applying the chat template",
        signal,
      );
      if (typeof templated.prompt !== "string") throw new BackendError(`model "${ctx.name}": /apply-template gave no prompt`, ctx.name);
      return { endpoint: "completions", body: { ...base, prompt: templated.prompt + prefix, ...completionLogprobs }, prefix, method };
    }
    case "render_template": {
      // The server's template would delete or refuse the prefill: rendered here, sent raw.
      const template = await templateOf(ctx, flavor, signal);
      const effortVar = req.reasoningEffort ?? ctx.profile.reasoningEffort;
      const render = renderer(template, effortVar ? { reasoning_effort: effortVar } : {});
      const format = ctx.profile.thinkingFormat ?? guessThinkingFormat(ctx.profile.model);
      const text = renderWithPrefill(render, prompt.messages, prefix, format);
      return { endpoint: "completions", body: { ...base, prompt: text, ...completionLogprobs }, prefix, method };
    }
    case "none":
      throw new BackendError(
        `model "${ctx.name}" (${flavor}): this server cannot continue a partial assistant message (prefill); use an embedded model or a ${["vLLM", "SGLang", "llama-server"].filter((k) => k.toLowerCase() !== flavor).join("/")} server`,
        ctx.name,
        undefined,
        false,
        "refused",
      );
  }
}

/** The exact text of a fixed-bytes prompt: the template over its messages and variables, then the prefix. */
export async function exactPromptText(
  ctx: Pick<StreamContext, "name" | "profile" | "transport">,
  flavor: Flavor,
  prompt: Extract<Prompt, { kind: "chat" }>,
  signal?: AbortSignal,
): Promise<string> {
  const template = await templateOf(ctx, flavor, signal, "the paper reading sends the authors' exact prompt text");
  return renderer(template, prompt.exact?.vars ?? {})({ messages: prompt.messages, add_generation_prompt: true }) + (prompt.assistantPrefix ?? "");
}

const templates = new WeakMap<ModelProfile, Promise<Awaited<ReturnType<typeof loadChatTemplate>>>>();

/** The profile's chat template, loaded once (a failed load is tried again next time). */
function templateOf(ctx: Pick<StreamContext, "profile" | "transport">, flavor: Flavor, signal?: AbortSignal, why?: string) {
  let p = templates.get(ctx.profile);
  if (!p) {
    p = loadChatTemplate(ctx.profile, flavor, ctx.transport, signal, why);
    templates.set(ctx.profile, p);
    p.catch(() => templates.delete(ctx.profile));
  }
  return p;
}

/** Token log-probabilities in any shape: chat's and new completions' `content[]`, or the legacy lists. */
export function readLogprobs(lp: unknown, withAlternatives = false): TokenLogprob[] {
  if (!lp || typeof lp !== "object") return [];
  const o = lp as {
    content?: Array<{ token?: unknown; logprob?: unknown; top_logprobs?: unknown }>;
    tokens?: string[];
    token_logprobs?: Array<number | null>;
    top_logprobs?: unknown[];
  };
  if (Array.isArray(o.content))
    return o.content
      .filter((t) => typeof t.token === "string" && typeof t.logprob === "number")
      .map((t) => withTop({ token: t.token as string, logprob: t.logprob as number }, withAlternatives ? readTopList(t.top_logprobs) : []));
  if (Array.isArray(o.tokens))
    return o.tokens.map((t, i) => withTop({ token: t, logprob: o.token_logprobs?.[i] ?? 0 }, withAlternatives ? readTopMap(o.top_logprobs?.[i]) : []));
  return [];
}

const byLikelihood = (a: TokenAlternative, b: TokenAlternative) => b.logprob - a.logprob;

function withTop(t: TokenLogprob, top: TokenAlternative[]): TokenLogprob {
  return top.length ? { ...t, top: top.sort(byLikelihood) } : t;
}

/** Chat's and new completions' `top_logprobs`: a list of {token, logprob}. */
function readTopList(v: unknown): TokenAlternative[] {
  if (!Array.isArray(v)) return [];
  return v
    .filter((x): x is { token: string; logprob: number } => !!x && typeof x.token === "string" && typeof x.logprob === "number" && !Number.isNaN(x.logprob))
    .map((x) => ({ token: x.token, logprob: x.logprob }));
}

/** Legacy completions' `top_logprobs`: one {token: logprob} object per position. */
function readTopMap(v: unknown): TokenAlternative[] {
  if (!v || typeof v !== "object" || Array.isArray(v)) return [];
  return Object.entries(v as Record<string, unknown>)
    .filter((e): e is [string, number] => typeof e[1] === "number" && !Number.isNaN(e[1]))
    .map(([token, logprob]) => ({ token, logprob }));
}

/**
 * Removes a prefill the server streams back before its continuation (a trailing assistant
 * message on llama-server): text is held while it could still be the prefix, and dropped once
 * it is.
 */
class EchoedPrefix {
  private held = "";
  private done: boolean;
  constructor(private readonly prefix: string) {
    this.done = !prefix;
  }
  push(text: string): string {
    if (this.done) return text;
    const held = this.held + text;
    if (held.length < this.prefix.length && this.prefix.startsWith(held)) {
      this.held = held;
      return "";
    }
    this.done = true;
    this.held = "";
    return held.startsWith(this.prefix) ? held.slice(this.prefix.length) : held;
  }
  flush(): string {
    this.done = true;
    const rest = this.held.length < this.prefix.length && this.prefix.startsWith(this.held) ? "" : this.held;
    this.held = "";
    return rest;
  }
}

export async function* streamCompletion(ctx: StreamContext, req: CompletionRequest): AsyncGenerator<StreamChunk, CompletionResult> {
  const userSignal = req.signal;
  const t = ctx.transport;
  const flavor = await ctx.flavor(userSignal);
  const model = await ctx.resolveModel(userSignal);
  let p = await plan(ctx, req, flavor, model, userSignal);
  const stop = new AbortController();
  const signal = userSignal ? AbortSignal.any([userSignal, stop.signal]) : stop.signal;
  const what = p.endpoint === "chat" ? "streaming a chat completion" : "streaming a completion";
  const open = (q: Plan) =>
    t.open(
      what,
      userSignal,
      (c: OpenAI) => {
        const body = { ...q.body, stream: true } as never;
        const o = { signal, timeout: t.timeoutMs };
        return (q.endpoint === "chat" ? c.chat.completions.create(body, o) : c.completions.create(body, o)) as unknown as Promise<AsyncIterable<Json>>;
      },
      req.observe,
    );
  const opened = performance.now();

  let iterable: AsyncIterable<Json>;
  let lease: ReplicaLease;
  try {
    ({ value: iterable, lease } = await open(p));
  } catch (err) {
    if (userSignal?.aborted) return { text: "", reasoning: "", finishReason: "abort" };
    // Only a server that said it refuses this way of prefilling gets another way; a context
    // overflow or a bad field says nothing about prefill.
    const next = FLAVOR_TRAITS[flavor].prefill.find((m) => m !== p.method);
    if (!(err instanceof BackendError && err.kind === "refused" && p.method && next && next !== "none")) throw err;
    ctx.switchPrefill(next);
    p = await plan(ctx, req, flavor, model, userSignal);
    ({ value: iterable, lease } = await open(p));
  }

  const tags = THINK_TAGS[ctx.profile.thinkingFormat ?? "think-tags"];
  const splitters = tags.map(({ open: o, close: c }) => new ThinkSplitter(opensThinking(p.prefix, o, c), o, c));
  const split = (text: string) => {
    let pieces: ChannelText[] = [{ channel: "content", text }];
    for (const s of splitters) pieces = pieces.flatMap((x) => (x.channel === "content" ? s.push(x.text) : [x]));
    return pieces;
  };
  const echo = new EchoedPrefix(p.method === "trailing_assistant" ? p.prefix : "");

  let text = "";
  let reasoning = "";
  const tokens: TokenLogprob[] = [];
  let pendingTokens: TokenLogprob[] = [];
  let finish: CompletionResult["finishReason"] = "stop";
  // Client-side limits: a chunk carries at least one token, so more pieces than asked tokens
  // (or far more text or events than they could make) means the server ignores max_tokens.
  const maxPieces = req.maxTokens + 4;
  const maxChars = (req.maxTokens + 4) * 64;
  const maxEvents = req.maxTokens * 4 + 64;
  let pieces = 0;
  let events = 0;
  let cut: "idle" | "deadline" | "length" | null = null;
  let idleTimer: NodeJS.Timeout | undefined;
  const end = (why: typeof cut) => {
    cut ??= why;
    stop.abort();
  };
  const arm = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => end("idle"), t.timeoutMs);
  };
  const deadline = setTimeout(() => end("deadline"), ctx.maxStreamMs);
  // A stream this client cut for silence or for running too long is an error, whether the cut
  // surfaced as a thrown abort or as the end of the body.
  const throwIfCutByClient = () => {
    if (cut === "idle") {
      lease.markUnresponsive();
      throw new BackendError(`model "${ctx.name}": stream stalled: nothing for ${Math.round(t.timeoutMs / 100) / 10} s`, ctx.name, undefined, true, "timeout");
    }
    if (cut === "deadline")
      throw new BackendError(
        `model "${ctx.name}": stream still running after ${Math.round(ctx.maxStreamMs / 1000)} s; stopped`,
        ctx.name,
        undefined,
        true,
        "timeout",
      );
  };
  ctx.lastReasoningSource = null;

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
  const route = function* (out: ChannelText[]): Generator<StreamChunk> {
    for (const piece of out) {
      const parts = piece.channel === "content" ? split(piece.text) : [piece];
      for (const x of parts) {
        if (x.channel === "reasoning" && piece.channel === "content") ctx.lastReasoningSource ??= "inline";
        if (x.text) yield emit(x.channel, x.text);
      }
    }
  };
  const result = (): CompletionResult => ({ text, reasoning, tokens: tokens.length ? tokens : undefined, finishReason: finish });

  // The wait for the next chunk ends the moment the caller aborts, whatever the transport is
  // still doing; the request is closed behind it.
  const it = iterable[Symbol.asyncIterator]();
  const aborted = new Promise<"aborted">((resolve) => {
    if (signal.aborted) resolve("aborted");
    signal.addEventListener("abort", () => resolve("aborted"), { once: true });
  });
  arm();
  try {
    for (;;) {
      const next = await Promise.race([it.next(), aborted]);
      if (next === "aborted") {
        void it.return?.()?.catch(() => undefined);
        if (userSignal?.aborted) break;
        throw new Error("stopped");
      }
      if (next.done) break;
      const data = next.value;
      arm();
      // Time to the first event: what a busy server's queue lengthens.
      if (events === 0) req.observe?.latency("first-token", performance.now() - opened);
      events++;
      const choice = (data.choices as Json[] | undefined)?.[0];
      if (!choice) continue;
      const out: ChannelText[] = [];
      const lp = readLogprobs(choice.logprobs, !!req.topLogprobs);
      if (p.endpoint === "chat") {
        const delta = (choice.delta as Json | undefined) ?? {};
        for (const field of ["reasoning", "reasoning_content", "thinking"] as const) {
          const r = delta[field];
          if (typeof r === "string" && r) {
            ctx.lastReasoningSource ??= field;
            out.push({ channel: "reasoning", text: r });
            break; // servers that fill two fields send the same text twice
          }
        }
        if (typeof delta.content === "string" && delta.content) out.push({ channel: "content", text: echo.push(delta.content) });
      } else if (typeof choice.text === "string" && choice.text) out.push({ channel: "content", text: choice.text });
      pendingTokens.push(...lp);
      tokens.push(...lp);
      if (out.some((o) => o.text)) pieces++;
      yield* route(out);
      const fr = choice.finish_reason;
      if (typeof fr === "string") finish = fr === "length" ? "length" : "stop";
      if (pieces > maxPieces || tokens.length > maxPieces || text.length + reasoning.length > maxChars || events > maxEvents) {
        end("length");
        break;
      }
    }
  } catch (err) {
    if (userSignal?.aborted) return { ...result(), finishReason: "abort" };
    throwIfCutByClient();
    if (cut !== "length") {
      const be = t.toBackendError(err, what);
      if (be.kind === "too-large") throw be;
      const closed =
        err instanceof TypeError || (err as { code?: string }).code === "ECONNRESET" || /terminated|socket|premature/i.test(String((err as Error).message));
      if (closed)
        throw new BackendError(
          `model "${ctx.name}": connection closed mid-stream after ${text.length + reasoning.length} characters`,
          ctx.name,
          undefined,
          true,
          "unreachable",
        );
      throw be;
    }
  } finally {
    clearTimeout(idleTimer);
    clearTimeout(deadline);
    lease.release();
  }
  if (userSignal?.aborted) return { ...result(), finishReason: "abort" };
  throwIfCutByClient();
  if (cut === "length") finish = "length";
  yield* route([{ channel: "content", text: echo.flush() }]);
  for (const s of splitters) for (const x of s.flush()) if (x.text) yield emit(x.channel, x.text);
  return result();
}
