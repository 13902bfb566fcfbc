// Thinking formats (SCIENCE.md §1, "How a CoT is inserted into a target's thinking context").
// What is appended after the templated generation prompt so that the target answers from a
// given chain of thought, and how to read a reply back into reasoning and answer.

export type ThinkingFormat = "think-tags" | "openthinker" | "harmony" | "none";

export const THINKING_FORMATS: readonly ThinkingFormat[] = ["think-tags", "openthinker", "harmony", "none"];

interface FormatMarkers {
  /** The opening of the thinking block, in the pieces a chat template may already end with. */
  open: string[];
  /** Closes the thinking block. */
  close: string;
  /** Opens the answer after the closed block. */
  answer: string;
}

// "none" (a non-reasoning instruct model) is asked to reason in one <think></think> block and
// is prefilled the same way as think-tags models.
const MARKERS: Record<ThinkingFormat, FormatMarkers> = {
  "think-tags": { open: ["<think>"], close: "</think>", answer: "" },
  none: { open: ["<think>"], close: "</think>", answer: "" },
  openthinker: { open: ["<|begin_of_thought|>"], close: "<|end_of_thought|>", answer: "<|begin_of_solution|>" },
  harmony: {
    open: ["<|start|>", "assistant", "<|channel|>", "analysis", "<|message|>"],
    close: "<|end|>",
    answer: "<|start|>assistant<|channel|>final<|message|>",
  },
};

/** The marker that ends the thinking block in this format. */
export function endOfThoughtMarker(format: ThinkingFormat): string {
  return MARKERS[format].close;
}

/** Every end-of-thought marker Concord knows. */
export const END_OF_THOUGHT_MARKERS: readonly string[] = ["</think>", "<|end_of_thought|>", "<|end|>"];

/** Whether the text contains the end-of-thought marker (of `format`, or any known one). */
export function isEndOfThought(text: string, format?: ThinkingFormat): boolean {
  const markers = format ? [endOfThoughtMarker(format)] : END_OF_THOUGHT_MARKERS;
  return markers.some((m) => text.includes(m));
}

/**
 * The opening of the thinking block, minus whatever the template already ends with (QwQ's
 * template ends with "<think>\n"; gpt-oss's with "<|start|>assistant"), so no tag is doubled.
 */
function openerAfter(format: ThinkingFormat, templatedPromptEnd = ""): string {
  const parts = MARKERS[format].open;
  const end = templatedPromptEnd.trimEnd();
  for (let k = parts.length; k > 0; k--) {
    if (end.endsWith(parts.slice(0, k).join(""))) return parts.slice(k).join("");
  }
  return parts.join("");
}

/**
 * Text to append after the templated generation prompt: the thinking block holding `cot`,
 * closed, with the answer channel opened, so that the target decodes only its answer.
 */
export function thinkingPrefill(format: ThinkingFormat, cot: string, templatedPromptEnd?: string): string {
  const m = MARKERS[format];
  return openerAfter(format, templatedPromptEnd) + cot + m.close + m.answer;
}

/** Text to append for continuing a thinking block: opened, holding `partialCot`, left open. */
export function openThinkingPrefill(format: ThinkingFormat, partialCot: string, templatedPromptEnd?: string): string {
  return openerAfter(format, templatedPromptEnd) + partialCot;
}

export interface SplitThinking {
  reasoning: string;
  answer: string;
  /** The format whose markers were found, or null when there were none. */
  format: ThinkingFormat | null;
  /** The thinking block was closed (false: the reply stopped while still thinking). */
  closed: boolean;
}

function afterLast(text: string, marker: string): string {
  const i = text.lastIndexOf(marker);
  return i === -1 ? text : text.slice(i + marker.length);
}

function stripTrailing(text: string, markers: string[]): string {
  let t = text.trimEnd();
  for (const m of markers) if (t.endsWith(m)) t = t.slice(0, -m.length);
  return t;
}

/**
 * Split a model's reply into reasoning and answer. Knows inline <think>...</think> (also when
 * the opening tag was part of the prompt), OpenThinker's begin/end_of_thought markers, and
 * harmony channels (also as rendered without special tokens: "analysis...assistantfinal...").
 * Text without any marker is all answer.
 */
export function splitThinking(text: string): SplitThinking {
  const ot = text.indexOf("<|begin_of_thought|>");
  const otEnd = text.indexOf("<|end_of_thought|>");
  if (ot !== -1 || otEnd !== -1) {
    const start = ot === -1 ? 0 : ot + "<|begin_of_thought|>".length;
    if (otEnd === -1) return { reasoning: text.slice(start).trim(), answer: "", format: "openthinker", closed: false };
    let answer = text.slice(otEnd + "<|end_of_thought|>".length);
    answer = afterLast(answer, "<|begin_of_solution|>");
    answer = stripTrailing(answer, ["<|end_of_solution|>"]);
    return { reasoning: text.slice(start, otEnd).trim(), answer: answer.trim(), format: "openthinker", closed: true };
  }

  const analysis = text.indexOf("<|channel|>analysis<|message|>");
  const final = text.indexOf("<|channel|>final<|message|>");
  if (analysis !== -1 || final !== -1) {
    let reasoning = "";
    if (analysis !== -1) {
      const from = analysis + "<|channel|>analysis<|message|>".length;
      const to = text.indexOf("<|end|>", from);
      reasoning = text.slice(from, to === -1 ? (final === -1 ? text.length : final) : to);
    }
    if (final === -1) return { reasoning: reasoning.trim(), answer: "", format: "harmony", closed: false };
    const answer = stripTrailing(text.slice(final + "<|channel|>final<|message|>".length), ["<|return|>", "<|end|>"]);
    return { reasoning: reasoning.trim(), answer: answer.trim(), format: "harmony", closed: true };
  }
  const rendered = /^\s*analysis([\s\S]*?)assistantfinal([\s\S]*)$/.exec(text);
  if (rendered) return { reasoning: rendered[1]!.trim(), answer: rendered[2]!.trim(), format: "harmony", closed: true };

  const close = text.indexOf("</think>");
  const open = text.indexOf("<think>");
  if (close !== -1) {
    const start = open !== -1 && open < close ? open + "<think>".length : 0;
    return {
      reasoning: text.slice(start, close).trim(),
      answer: text.slice(close + "</think>".length).trim(),
      format: "think-tags",
      closed: true,
    };
  }
  if (open !== -1) return { reasoning: text.slice(open + "<think>".length).trim(), answer: "", format: "think-tags", closed: false };
  return { reasoning: "", answer: text.trim(), format: null, closed: true };
}

/**
 * A default format from a model's name. Only a default: model profiles can override it.
 * OpenThinker is checked before the generic "think" names (its name contains "think").
 */
export function guessThinkingFormat(modelName: string): ThinkingFormat {
  const n = modelName.toLowerCase();
  if (/gpt-oss|harmony/.test(n)) return "harmony";
  if (/openthinker/.test(n)) return "openthinker";
  if (/qwq|qwen3|dapo|deepseek-r1|r1-distill|-r1\b|nemotron-research-reasoning|reasoning|think|magistral|phi-4-reasoning|skywork-or1|exaone-deep/.test(n)) {
    return "think-tags";
  }
  return "none";
}

// ---------------------------------------------------------------- streamed text

/** The inline tags that delimit thinking in streamed text, by format ("none": no thinking to split out). */
export const THINK_TAGS: Record<ThinkingFormat, Array<{ open: string; close: string }>> = {
  "think-tags": [{ open: "<think>", close: "</think>" }],
  none: [],
  openthinker: [{ open: "<|begin_of_thought|>", close: "<|end_of_thought|>" }],
  harmony: [{ open: "<|channel|>analysis<|message|>", close: "<|end|>" }],
};

/** Does `prefix` leave a thinking block open (so a continuation starts inside it)? */
export function opensThinking(prefix: string, open: string, close: string): boolean {
  const o = prefix.lastIndexOf(open);
  return o >= 0 && prefix.indexOf(close, o + open.length) < 0;
}

export interface ChannelText {
  channel: "content" | "reasoning";
  text: string;
}

/** Longest suffix of `text` that is a proper prefix of `tag` (a tag possibly cut mid-way). */
export function partialTagSuffix(text: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, text.length); n > 0; n--) {
    if (text.endsWith(tag.slice(0, n))) return n;
  }
  return 0;
}

/**
 * Splits streamed text on inline thinking tags: text between the open and close tag goes to
 * `reasoning`, the rest to `content`; the tags themselves go to neither. A tag cut across two
 * pieces is held back until it is complete.
 */
export class ThinkSplitter {
  private held = "";
  constructor(
    public inThink = false,
    readonly open = "<think>",
    readonly close = "</think>",
  ) {}

  push(text: string): ChannelText[] {
    const out: ChannelText[] = [];
    let rest = this.held + text;
    this.held = "";
    for (;;) {
      const tag = this.inThink ? this.close : this.open;
      const at = rest.indexOf(tag);
      if (at < 0) break;
      if (at > 0) out.push({ channel: this.channel(), text: rest.slice(0, at) });
      rest = rest.slice(at + tag.length);
      this.inThink = !this.inThink;
    }
    const keep = partialTagSuffix(rest, this.inThink ? this.close : this.open);
    const emit = rest.slice(0, rest.length - keep);
    this.held = rest.slice(rest.length - keep);
    if (emit) out.push({ channel: this.channel(), text: emit });
    return out;
  }

  flush(): ChannelText[] {
    const text = this.held;
    this.held = "";
    return text ? [{ channel: this.channel(), text }] : [];
  }

  private channel(): "content" | "reasoning" {
    return this.inThink ? "reasoning" : "content";
  }
}

/**
 * A prefill (which starts with the format's whole opening) placed after a templated generation
 * prompt: the opening is cut to what the template did not already write, so no tag is doubled.
 */
export function prefillAfterTemplate(format: ThinkingFormat, templatedPrompt: string, prefill: string): string {
  const whole = MARKERS[format].open.join("");
  if (!prefill.startsWith(whole)) return prefill;
  return openerAfter(format, templatedPrompt) + prefill.slice(whole.length);
}
