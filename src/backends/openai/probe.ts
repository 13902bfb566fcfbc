// `concord models probe` for a server: small real questions, and a check of what came back,
// not only that the request was accepted. A continuation must not repeat its prefill, token
// log-probabilities must spell the returned text, scored tokens must spell the scored text.
import type { Flavor, PrefillMethod, ProbeRecord, ScoringMethod } from "../../config/profile.js";
import { oneLine } from "../../errors.js";
import {
  BackendError,
  collect,
  type CompletionRequest,
  type CompletionResult,
  type Prompt,
  type ScoreRequest,
  type ScoreResult,
  type StreamChunk,
} from "../types.js";
import { FLAVOR_TRAITS } from "./flavors.js";
import type { Json, Transport } from "./transport.js";

export interface ProbeTarget {
  readonly transport: Transport;
  readonly fromProfile: boolean;
  flavor(signal?: AbortSignal): Promise<Flavor>;
  servedModel(signal?: AbortSignal): Promise<string | undefined>;
  stream(req: CompletionRequest): AsyncGenerator<StreamChunk, CompletionResult>;
  score(req: ScoreRequest): Promise<ScoreResult>;
  countTokens(text: string): Promise<number>;
  /** Plan with this record while probing (undefined: the flavor's defaults). */
  use(caps: ProbeRecord | undefined): void;
  /** The prefill method the last stream used (a refused one is replaced within the stream). */
  prefillInUse(flavor: Flavor): PrefillMethod;
  lastReasoningSource: ProbeRecord["reasoningField"];
}

/** Short form of an error for probe notes: without the model name prefix. */
function short(err: unknown): string {
  return oneLine(err).replace(/^model "[^"]*"( \([^)]*\))?: /, "");
}

const joined = (r: { tokens?: Array<{ token: string }> }) => (r.tokens ?? []).map((t) => t.token).join("");
/**
 * Tokens spell the text: inline thinking tags, which the stream takes out, aside, and the
 * whitespace servers add or trim where they split thinking from the answer (llama-server starts
 * reasoning_content with the "\n" its template's "<think>\n" already holds).
 */
const spells = (tokensText: string, text: string) => {
  const norm = (x: string) => x.replace(/<\/?think>|<\|[a-z_]+\|>/g, "").replace(/\s+/g, "");
  return tokensText === text || norm(tokensText) === norm(text);
};

export async function probeServer(b: ProbeTarget, signal?: AbortSignal): Promise<ProbeRecord> {
  const notes: string[] = [];
  b.use(undefined);
  const flavor = await b.flavor(signal);
  const traits = FLAVOR_TRAITS[flavor];
  notes.push(`flavor: ${flavor}${b.fromProfile ? " (from profile)" : ""}`);
  const served = await b.servedModel(signal).catch(() => undefined);
  if (served) notes.push(`serves: ${served.split(" ")[0]}`);
  const caps: ProbeRecord = { streaming: false, tokenLogprobs: false, promptScoring: false, prefill: false, reasoningField: null, notes, flavor };

  // 1. Stream a short answer with token logprobs; the logprobs must spell the answer.
  const question: Prompt = { kind: "chat", messages: [{ role: "user", content: "Name the capital of France in one short sentence." }] };
  try {
    let r: CompletionResult;
    try {
      r = await collect(b.stream({ prompt: question, maxTokens: 24, temperature: 0, logprobs: true, signal }));
    } catch (err) {
      if (!(err instanceof BackendError && err.kind === "refused")) throw err;
      notes.push(`token logprobs: refused (${short(err)})`);
      r = await collect(b.stream({ prompt: question, maxTokens: 24, temperature: 0, signal }));
    }
    caps.streaming = r.text.length + r.reasoning.length > 0;
    if (!caps.streaming) notes.push("stream: the answer was empty");
    if (r.tokens?.length) {
      caps.tokenLogprobs = spells(joined(r), r.reasoning + r.text);
      notes.push(caps.tokenLogprobs ? "chat logprobs: yes, they spell the answer" : "chat logprobs: given, but they do not spell the answer");
    } else if (!notes.some((n) => n.startsWith("token logprobs"))) notes.push("chat logprobs: asked for, none given");
    caps.reasoningField = b.lastReasoningSource;
  } catch (err) {
    // Unreachable, silent, or refusing us: nothing was learnt about the server, and a record
    // of all "no" would wrongly refuse it later. Only a server that declined the request tells us something.
    if (!(err instanceof BackendError) || err.kind !== "refused") throw err;
    notes.push(`stream: ${short(err)}`);
  }

  // 2. Raw completions with logprobs (the shape differs between servers).
  try {
    const r = await collect(b.stream({ prompt: { kind: "raw", text: "Once upon a time" }, maxTokens: 8, temperature: 0, logprobs: true, signal }));
    if (!r.tokens?.length) notes.push("completions logprobs: none given");
    else
      notes.push(spells(joined(r), r.text) ? "completions logprobs: yes, they spell the text" : "completions logprobs: given, but they do not spell the text");
  } catch (err) {
    if (!(err instanceof BackendError) || err.kind === "unreachable" || err.kind === "timeout") throw err;
    notes.push(`completions: ${short(err)}`);
  }

  // 3. Score a short text; the scored tokens must spell it. Servers expected to refuse are asked anyway, so the note says how.
  const candidate = " Paris.";
  const scoreTry = async (m: ScoringMethod, prefix: Prompt): Promise<boolean> => {
    b.use({ ...caps, scoringMethod: m });
    try {
      const r = await b.score({ prefix, candidates: [candidate], signal });
      const toks = r.candidates[0]?.tokens ?? [];
      if (!toks.length || !toks.every((t) => Number.isFinite(t.logprob) && t.logprob <= 0)) {
        notes.push(`scoring (${m}): answer had no usable log-probabilities`);
        return false;
      }
      if (toks.map((t) => t.token).join("") !== candidate) {
        notes.push(`scoring (${m}): the scored tokens do not spell the scored text`);
        return false;
      }
      return true;
    } catch (err) {
      if (err instanceof BackendError && (err.kind === "unreachable" || err.kind === "timeout")) throw err;
      notes.push(`scoring: ${short(err).replace(/^.*?scoring is unsupported on this server \((.*)\); use .*$/, "$1")}`);
      return false;
    } finally {
      b.use(undefined);
    }
  };
  const rawPrefix: Prompt = { kind: "raw", text: "The capital of France is" };
  const chatPrefix: Prompt = { ...question, assistantPrefix: "The capital of France is" };
  if (traits.scoring === "prompt_logprobs") {
    caps.promptScoring = await scoreTry("prompt_logprobs", chatPrefix);
    caps.scoringMethod = caps.promptScoring ? "prompt_logprobs" : "none";
    if (caps.promptScoring && (await scoreTry("echo", rawPrefix))) notes.push("scoring: raw text via echo works too");
  } else {
    const m = traits.scoring === "none" ? "echo" : traits.scoring;
    caps.promptScoring = await scoreTry(m, rawPrefix);
    caps.scoringMethod = caps.promptScoring ? m : "none";
  }

  // 4. Prefill: the first method whose continuation does not repeat the prefix, whose logprobs
  // spell the continuation, and (where the server shows its template) renders the prefix verbatim.
  caps.prefillMethod = "none";
  // A method that continues an open block but not a closed one: kept if nothing does both.
  let openOnly: PrefillMethod | undefined;
  for (const m of traits.prefill) {
    if (m === "none") {
      notes.push(`prefill: ${flavor} does not continue a final assistant message`);
      break;
    }
    const { why, used } = await checkPrefill(b, m, flavor, chatPrefix, question, caps, signal);
    if (used !== m) notes.push(`prefill (${m}): refused by the server`);
    if (!why) {
      caps.prefill = true;
      caps.prefillMethod = used;
      notes.push(`prefill: ${used}, verified (the continuation does not repeat the prefix)`);
      break;
    }
    if (used !== m) continue;
    if (why === CLOSED_BLOCK_REFUSED) openOnly ??= m;
    notes.push(`prefill (${m}): ${why}`);
  }
  if (!caps.prefill && openOnly) {
    caps.prefill = true;
    caps.prefillMethod = openOnly;
    notes.push(`prefill: ${openOnly} for open thinking blocks only; targets need the model's template in the profile (chatTemplate) to be rendered by Concord`);
  }

  // 5. Thinking: a continuation inside an open thinking block stays thinking.
  if (caps.prefill) {
    b.use({ ...caps });
    try {
      const r = await collect(b.stream({ prompt: { ...question, assistantPrefix: "<think>\nThe capital of France" }, maxTokens: 6, temperature: 0, signal }));
      notes.push(
        r.reasoning && !r.reasoning.includes("<think>")
          ? "thinking prefill: continues inside the open block, not refused"
          : "thinking prefill: the continuation left the thinking block",
      );
    } catch (err) {
      if (!(err instanceof BackendError) || err.kind !== "refused") throw err;
      notes.push(`thinking prefill: refused (${short(err)})`);
    } finally {
      b.use(undefined);
    }
  }

  // 6. top_k honoured: top_k 1 at a high temperature gives the greedy answer.
  if (!traits.strictParams && caps.streaming) {
    try {
      const ask = (extra: Partial<CompletionRequest>) =>
        collect(b.stream({ prompt: { kind: "raw", text: "Once upon a time" }, maxTokens: 12, signal, ...extra }));
      const greedy = await ask({ temperature: 0 });
      const a = await ask({ temperature: 2, topK: 1, seed: 1 });
      const c = await ask({ temperature: 2, topK: 1, seed: 2 });
      notes.push(a.text === greedy.text && c.text === greedy.text ? "top_k: honoured" : "top_k: ignored (top_k 1 did not give the greedy text)");
    } catch (err) {
      if (!(err instanceof BackendError) || err.kind !== "refused") throw err;
      notes.push(`top_k: refused (${short(err)})`);
    }
  }

  // 7. A tokenizer endpoint.
  try {
    const n = await b.countTokens("The capital of France is Paris.");
    notes.push(`tokenize: yes (${n} tokens for a 31-character sentence)`);
  } catch (err) {
    notes.push(`tokenize: ${short(err).replace(/^this server /, "")}`);
  }

  caps.probedAt = new Date().toISOString();
  b.use(caps);
  return caps;
}

async function checkPrefill(
  b: ProbeTarget,
  m: PrefillMethod,
  flavor: Flavor,
  chatPrefix: Prompt,
  question: Prompt,
  caps: ProbeRecord,
  signal?: AbortSignal,
): Promise<{ why: string | null; used: PrefillMethod }> {
  b.use({ ...caps, prefillMethod: m });
  let used = m;
  try {
    const why = await verifyPrefill(b, m, flavor, chatPrefix, question, signal, (u) => (used = u));
    return { why, used };
  } finally {
    b.use(undefined);
  }
}

async function verifyPrefill(
  b: ProbeTarget,
  m: PrefillMethod,
  flavor: Flavor,
  chatPrefix: Prompt,
  question: Prompt,
  signal: AbortSignal | undefined,
  setUsed: (m: PrefillMethod) => void,
): Promise<string | null> {
  try {
    const prefix = (chatPrefix as { assistantPrefix: string }).assistantPrefix;
    const r = await collect(b.stream({ prompt: chatPrefix, maxTokens: 8, temperature: 0, logprobs: true, signal }));
    setUsed(b.prefillInUse(flavor));
    if (r.finishReason === "abort") return "aborted";
    if (!r.text.trim()) return "the continuation was empty";
    if (r.text.trimStart().startsWith(prefix)) return "the server repeats the prefix before continuing";
    if (r.tokens?.length && !spells(joined(r), r.reasoning + r.text)) return "the logprobs do not spell the continuation";
    if (b.prefillInUse(flavor) === "continue_final_message" && flavor === "llama-server") {
      const kept = await templateKeepsPrefix(b.transport, question);
      if (kept) return kept;
    }
    return await closedBlockTaken(b, m, flavor, question, signal);
  } catch (err) {
    if (err instanceof BackendError && (err.kind === "unreachable" || err.kind === "timeout")) throw err;
    return short(err);
  }
}

/** What a target is sent: a closed thinking block. R1-distill's and gpt-oss's templates delete or refuse it. */
export const CLOSED_BLOCK_REFUSED = "the chat template deletes or refuses a closed thinking block (a target's chain)";

async function closedBlockTaken(b: ProbeTarget, m: PrefillMethod, flavor: Flavor, question: Prompt, signal?: AbortSignal): Promise<string | null> {
  if (question.kind !== "chat") return null;
  try {
    await collect(b.stream({ prompt: { ...question, assistantPrefix: "<think>\nThe capital is Paris.\n</think>\n\n" }, maxTokens: 2, temperature: 0, signal }));
  } catch (err) {
    if (err instanceof BackendError && err.kind === "refused") return CLOSED_BLOCK_REFUSED;
    throw err;
  }
  // A refusal the stream answered by switching methods is a refusal of this one.
  return b.prefillInUse(flavor) === m ? null : CLOSED_BLOCK_REFUSED;
}

/**
 * Does the chat template render a final assistant message verbatim after the generation
 * prompt? Some (Qwen3's, DeepSeek-R1's) rewrite it: an empty thinking block is added, or a
 * closed one removed. Checked for both shapes Concord sends: an open and a closed thinking block.
 */
async function templateKeepsPrefix(t: Transport, question: Prompt): Promise<string | null> {
  if (question.kind !== "chat") return null;
  let plain: Json;
  try {
    plain = await t.post<Json>("/apply-template", { messages: question.messages }, "applying the chat template");
  } catch {
    return null; // no template endpoint to check with
  }
  for (const prefix of ["<think>\nThe capital", "<think>\nThe capital is Paris.\n</think>\n\nParis"]) {
    const cont = await t.post<Json>(
      "/apply-template",
      { messages: [...question.messages, { role: "assistant", content: prefix }], continue_final_message: true, add_generation_prompt: false },
      "applying the chat template",
    );
    if (typeof plain.prompt === "string" && cont.prompt !== plain.prompt + prefix)
      return "the chat template rewrites a final assistant message that holds a thinking block";
  }
  return null;
}
