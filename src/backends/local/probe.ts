// The embedded engine's probe: one short generation and one scoring on the loaded model.
import { oneLine } from "../../errors.js";
import type { Capabilities, CompletionRequest, CompletionResult, ScoreRequest, ScoreResult, StreamChunk } from "../types.js";
import type { ModelLease } from "./pool.js";
import { describeChatFormat, type ChatFormat } from "./prompt.js";

export interface LocalProbeTarget {
  stream(req: CompletionRequest): AsyncGenerator<StreamChunk, CompletionResult>;
  score(req: ScoreRequest): Promise<ScoreResult>;
  format: ChatFormat;
  /** The tag that opens a thinking block. */
  thinkOpen: string;
}

export async function probeLocal(b: LocalProbeTarget, lease: ModelLease, signal?: AbortSignal): Promise<Capabilities> {
  const notes: string[] = [];
  notes.push(
    `local GGUF ${lease.path}; context ${lease.context.contextSize} tokens x ${lease.sequences.size} sequences; ` +
      `${lease.kvCache} KV cache; ${lease.threads} thread(s); ${lease.gpu === false ? "CPU" : `GPU ${lease.gpu}`}`,
  );
  notes.push(describeChatFormat(b.format));
  let streaming = false;
  let tokenLogprobs = false;
  let sawReasoning = false;
  try {
    let chunks = 0;
    const gen = b.stream({
      prompt: { kind: "chat", messages: [{ role: "user", content: "Say hello." }] },
      maxTokens: 4,
      temperature: 0,
      logprobs: true,
      signal,
    });
    let result: CompletionResult | undefined;
    for (;;) {
      const n = await gen.next();
      if (n.done) {
        result = n.value;
        break;
      }
      chunks++;
      if (n.value.channel === "reasoning") sawReasoning = true;
    }
    streaming = chunks > 0 || result.finishReason === "stop";
    tokenLogprobs = (result.tokens?.length ?? 0) > 0 && result.tokens!.every((t) => Number.isFinite(t.logprob));
  } catch (err) {
    notes.push(`generation failed: ${oneLine(err)}`);
  }
  let promptScoring = false;
  try {
    const r = await b.score({
      prefix: { kind: "chat", messages: [{ role: "user", content: "Say hello." }] },
      candidates: ["Hello."],
      signal,
    });
    promptScoring = r.candidates[0]!.tokens.length > 0 && r.candidates[0]!.tokens.every((t) => Number.isFinite(t.logprob));
  } catch (err) {
    notes.push(`scoring failed: ${oneLine(err)}`);
  }
  const template = (lease.model.fileInfo.metadata as { tokenizer?: { chat_template?: unknown } }).tokenizer?.chat_template;
  const inline = sawReasoning || (typeof template === "string" && template.includes(b.thinkOpen));
  return { streaming, tokenLogprobs, promptScoring, prefill: true, reasoningField: inline ? "inline" : null, notes };
}
