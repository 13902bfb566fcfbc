// "Without answer" chains (SCIENCE.md §1, Sanitization), made by the sanitizer a run names:
// a model, or the rule-based remover when the run names "rules". A model that fails stops the
// run; the rules are never a silent stand-in for it.
//
// Paper reading: the authors' request (openai_remove_answer.py): their prompt in a plain chat
// message, their reasoning effort, no sampling fields, and the reply used as is.
// Concord reading: Concord's instruction, with the thinking block prefilled empty where the
// server can continue a prefill (else a plain chat request), and only output sentences that
// match an original sentence kept (verifySanitized), so nothing invented or rephrased survives.
import { BackendError, collect, type CompletionRequest } from "../backends/types.js";
import { afterThinking } from "../core/answers.js";
import { PAPER_SANITIZER_EFFORT, paperSanitizerPrompt, paperThinkText } from "../core/paper-prompt.js";
import { removeAnswerSentences, sanitizerPrompt, verifySanitized } from "../core/sanitize.js";
import { thinkingPrefill } from "../core/thinking.js";
import { oneLine, UserError } from "../errors.js";
import { CancelledError, isAbort } from "./abort.js";
import type { ModelHandle } from "./models.js";

/** The name a run gives to choose the rule-based remover as its sanitizer. */
export const RULES_SANITIZER = "rules";

/**
 * How a chain was sanitized: `prefill` (Concord's instruction, empty thinking block prefilled,
 * output verified), `chat` (Concord's instruction as a plain chat request, output verified),
 * `paper` (the authors' request, output as is), `rules` (the rule-based remover).
 */
export type SanitizeMethod = "prefill" | "chat" | "paper" | "rules";

/** Room a plain request leaves for the sanitizer's own reasoning (a reasoning model spends it before answering). */
export const SANITIZER_REASONING_TOKENS = 32_768;

export interface SanitizeOptions {
  /** The sanitizer model; the rule-based remover when absent. */
  sanitizer?: ModelHandle;
  /** The source's final answer, when known (helps the rules catch a concluding sentence). */
  answer?: string;
  mode?: "concord" | "paper";
  signal?: AbortSignal;
}

export interface SanitizeResult {
  text: string;
  method: SanitizeMethod;
  /** Sentences the rules removed (rules method). */
  removed: string[];
  /** Sanitizer output sentences that matched no original sentence and were dropped (verified methods). */
  dropped: string[];
}

/** The configured sanitizer model failed: the run stops with this one line. */
export class SanitizerError extends UserError {}

export function sanitizeByRules(cot: string, opts: Pick<SanitizeOptions, "answer" | "mode"> = {}): SanitizeResult {
  const r = removeAnswerSentences(cot, { answer: opts.answer, mode: opts.mode });
  return { text: r.kept.trim(), method: "rules", removed: r.removed.map((s) => s.text.trim()), dropped: [] };
}

/** The request sent to a sanitizer model for one chain, and the method it stands for. */
export function sanitizerRequest(
  cot: string,
  model: Pick<ModelHandle, "thinkingFormat" | "canPrefill">,
  mode: "concord" | "paper",
): { method: Exclude<SanitizeMethod, "rules">; request: Omit<CompletionRequest, "signal"> } {
  // The kept text is never longer than the original; leave room for formatting.
  const answerRoom = Math.ceil(cot.length / 2) + 64;
  if (mode === "paper")
    return {
      method: "paper",
      request: {
        prompt: { kind: "chat", messages: [{ role: "user", content: paperSanitizerPrompt(paperThinkText(cot)) }] },
        maxTokens: answerRoom + SANITIZER_REASONING_TOKENS,
        reasoningEffort: PAPER_SANITIZER_EFFORT,
      },
    };
  const messages = [{ role: "user" as const, content: sanitizerPrompt(cot) }];
  if (model.canPrefill === false)
    // No temperature: OpenAI's reasoning models take only their default.
    return { method: "chat", request: { prompt: { kind: "chat", messages }, maxTokens: answerRoom + SANITIZER_REASONING_TOKENS } };
  // Asked to answer at once: the thinking block is prefilled empty.
  return {
    method: "prefill",
    request: { prompt: { kind: "chat", messages, assistantPrefix: thinkingPrefill(model.thinkingFormat, "") }, maxTokens: answerRoom, temperature: 0 },
  };
}

export async function sanitizeCot(cot: string, opts: SanitizeOptions = {}): Promise<SanitizeResult> {
  const model = opts.sanitizer;
  if (!model) return sanitizeByRules(cot, opts);
  const mode = opts.mode ?? "concord";
  const { method, request } = sanitizerRequest(cot, model, mode);
  if (!cot.trim()) return { text: "", method, removed: [], dropped: [] };
  let res;
  try {
    res = await collect(model.backend.stream({ ...request, signal: opts.signal }));
  } catch (err) {
    if (isAbort(err, opts.signal)) throw err;
    const why = err instanceof BackendError ? oneLine(err).replace(/^model "[^"]*"( \([^)]*\))?: /, "") : oneLine(err);
    throw new SanitizerError(`sanitizer "${model.name}" failed: ${why}`);
  }
  if (opts.signal?.aborted) throw new CancelledError("sanitizing");
  if (mode === "paper") {
    // Used as is, a reply cut by the budget would be a cut chain. (Verified, it only keeps fewer sentences.)
    if (res.finishReason === "length")
      throw new SanitizerError(
        `sanitizer "${model.name}" failed: its reply was cut off (the ${request.maxTokens}-token budget or the server's context ran out)`,
      );
    return { text: paperThinkText(res.text), method, removed: [], dropped: [] };
  }
  const output = afterThinking(res.text || res.reasoning);
  const v = verifySanitized(cot, output, mode);
  return { text: v.kept.trim(), method, removed: [], dropped: v.dropped };
}
