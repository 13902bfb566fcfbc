// Scoring given text on a server, one strategy per wire method: vLLM's prompt_logprobs on a
// chat prompt, /v1/completions with echo on raw text, SGLang's native /generate. A server that
// refuses (or silently ignores) the method gives a one-line "unsupported" naming the way out;
// a prompt that is too long, a down server or a bad key stay what they are.
import type { Flavor, ModelProfile, ScoringMethod } from "../../config/profile.js";
import { BackendError, type Prompt, type ScoredText, type ScoreRequest, type ScoreResult, type TokenLogprob } from "../types.js";
import { FLAVOR_TRAITS } from "./flavors.js";
import { exactPromptText, readLogprobs } from "./stream.js";
import type { Json, Transport } from "./transport.js";

export interface ScoringContext {
  readonly name: string;
  readonly profile: ModelProfile;
  readonly transport: Transport;
  /** The probe's reason for a "none", when it recorded one. */
  readonly scoringNote?: string;
}

function unsupported(ctx: ScoringContext, flavor: Flavor, why?: string): BackendError {
  const reason = why ? ` (${why})` : "";
  return new BackendError(
    // Never suggest a server of the very kind that just refused.
    `model "${ctx.name}" (${flavor}): scoring is unsupported on this server${reason}; use an embedded model as evaluator${flavor === "vllm" ? "" : ", or a vLLM server"}`,
    ctx.name,
    undefined,
    false,
    "refused",
  );
}

/** A refusal of the method itself becomes "unsupported"; anything else is passed on as it is. */
function asUnsupported(ctx: ScoringContext, flavor: Flavor, err: unknown): unknown {
  if (err instanceof BackendError && (err.kind === "refused" || err.kind === "not-found"))
    return unsupported(ctx, flavor, err.message.replace(/^model "[^"]*": /, ""));
  return err;
}

export async function scoreOn(ctx: ScoringContext, req: ScoreRequest, flavor: Flavor, method: ScoringMethod, model: string): Promise<ScoreResult> {
  if (method === "none") throw unsupported(ctx, flavor, ctx.scoringNote);
  // Fixed bytes (the paper reading): rendered here and scored as raw text.
  if (req.prefix.kind === "chat" && req.prefix.exact)
    req = { ...req, prefix: { kind: "raw", text: await exactPromptText(ctx, flavor, req.prefix, req.signal) } };
  if (req.prefix.kind === "chat") {
    if (method !== "prompt_logprobs") throw unsupported(ctx, flavor, "it can score raw text only; a chat prompt needs vLLM's prompt_logprobs");
    return scoreChat(ctx, req, req.prefix, model, flavor);
  }
  if (method === "sglang_generate") return scoreSglang(ctx, req, req.prefix.text, flavor);
  return scoreEcho(ctx, req, req.prefix.text, model, flavor);
}

/** Token count of a text by the server's own tokenizer, or undefined when it has none. */
export async function serverTokenCount(t: Transport, flavor: Flavor, body: Json, signal?: AbortSignal): Promise<number | undefined> {
  try {
    const r = await t.post<{ count?: number; tokens?: unknown[] }>("/tokenize", body, "tokenizing", signal, { retries: false });
    return r.count ?? r.tokens?.length;
  } catch (err) {
    if (err instanceof BackendError && (err.kind === "refused" || err.kind === "not-found" || err.kind === "not-api")) return undefined;
    throw err;
  }
}

/** vLLM chat: the candidate as an open assistant message, prompt_logprobs, split by the prefix's token count. */
async function scoreChat(
  ctx: ScoringContext,
  req: ScoreRequest,
  prefix: Extract<Prompt, { kind: "chat" }>,
  model: string,
  flavor: Flavor,
): Promise<ScoreResult> {
  const ap = prefix.assistantPrefix ?? "";
  const prefixMessages = ap ? [...prefix.messages, { role: "assistant", content: ap }] : prefix.messages;
  const count = await serverTokenCount(
    ctx.transport,
    flavor,
    { model, messages: prefixMessages, add_generation_prompt: !ap, continue_final_message: !!ap },
    req.signal,
  );
  if (typeof count !== "number") throw unsupported(ctx, flavor, "/tokenize gave no token count");
  let evaluated = 0;
  let cached: number | undefined;
  const one = async (cand: string): Promise<ScoredText> => {
    const body = {
      model,
      messages: [...prefix.messages, { role: "assistant", content: ap + cand }],
      continue_final_message: true,
      add_generation_prompt: false,
      max_tokens: 1,
      temperature: 0,
      prompt_logprobs: 1,
      ...(ctx.profile.extra ?? {}),
    };
    let res: Json;
    try {
      res = await ctx.transport.post<Json>("/v1/chat/completions", body, "scoring", req.signal, { observe: req.observe });
    } catch (err) {
      throw asUnsupported(ctx, flavor, err);
    }
    const plp = res.prompt_logprobs as Array<Record<string, { logprob: number; rank?: number; decoded_token?: string }> | null> | undefined;
    if (!Array.isArray(plp)) throw unsupported(ctx, flavor, "the answer has no prompt_logprobs");
    const fromCache = cachedTokensOf(res.usage);
    if (fromCache !== undefined) cached = (cached ?? 0) + fromCache;
    evaluated += plp.length - (fromCache ?? 0);
    return splitScored(
      ctx,
      plp.map((e) => (e ? pickPromptToken(e) : null)),
      count,
      req.includePrefix,
    );
  };
  // The first candidate alone, so that the rest find the shared prefix in the server's cache.
  const [head, ...rest] = req.candidates;
  const candidates = head === undefined ? [] : [await one(head), ...(await Promise.all(rest.map(one)))];
  return { candidates, evaluatedTokens: evaluated, ...(cached !== undefined ? { cachedTokens: cached } : {}) };
}

/** `usage.prompt_tokens_details.cached_tokens` (vLLM, SGLang, OpenAI), when the server reports it. */
export function cachedTokensOf(usage: unknown): number | undefined {
  const details = (usage as { prompt_tokens_details?: { cached_tokens?: unknown } } | undefined)?.prompt_tokens_details;
  const n = details?.cached_tokens;
  return typeof n === "number" && Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** Raw text: /v1/completions with echo, one request for all candidates. */
async function scoreEcho(ctx: ScoringContext, req: ScoreRequest, prefix: string, model: string, flavor: Flavor): Promise<ScoreResult> {
  const tokenizeBody = FLAVOR_TRAITS[flavor].tokenizeBody;
  // No tokenizer endpoint (Together): split by text offset below.
  const count = await serverTokenCount(
    ctx.transport,
    flavor,
    tokenizeBody ? { ...tokenizeBody(prefix, model), add_special_tokens: true, add_special: true } : { model, prompt: prefix },
    req.signal,
  );
  const ask = async (texts: string[]): Promise<Json> => {
    const body = { model, prompt: texts.map((c) => prefix + c), echo: true, logprobs: 1, max_tokens: 0, temperature: 0, ...(ctx.profile.extra ?? {}) };
    try {
      return await ctx.transport.post<Json>("/v1/completions", body, "scoring", req.signal, { observe: req.observe });
    } catch (err) {
      throw asUnsupported(ctx, flavor, err);
    }
  };
  const byIndex = (res: Json, offset: number) =>
    ((res.choices as Json[] | undefined) ?? [])
      .map((ch): Json => ({ ...ch, index: Number(ch.index ?? 0) + offset }))
      .sort((a, b) => Number(a.index) - Number(b.index));
  // Several candidates: the first alone, so that the rest find the shared prefix in the server's cache.
  const first = await ask(req.candidates.slice(0, 1));
  const rest = req.candidates.length > 1 ? await ask(req.candidates.slice(1)) : undefined;
  const fromCache = [first, rest].map((r) => (r ? cachedTokensOf(r.usage) : undefined));
  const cached = fromCache.some((n) => n !== undefined) ? fromCache.reduce<number>((a, n) => a + (n ?? 0), 0) : undefined;
  const choices = [...byIndex(first, 0), ...(rest ? byIndex(rest, 1) : [])];
  if (choices.length !== req.candidates.length) throw unsupported(ctx, flavor, `asked to score ${req.candidates.length} texts, got ${choices.length} answers`);
  let evaluated = 0;
  const candidates = choices.map((ch) => {
    const full = prefix + req.candidates[Number(ch.index ?? 0)];
    const raw = ch.logprobs as { token_logprobs?: Array<number | null>; text_offset?: number[] } | null | undefined;
    const list = readLogprobs(ch.logprobs);
    // A server that ignores echo (llama-server) answers with generated tokens only: no prompt log-probabilities.
    const echoed = list.length > 0 && (count !== undefined ? list.length > count : typeof ch.text === "string" && ch.text.startsWith(full));
    if (!echoed) throw unsupported(ctx, flavor, "the server ignored echo: no prompt log-probabilities in its answer");
    evaluated += list.length;
    const n = count ?? splitByOffset(raw?.text_offset, prefix.length);
    if (n === undefined || list.length < n) throw unsupported(ctx, flavor, "echoed tokens do not cover the prefix");
    const picked = list.map((t, i) => (raw?.token_logprobs?.[i] === null ? null : t));
    return splitScored(ctx, picked, n, req.includePrefix);
  });
  return { candidates, evaluatedTokens: evaluated - (cached ?? 0), ...(cached !== undefined ? { cachedTokens: cached } : {}) };
}

/** SGLang native /generate: input_token_logprobs from logprob_start_len. */
async function scoreSglang(ctx: ScoringContext, req: ScoreRequest, prefix: string, flavor: Flavor): Promise<ScoreResult> {
  const gen = (text: string, start: number) =>
    ctx.transport
      .post<Json>(
        "/generate",
        { text, sampling_params: { max_new_tokens: 0, temperature: 0 }, return_logprob: true, logprob_start_len: start, return_text_in_logprobs: true },
        "scoring",
        req.signal,
      )
      .catch((err) => {
        throw asUnsupported(ctx, flavor, err);
      });
  const pre = await gen(prefix, 0);
  const preList = (pre.meta_info as Json | undefined)?.input_token_logprobs as unknown[] | undefined;
  if (!Array.isArray(preList)) throw unsupported(ctx, flavor, "/generate gave no input_token_logprobs");
  const count = preList.length;
  let evaluated = count;
  let cached: number | undefined;
  const candidates = await Promise.all(
    req.candidates.map(async (cand) => {
      const start = req.includePrefix ? 0 : count;
      const r = await gen(prefix + cand, start);
      const list = ((r.meta_info as Json | undefined)?.input_token_logprobs as Array<[number | null, number, string?]>) ?? [];
      evaluated += list.length;
      // SGLang reports its radix-cache hits as meta_info.cached_tokens.
      const hit = (r.meta_info as Json | undefined)?.cached_tokens;
      if (typeof hit === "number" && hit >= 0) cached = (cached ?? 0) + hit;
      const picked: Array<TokenLogprob | null> = Array(start).fill(null);
      for (const [lp, id, t] of list) picked.push(lp == null ? null : { token: t ?? String(id), logprob: lp });
      return splitScored(ctx, picked, count, req.includePrefix);
    }),
  );
  return { candidates, evaluatedTokens: evaluated, ...(cached !== undefined ? { cachedTokens: cached } : {}) };
}

function splitScored(ctx: ScoringContext, picked: Array<TokenLogprob | null>, prefixCount: number, includePrefix?: boolean): ScoredText {
  const tokens = picked.slice(prefixCount).map((t) => {
    if (!t) throw new BackendError(`model "${ctx.name}": a candidate token came back without a log-probability`, ctx.name);
    return t;
  });
  const out: ScoredText = { tokens };
  if (includePrefix) out.prefixTokens = picked.slice(0, prefixCount).filter((t): t is TokenLogprob => t !== null);
  return out;
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
