// A chat template applied to a request with a prefill, two ways: as servers built on Hugging
// Face's apply_chat_template continue a final assistant message (vLLM, SGLang), and as Concord
// renders it itself for a raw completion. Pure: the template comes as a render function.
import type { ChatMessage } from "./types.js";
import { pyStrip } from "./paper-grade.js";
import { prefillAfterTemplate, type ThinkingFormat } from "./thinking.js";

export interface TemplateVars {
  messages: Array<{ role: string; content: string }>;
  add_generation_prompt: boolean;
}

export type RenderTemplate = (vars: TemplateVars) => string;

/**
 * continue_final_message: the conversation rendered with the prefill as its last assistant
 * message, cut just after that message's stripped text. Null where the template deletes or
 * rewrites the message (the server then refuses: "the final message does not appear in the
 * chat after applying the chat template"), as R1-distill templates do with a closed thinking block.
 */
export function continueFinalMessage(render: RenderTemplate, messages: readonly ChatMessage[], prefill: string): string | null {
  const rendered = render({ messages: [...messages, { role: "assistant", content: prefill }], add_generation_prompt: false });
  const final = pyStrip(prefill);
  const at = rendered.lastIndexOf(final);
  if (at < 0) return null;
  return rendered.slice(0, at + final.length);
}

/** What Concord sends as a raw completion: the generation prompt, then the prefill (its opening not doubled). */
export function renderWithPrefill(render: RenderTemplate, messages: readonly ChatMessage[], prefill: string, format: ThinkingFormat): string {
  const head = render({ messages: [...messages], add_generation_prompt: true });
  return head + prefillAfterTemplate(format, head, prefill);
}
