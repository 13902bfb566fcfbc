// "Without answer" chains (SCIENCE.md §1, Sanitization). With a sanitizer model: ask it with
// SANITIZER_INSTRUCTION, then keep only output sentences that match an original sentence
// (verifySanitized), so nothing invented or rephrased survives. Without one, or when the model
// fails: the rule-based remover.
import { collect } from "../backends/types.js";
import { afterThinking } from "../core/answers.js";
import { removeAnswerSentences, sanitizerPrompt, verifySanitized } from "../core/sanitize.js";
import { thinkingPrefill } from "../core/thinking.js";
import { oneLine } from "../errors.js";
import { CancelledError, isAbort } from "./abort.js";
import type { ModelHandle } from "./models.js";

export interface SanitizeOptions {
  /** The sanitizer model; rule-based removal when absent. */
  sanitizer?: ModelHandle;
  /** The source's final answer, when known (helps the rules catch a concluding sentence). */
  answer?: string;
  mode?: "concord" | "paper";
  signal?: AbortSignal;
}

export interface SanitizeResult {
  text: string;
  method: "llm" | "rules";
  /** Sentences the rules removed (rules method). */
  removed: string[];
  /** Sanitizer output sentences that matched no original sentence and were dropped (llm method). */
  dropped: string[];
  /** Why the rules were used although a sanitizer model was given. */
  fallback?: string;
}

export function sanitizeByRules(cot: string, opts: Pick<SanitizeOptions, "answer" | "mode"> = {}): SanitizeResult {
  const r = removeAnswerSentences(cot, { answer: opts.answer, mode: opts.mode });
  return { text: r.kept.trim(), method: "rules", removed: r.removed.map((s) => s.text.trim()), dropped: [] };
}

export async function sanitizeCot(cot: string, opts: SanitizeOptions = {}): Promise<SanitizeResult> {
  if (!cot.trim()) return { text: "", method: opts.sanitizer ? "llm" : "rules", removed: [], dropped: [] };
  const model = opts.sanitizer;
  if (!model) return sanitizeByRules(cot, opts);
  try {
    const res = await collect(
      model.backend.stream({
        // The sanitizer is asked to answer at once: its thinking block is prefilled empty.
        prompt: { kind: "chat", messages: [{ role: "user", content: sanitizerPrompt(cot) }], assistantPrefix: thinkingPrefill(model.thinkingFormat, "") },
        // The kept text is never longer than the original; leave room for formatting.
        maxTokens: Math.ceil(cot.length / 2) + 64,
        temperature: 0,
        signal: opts.signal,
      }),
    );
    if (opts.signal?.aborted) throw new CancelledError("sanitizing");
    const output = afterThinking(res.text || res.reasoning);
    const v = verifySanitized(cot, output, opts.mode ?? "concord");
    return { text: v.kept.trim(), method: "llm", removed: [], dropped: v.dropped };
  } catch (err) {
    if (isAbort(err, opts.signal)) throw err;
    return { ...sanitizeByRules(cot, opts), fallback: `${model.name}: ${oneLine(err)}` };
  }
}
