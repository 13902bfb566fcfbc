// A protocol double of OpenAI-compatible model servers, for tests and benchmarks.
//
// It speaks the wire formats of vLLM, SGLang, llama.cpp llama-server (as measured on the real
// server, llama.cpp 80fb11a, in ../shared/tools), Ollama (/v1) and the OpenAI API (SSE framing, chat and completions shapes, the logprob shapes, /tokenize,
// reasoning fields, refusals) and behind them runs a tiny deterministic "model": a fixed
// regex tokenizer and a bigram log-probability derived from a hash. Scoring text it generated
// therefore gives back exactly the log-probabilities it reported while generating.
// Faults (429, 5xx, cut streams, malformed chunks, a server that never answers, 401, 404)
// are queued per request. It only ever binds 127.0.0.1.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type DoubleFlavor = "vllm" | "sglang" | "llama-server" | "ollama" | "openai";

export interface DoubleMessage {
  role: string;
  content: string;
  prefix?: boolean;
}

/** What the scripted "model" is asked. `prompt` is the exact text the model sees (template applied). */
export interface ScriptRequest {
  endpoint: "chat" | "completions" | "generate";
  prompt: string;
  messages?: DoubleMessage[];
  /** True when the model continues a final assistant message (prefill) or a raw text. */
  continuing: boolean;
  body: Record<string, unknown>;
}

export type ScriptReply = string | { content: string; reasoning?: string };

/** `path` defaults to the model calls: /v1/chat/completions, /v1/completions, /generate. */
export type Fault =
  /** Answer with this HTTP status (and an error body in the flavor's shape). */
  | { kind: "status"; status: number; retryAfter?: string; retryAfterMs?: string; message?: string; path?: string }
  /** Stream this many tokens, then write half a chunk and destroy the socket. */
  | { kind: "cut"; afterTokens: number; path?: string }
  /** Stream this many tokens, then a chunk that is not JSON. */
  | { kind: "malformed"; afterTokens: number; path?: string }
  /** Accept the request and never answer (until close()). */
  | { kind: "hang"; path?: string }
  /** Answer 200 with an HTML page (a proxy's or web UI's page at the API's address). */
  | { kind: "html"; path?: string }
  /** Stream one SSE event of this many bytes. */
  | { kind: "huge-event"; bytes: number; path?: string }
  /** Ignore max_tokens and stream tokens until the client goes away. */
  | { kind: "endless"; path?: string };

export interface ProtocolDoubleOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  flavor?: DoubleFlavor;
  /** The served model id. llama-server ignores the requested model, like the real one. */
  model?: string;
  /** Delay before the response headers. */
  latencyMs?: number;
  /**
   * With latencyMs: a streamed answer's headers and first event come after this, the rest once
   * latencyMs have passed in all, as a server prefills and then decodes (a request that waits for
   * another's first token waits this, not the whole answer). Other answers wait latencyMs whole.
   */
  firstTokenMs?: number;
  /** Streaming rate; undefined or 0 = as fast as possible. */
  tokensPerSecond?: number;
  /** What the model says. Default: a deterministic sentence derived from the prompt. */
  script?: (req: ScriptRequest) => ScriptReply;
  /** Default replies carry thinking text (in the flavor's reasoning field). */
  reasoning?: boolean;
  /** Send thinking inline as <think>...</think> in content instead of a reasoning field. */
  inlineThink?: boolean;
  /** Override the reasoning field name (older vLLM: "reasoning_content"). */
  reasoningField?: "reasoning" | "reasoning_content";
  /**
   * An older llama-server with thinking enabled, which refused assistant prefill. Today's
   * (80fb11a) does not refuse it; the option keeps that refusal testable.
   */
  thinkingEnabled?: boolean;
  /**
   * The served template deletes the thinking block of an assistant message (R1-distill's), so
   * vLLM/SGLang refuse continue_final_message on a closed block, with Hugging Face's message.
   */
  templateDeletesThinking?: boolean;
  /** Tokens of context: a longer prompt is refused as llama-server refuses it (400, exceed_context_size_error). */
  contextSize?: number;
  /**
   * A prefix cache, as vLLM's automatic prefix caching: prompt tokens in whole blocks already
   * computed are not computed again, and the answer's usage says how many were cached. A block
   * counts as computed `latencyMs` after the request that computed it arrived, so requests sent
   * together each compute the shared prefix.
   */
  prefixCache?: { blockTokens?: number };
  /** When set, requests must carry `Authorization: Bearer <apiKey>`, else 401. */
  apiKey?: string;
  /** Error bodies echo the Authorization header back (as some proxies do). */
  echoAuthorization?: boolean;
  faults?: Fault[];
}

export interface RequestRecord {
  method: string;
  path: string;
  body: Record<string, unknown> | undefined;
  authorization: string | undefined;
  status: number;
  startedAt: number;
  endedAt?: number;
  /** The client closed the connection before the response was complete. */
  aborted: boolean;
  tokensSent: number;
}

export interface ProtocolDouble {
  /** http://127.0.0.1:PORT (server root: /tokenize, /version, /props ...). */
  url: string;
  /** url + "/v1", what an OpenAI client takes as baseURL. */
  baseURL: string;
  model: string;
  flavor: DoubleFlavor;
  requests: RequestRecord[];
  /** Prompt tokens received in model calls, and those the double computed (not served by its prefix cache). */
  promptTokens: { received: number; computed: number };
  /** Queue more faults (consumed in order by matching requests). */
  pushFault(...f: Fault[]): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- the deterministic model

const TOKEN_RE = /<s>|<\|[a-z_]+\|>| ?[A-Za-z]+| ?\d| ?[^\sA-Za-z\d]|\s/gu;
export const BOS = "<s>";

/** The double's tokenizer: every character lands in exactly one token; tokens concatenate back to the text. */
export function tokenize(text: string): string[] {
  return text.match(TOKEN_RE) ?? [];
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function tokenId(token: string): number {
  return token === BOS ? 1 : (fnv1a(token) % 32000) + 3;
}

/** log p(token | previous token): a bigram model, so any context gives the same answer. */
export function logprobOf(prev: string, token: string): number {
  return -(0.05 + (fnv1a(prev + "\u241f" + token) % 4000) / 1000);
}

const WORDS = [
  "the",
  "model",
  "reads",
  "each",
  "value",
  "and",
  "then",
  "adds",
  "them",
  "so",
  "we",
  "get",
  "a",
  "total",
  "first",
  "step",
  "is",
  "to",
  "check",
  "units",
  "next",
  "result",
];

/** The most likely next token after `prev` (the top-1 alternative in top_logprobs dicts). */
function topAlternative(prev: string): { token: string; logprob: number } {
  return { token: " " + WORDS[fnv1a("alt" + prev) % WORDS.length], logprob: -0.01 };
}

function defaultReply(prompt: string, words = 10): string {
  const h = fnv1a(prompt);
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(WORDS[fnv1a(`${h}:${i}`) % WORDS.length]);
  out[0] = out[0][0].toUpperCase() + out[0].slice(1);
  return `${out.join(" ")}. The answer is ${(h % 90) + 10}.`;
}

interface GenToken {
  token: string;
  logprob: number;
  channel: "content" | "reasoning";
}

/** Tokens of the reply, each scored after the previous token of (prompt + reply so far). */
function generate(promptTokens: string[], reasoning: string, content: string, maxTokens: number): { tokens: GenToken[]; finish: "stop" | "length" } {
  let prev = promptTokens[promptTokens.length - 1] ?? BOS;
  const tokens: GenToken[] = [];
  for (const [channel, text] of [
    ["reasoning", reasoning],
    ["content", content],
  ] as const) {
    for (const t of tokenize(text)) {
      if (tokens.length >= maxTokens) return { tokens, finish: "length" };
      tokens.push({ token: t, logprob: logprobOf(prev, t), channel });
      prev = t;
    }
  }
  return { tokens, finish: "stop" };
}

function applyStop(text: string, stop: unknown): { text: string; stopped: boolean } {
  const stops = typeof stop === "string" ? [stop] : Array.isArray(stop) ? stop.filter((s) => typeof s === "string") : [];
  let cut = -1;
  for (const s of stops as string[]) {
    const i = text.indexOf(s);
    if (i >= 0 && (cut < 0 || i < cut)) cut = i;
  }
  return cut < 0 ? { text, stopped: false } : { text: text.slice(0, cut), stopped: true };
}

/** The double's chat template. `open` leaves the last assistant message open (continued). */
export function renderChat(messages: DoubleMessage[], opts: { addGenerationPrompt: boolean; continueFinal: boolean }): string {
  let out = BOS;
  messages.forEach((m, i) => {
    const last = i === messages.length - 1;
    if (last && opts.continueFinal && m.role === "assistant") out += `<|assistant|>\n${m.content}`;
    else out += `<|${m.role}|>\n${m.content}<|end|>\n`;
  });
  if (opts.addGenerationPrompt && !opts.continueFinal) out += "<|assistant|>\n";
  return out;
}

// ---------------------------------------------------------------- the server

const REASONING_FIELD: Record<DoubleFlavor, "reasoning" | "reasoning_content" | null> = {
  vllm: "reasoning",
  sglang: "reasoning_content",
  "llama-server": "reasoning_content",
  ollama: "reasoning",
  openai: null,
};

/** Faults without a path hit these (model calls), not probes of /version, /tokenize and the like. */
const MODEL_PATHS = new Set(["/v1/chat/completions", "/v1/completions", "/generate"]);

class HttpFault extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startProtocolDouble(opts: ProtocolDoubleOptions = {}): Promise<ProtocolDouble> {
  const flavor = opts.flavor ?? "vllm";
  const model = opts.model ?? "double-model";
  const faults: Fault[] = [...(opts.faults ?? [])];
  const requests: RequestRecord[] = [];
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();
  let closed = false;

  const reasoningField = opts.reasoningField ?? REASONING_FIELD[flavor];
  const promptCounts = { received: 0, computed: 0 };
  /** Computed prefix blocks (by the text of every token up to the block's end) and when they were ready. */
  const blocks = new Map<string, number>();

  /** Count a prompt, consult and fill the prefix cache; the tokens served from it. */
  function prefill(tokens: string[], arrivedAt: number): number {
    promptCounts.received += tokens.length;
    if (!opts.prefixCache) {
      promptCounts.computed += tokens.length;
      return 0;
    }
    const size = opts.prefixCache.blockTokens ?? 16;
    let cached = 0;
    let key = "";
    let reusing = true;
    for (let end = size; end <= tokens.length; end += size) {
      key += tokens.slice(end - size, end).join("") + "\u0000";
      const ready = blocks.get(key);
      if (reusing && ready !== undefined && ready <= arrivedAt) cached = end;
      else {
        reusing = false;
        if (ready === undefined) blocks.set(key, arrivedAt + (opts.latencyMs ?? 0));
      }
    }
    promptCounts.computed += tokens.length - cached;
    return cached;
  }
  const usageOf = (prompt: number, completion: number, cached: number) => ({
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    ...(opts.prefixCache ? { prompt_tokens_details: { cached_tokens: cached } } : {}),
  });
  const tokenDelay = opts.tokensPerSecond ? 1000 / opts.tokensPerSecond : 0;

  function takeFault(path: string): Fault | undefined {
    const i = faults.findIndex((f) => (f.path ? f.path === path : MODEL_PATHS.has(path)));
    return i < 0 ? undefined : faults.splice(i, 1)[0];
  }

  function errorBody(status: number, message: string): unknown {
    if (flavor === "vllm" || flavor === "sglang")
      return { object: "error", message, type: status === 404 ? "NotFoundError" : "BadRequestError", param: null, code: status };
    if (flavor === "llama-server") {
      const type = /exceeds the available context/.test(message)
        ? "exceed_context_size_error"
        : status === 404
          ? "not_found_error"
          : status >= 500
            ? "server_error"
            : "invalid_request_error";
      return { error: { code: status, message, type } };
    }
    return { error: { message, type: status === 401 ? "invalid_request_error" : "api_error", param: null, code: null } };
  }

  function script(req: ScriptRequest): { content: string; reasoning: string } {
    if (opts.script) {
      const r = opts.script(req);
      return typeof r === "string" ? { content: r, reasoning: "" } : { content: r.content, reasoning: r.reasoning ?? "" };
    }
    const reasoning = opts.reasoning && !req.continuing ? "Let me think step by step about it." : "";
    return { content: defaultReply(req.prompt), reasoning };
  }

  async function readBody(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (!chunks.length) return undefined;
    try {
      return JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      throw new HttpFault(400, "request body is not valid JSON");
    }
  }

  function checkModel(body: Record<string, unknown>): void {
    if (flavor === "llama-server") return; // serves one model whatever is asked
    if (body.model === model) return;
    const name = String(body.model);
    if (flavor === "ollama") throw new HttpFault(404, `model "${name}" not found, try pulling it first`);
    if (flavor === "openai") throw new HttpFault(404, `The model '${name}' does not exist or you do not have access to it.`);
    throw new HttpFault(404, `The model \`${name}\` does not exist.`);
  }

  /**
   * OpenAI's reasoning models (o-series) take only their default sampling and
   * max_completion_tokens; reasoning_effort is taken by them alone. Messages as the API words them.
   */
  function checkOpenAIReasoningParams(body: Record<string, unknown>): void {
    const reasoningModel = /^o\d/.test(model);
    if (reasoningModel) {
      if ("max_tokens" in body)
        throw new HttpFault(400, "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.");
      for (const key of ["temperature", "top_p"])
        if (key in body && body[key] !== 1)
          throw new HttpFault(
            400,
            `Unsupported value: '${key}' does not support ${String(body[key])} with this model. Only the default (1) value is supported.`,
          );
    }
    if ("reasoning_effort" in body) {
      if (!reasoningModel) throw new HttpFault(400, "Unsupported parameter: 'reasoning_effort' is not supported with this model.");
      if (!["minimal", "low", "medium", "high"].includes(String(body.reasoning_effort)))
        throw new HttpFault(400, `Invalid value: '${String(body.reasoning_effort)}'. Supported values are: 'low', 'medium', and 'high'.`);
    }
  }

  function maxTokensOf(body: Record<string, unknown>): number {
    const v = body.max_completion_tokens ?? body.max_tokens;
    return typeof v === "number" ? v : 256;
  }

  // What a streamed answer still has to wait after its first event (firstTokenMs).
  const decodeRest = new WeakMap<ServerResponse, number>();

  // SSE writer that honours the token rate, cut/malformed faults, and client aborts.
  async function sse(res: ServerResponse, rec: RequestRecord, fault: Fault | undefined, events: Array<{ data: unknown; tokens: number }>): Promise<void> {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    rec.status = 200;
    for (const ev of events) {
      if (res.destroyed || closed) return;
      if (fault?.kind === "cut" && rec.tokensSent >= fault.afterTokens) {
        // Destroy only once what came before has reached the client, so the cut lands mid-stream.
        await new Promise<void>((resolve) => res.write(`data: ${JSON.stringify(ev.data).slice(0, 20)}`, () => resolve()));
        await sleep(20);
        res.socket?.destroy();
        return;
      }
      if (fault?.kind === "malformed" && rec.tokensSent >= fault.afterTokens) {
        res.write(`data: {"choices": [{"delta": {"content": "oops"\n\n`);
        fault = undefined;
      }
      res.write(`data: ${JSON.stringify(ev.data)}\n\n`);
      rec.tokensSent += ev.tokens;
      const rest = ev.tokens > 0 ? decodeRest.get(res) : undefined;
      if (rest !== undefined) {
        decodeRest.delete(res);
        await sleep(rest);
      }
      if (tokenDelay && ev.tokens) await sleep(tokenDelay * ev.tokens);
    }
    if (res.destroyed) return;
    res.end("data: [DONE]\n\n");
  }

  function sendJSON(res: ServerResponse, rec: RequestRecord, status: number, body: unknown, headers: Record<string, string> = {}): void {
    rec.status = status;
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  }

  // ---- endpoints

  async function chat(body: Record<string, unknown>, res: ServerResponse, rec: RequestRecord, fault: Fault | undefined) {
    checkModel(body);
    const messages = (body.messages as DoubleMessage[] | undefined) ?? [];
    if (!Array.isArray(messages) || !messages.length) throw new HttpFault(400, "messages must be a non-empty array");
    for (const key of ["continue_final_message", "add_generation_prompt", "prompt_logprobs"]) {
      if (flavor === "openai" && key in body) throw new HttpFault(400, `Unrecognized request argument supplied: ${key}`);
    }
    if (flavor === "openai") checkOpenAIReasoningParams(body);
    const last = messages[messages.length - 1];
    const trailingAssistant = last.role === "assistant";
    let continueFinal = false;
    if (flavor === "vllm" || flavor === "sglang") {
      continueFinal = body.continue_final_message === true;
      const addGen = body.add_generation_prompt !== false;
      if (continueFinal && addGen) throw new HttpFault(400, "Cannot set both `continue_final_message` and `add_generation_prompt` to True.");
      if (continueFinal && !trailingAssistant) throw new HttpFault(400, "continue_final_message requires the last message to be from the assistant");
      if (continueFinal && opts.templateDeletesThinking && last.content.includes("</think>"))
        throw new HttpFault(
          400,
          "continue_final_message is set but the final message does not appear in the chat after applying the chat template! This can happen if the chat template deletes portions of the final message. Please verify the chat template outputs the final message verbatim.",
        );
    } else if (flavor === "llama-server" || flavor === "ollama") {
      continueFinal = trailingAssistant;
      if (continueFinal && flavor === "llama-server" && opts.thinkingEnabled)
        throw new HttpFault(400, "Assistant response prefill is incompatible with enable_thinking.");
    }
    // llama-server continues a trailing assistant message either way, but without
    // continue_final_message it streams that message back before its continuation.
    const echoesPrefill = flavor === "llama-server" && continueFinal && body.continue_final_message !== true;
    const prompt = renderChat(messages, { addGenerationPrompt: !continueFinal, continueFinal });
    const promptTokens = tokenize(prompt);
    checkContext(promptTokens.length);
    const cachedTokens = prefill(promptTokens, rec.startedAt);
    const stream = body.stream === true;
    const promptLogprobs = flavor === "vllm" && typeof body.prompt_logprobs === "number" ? body.prompt_logprobs : undefined;
    if (promptLogprobs !== undefined && stream) throw new HttpFault(400, "`prompt_logprobs` are not available when `stream=True`.");

    const said = script({ endpoint: "chat", prompt, messages, continuing: continueFinal, body });
    const inline = opts.inlineThink || reasoningField === null;
    let reasoning = said.reasoning;
    let content = said.content;
    if (reasoning && opts.inlineThink) {
      content = `<think>${reasoning}</think>\n\n${content}`;
      reasoning = "";
    } else if (reasoning && inline) reasoning = ""; // the OpenAI API hides thinking
    const stopped = applyStop(content, body.stop);
    const gen = generate(promptTokens, reasoning, stopped.text, maxTokensOf(body));
    const finish = gen.finish === "length" ? "length" : "stop";
    const wantLogprobs = body.logprobs === true;
    const topN = typeof body.top_logprobs === "number" ? body.top_logprobs : 0;
    const id = `chatcmpl-double-${rec.startedAt}`;
    const created = Math.floor(Date.now() / 1000);
    const lpEntry = (t: GenToken, prev: string) => ({
      token: t.token,
      logprob: t.logprob,
      bytes: [...Buffer.from(t.token, "utf8")],
      top_logprobs: topN > 0 ? [topAlternative(prev)] : [],
    });
    const prevOf = (i: number) => (i === 0 ? promptTokens[promptTokens.length - 1] : gen.tokens[i - 1].token);

    if (stream) {
      const events: Array<{ data: unknown; tokens: number }> = [];
      const chunk = (delta: Record<string, unknown>, logprobs: unknown, finish_reason: string | null, tokens: number) => ({
        data: { id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, logprobs, finish_reason }] },
        tokens,
      });
      events.push(chunk({ role: "assistant", content: flavor === "llama-server" ? null : "" }, null, null, 0));
      let echo = echoesPrefill ? last.content : "";
      gen.tokens.forEach((t, i) => {
        const delta = t.channel === "reasoning" ? { [reasoningField as string]: t.token } : { content: echo + t.token };
        if (t.channel === "content") echo = "";
        events.push(chunk(delta, wantLogprobs ? { content: [lpEntry(t, prevOf(i))] } : null, null, 1));
      });
      events.push(chunk({}, null, finish, 0));
      await sse(res, rec, fault, events);
      return;
    }
    if (tokenDelay) await sleep(tokenDelay * gen.tokens.length);
    const message: Record<string, unknown> = {
      role: "assistant",
      content:
        (echoesPrefill ? last.content : "") +
        gen.tokens
          .filter((t) => t.channel === "content")
          .map((t) => t.token)
          .join(""),
    };
    const r = gen.tokens
      .filter((t) => t.channel === "reasoning")
      .map((t) => t.token)
      .join("");
    if (r) message[reasoningField as string] = r;
    const out: Record<string, unknown> = {
      id,
      object: "chat.completion",
      created,
      model,
      choices: [{ index: 0, message, logprobs: wantLogprobs ? { content: gen.tokens.map((t, i) => lpEntry(t, prevOf(i))) } : null, finish_reason: finish }],
      usage: usageOf(promptTokens.length, gen.tokens.length, cachedTokens),
    };
    if (promptLogprobs !== undefined) out.prompt_logprobs = promptLogprobsOf(promptTokens, promptLogprobs);
    sendJSON(res, rec, 200, out);
  }

  function promptLogprobsOf(tokens: string[], k: number): Array<null | Record<string, unknown>> {
    return tokens.map((t, i) => {
      if (i === 0) return null;
      const entry: Record<string, unknown> = {};
      const lp = logprobOf(tokens[i - 1], t);
      const alt = topAlternative(tokens[i - 1]);
      const isTop = alt.token === t;
      entry[String(tokenId(t))] = { logprob: lp, rank: isTop ? 1 : 2, decoded_token: t };
      if (k >= 1 && !isTop) entry[String(tokenId(alt.token))] = { logprob: alt.logprob, rank: 1, decoded_token: alt.token };
      return entry;
    });
  }

  async function completions(body: Record<string, unknown>, res: ServerResponse, rec: RequestRecord, fault: Fault | undefined) {
    checkModel(body);
    const prompts = Array.isArray(body.prompt) ? (body.prompt as unknown[]) : [body.prompt];
    if (!prompts.length || prompts.some((p) => typeof p !== "string")) throw new HttpFault(400, "prompt must be a string or a list of strings");
    // llama-server (80fb11a) answers echo with 200 and ignores it.
    const echo = body.echo === true;
    if (flavor === "openai")
      throw new HttpFault(404, "This is a chat model and not supported in the v1/completions endpoint. Did you mean to use v1/chat/completions?");
    const stream = body.stream === true;
    const k = typeof body.logprobs === "number" ? body.logprobs : undefined;
    const promptLogprobs = flavor === "vllm" && typeof body.prompt_logprobs === "number" ? body.prompt_logprobs : undefined;
    if (promptLogprobs !== undefined && stream) throw new HttpFault(400, "`prompt_logprobs` are not available when `stream=True`.");
    // Only vLLM (and servers like it) return the prompt's own log-probabilities; Ollama and SGLang's /v1 ignore echo here.
    const honoursEcho = echo && flavor === "vllm";
    const id = `cmpl-double-${rec.startedAt}`;
    const created = Math.floor(Date.now() / 1000);
    const maxTokens = maxTokensOf(body);

    const choices = (prompts as string[]).map((p, index) => {
      const addBos = flavor === "vllm" || flavor === "llama-server";
      const promptTokens = addBos ? [BOS, ...tokenize(p)] : tokenize(p);
      checkContext(promptTokens.length);
      const said = script({ endpoint: "completions", prompt: p, continuing: true, body });
      const stopped = applyStop(said.content, body.stop);
      const gen = generate(promptTokens, "", stopped.text, maxTokens);
      return { index, p, promptTokens, gen };
    });

    if (stream) {
      if (choices.length !== 1) throw new HttpFault(400, "streaming supports one prompt");
      const { promptTokens, gen } = choices[0];
      const events: Array<{ data: unknown; tokens: number }> = [];
      let offset = choices[0].p.length;
      gen.tokens.forEach((t, i) => {
        const prev = i === 0 ? promptTokens[promptTokens.length - 1] : gen.tokens[i - 1].token;
        const logprobs =
          k === undefined
            ? null
            : flavor === "llama-server"
              ? { content: [llamaLogprob(t.token, t.logprob, prev, k)] }
              : { tokens: [t.token], token_logprobs: [t.logprob], top_logprobs: [k > 0 ? altDict(prev) : {}], text_offset: [offset] };
        offset += t.token.length;
        events.push({
          data: { id, object: "text_completion", created, model, choices: [{ index: 0, text: t.token, logprobs, finish_reason: null }] },
          tokens: 1,
        });
      });
      const finish = gen.finish;
      events.push({
        data: { id, object: "text_completion", created, model, choices: [{ index: 0, text: "", logprobs: null, finish_reason: finish }] },
        tokens: 0,
      });
      await sse(res, rec, fault, events);
      return;
    }
    const genCount = choices.reduce((n, c) => n + c.gen.tokens.length, 0);
    if (tokenDelay) await sleep(tokenDelay * genCount);
    const out = choices.map(({ index, p, promptTokens, gen }) => {
      const genText = gen.tokens.map((t) => t.token).join("");
      let logprobs: unknown = null;
      if (k !== undefined) {
        const toks: string[] = [];
        const lps: Array<number | null> = [];
        const tops: Array<Record<string, number> | null> = [];
        const offs: number[] = [];
        let off = 0;
        if (honoursEcho) {
          promptTokens.forEach((t, i) => {
            toks.push(t);
            lps.push(i === 0 ? null : logprobOf(promptTokens[i - 1], t));
            tops.push(i === 0 ? null : altDict(promptTokens[i - 1]));
            offs.push(off);
            if (t !== BOS) off += t.length;
          });
        } else off = p.length;
        gen.tokens.forEach((t, i) => {
          toks.push(t.token);
          lps.push(t.logprob);
          tops.push(altDict(i === 0 ? promptTokens[promptTokens.length - 1] : gen.tokens[i - 1].token));
          offs.push(off);
          off += t.token.length;
        });
        logprobs = { tokens: toks, token_logprobs: lps, top_logprobs: tops, text_offset: offs };
        if (flavor === "llama-server")
          logprobs = {
            content: gen.tokens.map((t, i) => llamaLogprob(t.token, t.logprob, i === 0 ? promptTokens[promptTokens.length - 1] : gen.tokens[i - 1].token, k)),
          };
      }
      const choice: Record<string, unknown> = { index, text: (honoursEcho ? p : "") + genText, logprobs, finish_reason: gen.finish };
      if (promptLogprobs !== undefined) choice.prompt_logprobs = promptLogprobsOf(promptTokens, promptLogprobs);
      return choice;
    });
    const promptCount = choices.reduce((n, c) => n + c.promptTokens.length, 0);
    const cachedCount = choices.reduce((n, c) => n + prefill(c.promptTokens, rec.startedAt), 0);
    sendJSON(res, rec, 200, {
      id,
      object: "text_completion",
      created,
      model,
      choices: out,
      usage: usageOf(promptCount, genCount, cachedCount),
    });
  }

  /** llama-server's logprob entry, in chat and completions alike. */
  function llamaLogprob(token: string, logprob: number, prev: string, k: number) {
    const entry = (tok: string, lp: number) => ({ id: tokenId(tok), token: tok, bytes: [...Buffer.from(tok, "utf8")], logprob: lp });
    const alt = topAlternative(prev);
    return { ...entry(token, logprob), top_logprobs: [entry(token, logprob), ...(k > 1 && alt.token !== token ? [entry(alt.token, alt.logprob)] : [])] };
  }

  function checkContext(tokens: number): void {
    if (opts.contextSize !== undefined && tokens > opts.contextSize)
      throw new HttpFault(400, `request (${tokens} tokens) exceeds the available context size (${opts.contextSize} tokens), try increasing it`);
  }

  function altDict(prev: string): Record<string, number> {
    const a = topAlternative(prev);
    return { [a.token]: a.logprob };
  }

  async function vllmTokenize(body: Record<string, unknown>, res: ServerResponse, rec: RequestRecord) {
    checkModel(body);
    let tokens: string[];
    if (Array.isArray(body.messages)) {
      const continueFinal = body.continue_final_message === true;
      const text = renderChat(body.messages as DoubleMessage[], { addGenerationPrompt: body.add_generation_prompt !== false, continueFinal });
      tokens = tokenize(text);
    } else if (typeof body.prompt === "string") {
      tokens = body.add_special_tokens === false ? tokenize(body.prompt) : [BOS, ...tokenize(body.prompt)];
    } else throw new HttpFault(400, "prompt or messages required");
    sendJSON(res, rec, 200, { count: tokens.length, max_model_len: 4096, tokens: tokens.map(tokenId), token_strs: body.return_token_strs ? tokens : null });
  }

  async function sglangGenerate(body: Record<string, unknown>, res: ServerResponse, rec: RequestRecord) {
    if (typeof body.text !== "string") throw new HttpFault(400, "text required");
    const promptTokens = [BOS, ...tokenize(body.text)];
    const sp = (body.sampling_params as Record<string, unknown> | undefined) ?? {};
    const maxNew = typeof sp.max_new_tokens === "number" ? sp.max_new_tokens : 128;
    const said = script({ endpoint: "generate", prompt: body.text, continuing: true, body });
    const gen = generate(promptTokens, "", said.content, maxNew);
    const start = typeof body.logprob_start_len === "number" ? body.logprob_start_len : 0;
    const meta: Record<string, unknown> = { prompt_tokens: promptTokens.length, completion_tokens: gen.tokens.length, finish_reason: { type: gen.finish } };
    if (body.return_logprob === true) {
      const withText = body.return_text_in_logprobs === true;
      meta.input_token_logprobs = promptTokens.slice(start).map((t, j) => {
        const i = j + start;
        const lp = i === 0 ? null : logprobOf(promptTokens[i - 1], t);
        return withText ? [lp, tokenId(t), t] : [lp, tokenId(t)];
      });
      meta.output_token_logprobs = gen.tokens.map((t) => (withText ? [t.logprob, tokenId(t.token), t.token] : [t.logprob, tokenId(t.token)]));
    }
    sendJSON(res, rec, 200, { text: gen.tokens.map((t) => t.token).join(""), meta_info: meta });
  }

  /** Faults a real server rarely shows: one enormous event, or tokens without end. */
  async function misbehave(res: ServerResponse, rec: RequestRecord, fault: Extract<Fault, { kind: "huge-event" | "endless" }>): Promise<void> {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    rec.status = 200;
    const event = (content: string) =>
      `data: ${JSON.stringify({ id: "x", object: "chat.completion.chunk", created: 0, model, choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
    if (fault.kind === "huge-event") {
      const piece = "x".repeat(1 << 16);
      res.write(`data: {"choices":[{"index":0,"delta":{"content":"`);
      for (let sent = 0; sent < fault.bytes && !res.destroyed && !closed; sent += piece.length) {
        if (!res.write(piece)) await new Promise((r) => res.once("drain", r));
      }
      if (!res.destroyed) res.end(`"}}]}\n\ndata: [DONE]\n\n`);
      return;
    }
    while (!res.destroyed && !closed) {
      if (!res.write(event(" and"))) await new Promise((r) => res.once("drain", r));
      rec.tokensSent++;
      await sleep(tokenDelay || 1);
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse, rec: RequestRecord): Promise<void> {
    const path = rec.path;
    const body = req.method === "POST" ? await readBody(req) : undefined;
    rec.body = body;
    const fault = takeFault(path);
    if (opts.latencyMs) {
      const first = opts.firstTokenMs !== undefined ? Math.min(opts.firstTokenMs, opts.latencyMs) : opts.latencyMs;
      await sleep(first);
      const rest = opts.latencyMs - first;
      if (rest > 0) {
        if (body?.stream === true) decodeRest.set(res, rest);
        else await sleep(rest);
      }
    }
    if (fault?.kind === "hang") {
      hanging.add(res);
      return;
    }
    if (fault?.kind === "html") {
      rec.status = 200;
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end("<!doctype html><html><head><title>Sign in</title></head><body><h1>Sign in to continue</h1></body></html>");
      return;
    }
    if (fault?.kind === "huge-event" || fault?.kind === "endless") return misbehave(res, rec, fault);
    if (fault?.kind === "status") {
      const headers: Record<string, string> = {};
      if (fault.retryAfter !== undefined) headers["retry-after"] = fault.retryAfter;
      if (fault.retryAfterMs !== undefined) headers["retry-after-ms"] = fault.retryAfterMs;
      throw new HttpFault(fault.status, fault.message ?? (fault.status === 429 ? "Rate limit reached" : "Service unavailable"), headers);
    }
    if (opts.apiKey !== undefined && rec.authorization !== `Bearer ${opts.apiKey}`) {
      const echo = opts.echoAuthorization ? ` (got Authorization: ${rec.authorization ?? "none"})` : "";
      throw new HttpFault(401, `Incorrect API key provided${echo}`);
    }
    const g = req.method === "GET";
    if (g && path === "/v1/models") {
      // llama-server lists its one model with facts about it (the real one adds an Ollama-style "models" list too).
      const entry =
        flavor === "llama-server"
          ? { id: model, aliases: [model], object: "model", created: 0, owned_by: "llamacpp", meta: { n_params: 292800, size: 1171200, n_ctx_train: 2048 } }
          : { id: model, object: "model", created: 0, owned_by: flavor };
      return sendJSON(res, rec, 200, { object: "list", data: [entry] });
    }
    if (g && path === "/health" && flavor !== "openai" && flavor !== "ollama") return sendJSON(res, rec, 200, {});
    if (g && path === "/version" && flavor === "vllm") return sendJSON(res, rec, 200, { version: "0.11.0" });
    if (g && path === "/get_model_info" && flavor === "sglang") return sendJSON(res, rec, 200, { model_path: model, is_generation: true });
    if (g && path === "/api/version" && flavor === "ollama") return sendJSON(res, rec, 200, { version: "0.12.11" });
    if (g && path === "/props" && flavor === "llama-server")
      return sendJSON(res, rec, 200, {
        model_path: `/models/${model}.gguf`,
        chat_template: "double",
        build_info: "b6000-double",
        default_generation_settings: { n_ctx: 4096 },
      });
    if (!g && body === undefined) throw new HttpFault(400, "missing request body");
    if (!g && path === "/v1/chat/completions") return chat(body!, res, rec, fault);
    if (!g && path === "/v1/completions") return completions(body!, res, rec, fault);
    if (!g && path === "/tokenize" && (flavor === "vllm" || flavor === "sglang")) return vllmTokenize(body!, res, rec);
    if (!g && path === "/tokenize" && flavor === "llama-server") {
      const content = String(body!.content ?? "");
      const toks = body!.add_special === true ? [BOS, ...tokenize(content)] : tokenize(content);
      return sendJSON(res, rec, 200, { tokens: body!.with_pieces === true ? toks.map((t) => ({ id: tokenId(t), piece: t })) : toks.map(tokenId) });
    }
    if (!g && path === "/apply-template" && flavor === "llama-server") {
      const messages = (body!.messages as DoubleMessage[]) ?? [];
      const continueFinal = body!.continue_final_message === true;
      return sendJSON(res, rec, 200, { prompt: renderChat(messages, { addGenerationPrompt: !continueFinal, continueFinal }) });
    }
    if (!g && path === "/generate" && flavor === "sglang") return sglangGenerate(body!, res, rec);
    throw new HttpFault(404, flavor === "openai" || flavor === "ollama" ? `404 page not found` : `Not Found: ${path}`);
  }

  const server = createServer((req, res) => {
    const rec: RequestRecord = {
      method: req.method ?? "GET",
      path: (req.url ?? "/").split("?")[0],
      body: undefined,
      authorization: req.headers.authorization,
      status: 0,
      startedAt: Date.now(),
      aborted: false,
      tokensSent: 0,
    };
    requests.push(rec);
    res.on("close", () => {
      rec.endedAt = Date.now();
      if (!res.writableFinished) rec.aborted = true;
    });
    route(req, res, rec).catch((err) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const status = err instanceof HttpFault ? err.status : 500;
      const headers = err instanceof HttpFault ? err.headers : {};
      sendJSON(res, rec, status, errorBody(status, err instanceof Error ? err.message : String(err)), headers);
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    baseURL: `${url}/v1`,
    model,
    flavor,
    requests,
    promptTokens: promptCounts,
    pushFault: (...f) => faults.push(...f),
    close: async () => {
      closed = true;
      for (const r of hanging) r.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Short alias: `start({port: 0, flavor: "vllm", ...})`. */
export const start = startProtocolDouble;
