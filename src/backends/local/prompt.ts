// Turns a Prompt into tokens for a loaded GGUF model.
import { Template } from "@huggingface/jinja";
import type { ChatHistoryItem, ChatWrapper, LlamaModel, Token } from "node-llama-cpp";
import { loadedNodeLlamaCpp } from "./llama-module.js";
import type { ChatMessage, Prompt } from "../types.js";

/**
 * The template used for models whose GGUF carries no chat template (stories260K has none):
 * one line per message, "System: ...", "User: ...", "Assistant: ...", then "Assistant: "
 * followed by the assistant prefix. The whole text is tokenized in one piece after BOS.
 */
export function plainChatText(messages: ChatMessage[], assistantPrefix = ""): string {
  const label = { system: "System", user: "User", assistant: "Assistant" } as const;
  return messages.map((m) => `${label[m.role]}: ${m.content}\n`).join("") + "Assistant: " + assistantPrefix;
}

/**
 * How a model's chat prompts are built:
 *  - `jinja`: the file's own template rendered with add_generation_prompt (faithful, so a
 *    template that already opens a thinking block is seen);
 *  - `wrapper`: node-llama-cpp's built-in wrapper, when the template cannot be rendered here;
 *  - `plain`: no template in the file, plainChatText.
 */
export type ChatFormat = { kind: "jinja"; template: Template; source: string } | { kind: "wrapper"; wrapper: ChatWrapper } | { kind: "plain" };

export function chatFormatFor(model: LlamaModel): ChatFormat {
  const md = model.fileInfo.metadata as { tokenizer?: { chat_template?: unknown } };
  const source = md.tokenizer?.chat_template;
  if (typeof source !== "string" || source.trim() === "") return { kind: "plain" };
  try {
    const template = new Template(source);
    const format: ChatFormat = { kind: "jinja", template, source };
    renderJinja(model, format, [{ role: "user", content: "x" }]);
    return format;
  } catch {
    // A model exists, so node-llama-cpp is loaded.
    const wrapper = loadedNodeLlamaCpp().resolveChatWrapper(model, { warningLogs: false });
    return wrapper ? { kind: "wrapper", wrapper } : { kind: "plain" };
  }
}

export function describeChatFormat(format: ChatFormat): string {
  if (format.kind === "jinja") return "chat template: the model's own (Jinja)";
  if (format.kind === "wrapper") return `chat template: node-llama-cpp ${format.wrapper.wrapperName}`;
  return "no chat template in the file: plain System/User/Assistant template";
}

function withBos(model: LlamaModel, tokens: Token[]): Token[] {
  const bos = model.tokens.bos;
  if (model.tokens.shouldPrependBosToken && bos != null && tokens[0] !== bos) return [bos, ...tokens];
  return tokens;
}

/**
 * Tokens for text that follows earlier tokens (a candidate, a prefill): no BOS and no
 * SentencePiece dummy leading space, i.e. the tokens a generator would have produced.
 * Special-token text in it is NOT parsed into control tokens (model text is untrusted).
 */
export function continuationTokens(model: LlamaModel, text: string): Token[] {
  return text === "" ? [] : model.tokenize(text, false, "trimLeadingSpace");
}

/**
 * Renders the template with placeholders for the message texts, so that template text is
 * tokenized with special tokens and message text without (a message cannot forge one).
 * Returns the token list and the rendered text (for inspection).
 */
function renderJinja(
  model: LlamaModel,
  format: Extract<ChatFormat, { kind: "jinja" }>,
  messages: ChatMessage[],
  vars: Record<string, unknown> = {},
): { tokens: Token[]; text: string } {
  const marks = messages.map((_, i) => `\u0001CONCORD_MESSAGE_${i}\u0001`);
  const rendered = format.template.render({
    messages: messages.map((m, i) => ({ role: m.role, content: marks[i] })),
    add_generation_prompt: true,
    ...vars,
    bos_token: model.tokens.bosString ?? "",
    eos_token: model.tokens.eosString ?? "",
  });
  const tokens: Token[] = [];
  let text = "";
  let rest = rendered;
  let first = true;
  const pushTemplate = (piece: string) => {
    if (!piece) return;
    tokens.push(...model.tokenize(piece, true, first ? undefined : "trimLeadingSpace"));
    text += piece;
    first = false;
  };
  for (;;) {
    let at = -1;
    let which = -1;
    marks.forEach((m, i) => {
      const k = rest.indexOf(m);
      if (k >= 0 && (at < 0 || k < at)) {
        at = k;
        which = i;
      }
    });
    if (at < 0) break;
    pushTemplate(rest.slice(0, at));
    const content = messages[which]!.content;
    if (content) {
      tokens.push(...model.tokenize(content, false, first ? undefined : "trimLeadingSpace"));
      text += content;
      first = false;
    }
    rest = rest.slice(at + marks[which]!.length);
  }
  pushTemplate(rest);
  return { tokens: withBos(model, tokens), text };
}

/**
 * `raw`: BOS (when the model wants one) + the text, special-token text parsed (the caller
 * writes the whole prompt, template tokens included).
 * `chat`: the chat template with a generation prompt, then `assistantPrefix` appended as a
 * continuation. When the generation prompt already ends with the open thinking tag and the
 * prefix starts with it too, the tag is not doubled.
 */
export function promptTokens(model: LlamaModel, prompt: Prompt, format: ChatFormat, thinkOpen = "<think>", vars: Record<string, string> = {}): Token[] {
  if (prompt.kind === "raw") return withBos(model, model.tokenize(prompt.text, true));
  if (prompt.exact) return exactPromptTokens(model, prompt, format).tokens;
  let prefix = prompt.assistantPrefix ?? "";
  if (format.kind === "plain") return withBos(model, model.tokenize(plainChatText(prompt.messages, prefix), false));
  let head: Token[];
  let headText: string;
  if (format.kind === "jinja") {
    ({ tokens: head, text: headText } = renderJinja(model, format, prompt.messages, vars));
  } else {
    const history: ChatHistoryItem[] = prompt.messages.map((m): ChatHistoryItem => {
      if (m.role === "system") return { type: "system", text: m.content };
      if (m.role === "user") return { type: "user", text: m.content };
      return { type: "model", response: [m.content] };
    });
    history.push({ type: "model", response: [] });
    const { contextText } = format.wrapper.generateContextState({ chatHistory: history });
    head = withBos(model, contextText.tokenize(model.tokenizer));
    headText = contextText.toString();
  }
  if (thinkOpen && headText.trimEnd().endsWith(thinkOpen) && prefix.startsWith(thinkOpen)) {
    prefix = prefix.slice(thinkOpen.length).replace(/^\n/, "");
  }
  return [...head, ...continuationTokens(model, prefix)];
}

/**
 * A fixed-bytes prompt (the paper reading): the file's own template rendered with the prompt's
 * variables, then the prefix exactly, its marker tags as the model's tokens and the rest as
 * text. Only the file's Jinja template gives the exact bytes; anything else is refused.
 */
export function exactPromptTokens(model: LlamaModel, prompt: Extract<Prompt, { kind: "chat" }>, format: ChatFormat): { tokens: Token[]; text: string } {
  if (format.kind !== "jinja")
    throw new Error(
      format.kind === "plain"
        ? "the paper reading sends the authors' exact prompt text, and this GGUF has no chat template: use a GGUF that carries the model's template"
        : "the paper reading sends the authors' exact prompt text, and this GGUF's chat template cannot be rendered here: serve it with llama-server and set chatTemplate in its profile",
    );
  // As the server path renders it (openai/chat-template.ts): thinking on, as the authors' templates had it.
  const head = renderJinja(model, format, prompt.messages, { enable_thinking: true, ...prompt.exact?.vars });
  const tokens = [...head.tokens];
  const prefix = prompt.assistantPrefix ?? "";
  for (const piece of splitMarkers(prefix, prompt.exact?.markers ?? [])) {
    tokens.push(...(piece.marker ? model.tokenize(piece.text, true, "trimLeadingSpace") : continuationTokens(model, piece.text)));
  }
  return { tokens, text: head.text + prefix };
}

/** Text cut into marker and non-marker pieces, in order (pieces joined give the text back). */
export function splitMarkers(text: string, markers: readonly string[]): Array<{ text: string; marker: boolean }> {
  const out: Array<{ text: string; marker: boolean }> = [];
  let rest = text;
  while (rest) {
    let at = -1;
    let found = "";
    for (const m of markers) {
      const k = m ? rest.indexOf(m) : -1;
      if (k >= 0 && (at < 0 || k < at || (k === at && m.length > found.length))) {
        at = k;
        found = m;
      }
    }
    if (at < 0) {
      out.push({ text: rest, marker: false });
      break;
    }
    if (at > 0) out.push({ text: rest.slice(0, at), marker: false });
    out.push({ text: found, marker: true });
    rest = rest.slice(at + found.length);
  }
  return out;
}
