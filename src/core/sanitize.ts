// "Without answer" sanitization of a chain of thought (SCIENCE.md §1, Sanitization):
// a rule-based remover of answer sentences, a verifier for an LLM sanitizer's output
// (nothing invented or rephrased survives), and the sentence alignment used to measure both.
import type { Span } from "./types.js";
import { splitSentences, type SentenceMode } from "./sentences.js";

/**
 * The instruction given to an LLM sanitizer. Same substance as the one the paper gave o4-mini:
 * keep hint/explanation sentences verbatim, drop every sentence that states the final answer,
 * result or conclusion, add or rephrase nothing, output only the kept text. The text to
 * sanitize follows it.
 */
export const SANITIZER_INSTRUCTION = `Task: remove the answer sentences from the reasoning text below and keep only the hints.

Definitions:
- A hint/explanation sentence gives guidance that helps someone think about the problem without giving away the final solution.
- An answer sentence directly states the final answer, solution, result or conclusion.

Instructions:
1. Keep every hint/explanation sentence exactly as it is written.
2. Remove every answer sentence and statement.
3. Keep the original wording, order and formatting of the remaining text.
4. Do not add, rephrase or generate any text that is not in the original.
5. Output only the kept text, nothing else.

Original text:
`;

/** The full sanitizer prompt for one chain of thought. */
export function sanitizerPrompt(cot: string): string {
  return SANITIZER_INSTRUCTION + cot;
}

// ---- normalization ----------------------------------------------------------------------

/** Compare sentences ignoring case, whitespace, quote style, markdown emphasis and edge punctuation. */
export function normalizeSentence(s: string): string {
  return s
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[“”«»]/g, '"')
    .replace(/[‘’]/g, "'")
    .replace(/\*\*|__/g, "")
    .replace(/^\s*(?:[-*•+]|\d{1,3}[.)])\s+/, "") // a list marker added or dropped is no change
    .replace(/\s+/g, " ")
    .replace(/^[\s"'([{.,;:!?-]+|[\s"')\]}.,;:!?-]+$/g, "")
    .replace(/\s+([.,;:!?)])/g, "$1");
}

// ---- verifying an LLM sanitizer's output ------------------------------------------------

export interface VerifiedSanitization {
  /** The kept original sentences, in the sanitizer's order, with the original's own spacing. */
  kept: string;
  /** Output sentences that match no unused original sentence (invented, rephrased, repeated). */
  dropped: string[];
  /** Which original sentences were kept (indices into splitSentences(original)). */
  keptIndices: number[];
}

/**
 * Keep only the sanitizer's output sentences that equal an original sentence after
 * normalization. Each original sentence can be used once; the earliest unused copy after the
 * previous match is preferred, so repeated short sentences ("So D is 0.") map in order.
 * A sanitizer may re-split or re-join lines: up to `MAX_JOIN` consecutive output sentences
 * that together equal one original sentence, or one output sentence equal to up to `MAX_JOIN`
 * consecutive original sentences, also count as kept (as those original sentences).
 */
export function verifySanitized(original: string, sanitizerOutput: string, mode: SentenceMode = "concord"): VerifiedSanitization {
  const orig = splitSentences(original, mode);
  const origNorm = orig.map((s) => normalizeSentence(s.text));
  // Normalized text of 1..MAX_JOIN consecutive original sentences -> their first indices.
  const byNorm = new Map<string, Array<{ first: number; count: number }>>();
  for (let i = 0; i < orig.length; i++) {
    if (!origNorm[i]) continue;
    let joined = "";
    for (let c = 1; c <= MAX_JOIN && i + c - 1 < orig.length; c++) {
      const piece = origNorm[i + c - 1]!;
      joined = joined && piece ? `${joined} ${piece}` : joined || piece;
      const key = normalizeSentence(joined);
      if (!key || (c > 1 && !piece)) continue;
      const list = byNorm.get(key);
      if (list) list.push({ first: i, count: c });
      else byNorm.set(key, [{ first: i, count: c }]);
    }
  }
  const out = splitSentences(sanitizerOutput, mode)
    .map((s) => s.text.trim())
    .filter((t) => normalizeSentence(t) !== "");
  const used = new Set<number>();
  const keptIndices: number[] = [];
  const dropped: string[] = [];
  let cursor = -1;
  const free = (m: { first: number; count: number }) => {
    for (let i = m.first; i < m.first + m.count; i++) if (used.has(i)) return false;
    return true;
  };
  for (let k = 0; k < out.length;) {
    let matched = false;
    let joined = "";
    for (let j = 0; j < MAX_JOIN && k + j < out.length && !matched; j++) {
      joined = joined ? `${joined} ${out[k + j]}` : out[k + j]!;
      const options = (byNorm.get(normalizeSentence(joined)) ?? []).filter(free);
      // A joined window of output sentences must map to a single original sentence.
      const fit = options.filter((m) => j === 0 || m.count === 1);
      const pick = fit.find((m) => m.first > cursor) ?? fit[0];
      if (!pick) continue;
      for (let i = pick.first; i < pick.first + pick.count; i++) {
        used.add(i);
        keptIndices.push(i);
      }
      cursor = pick.first + pick.count - 1;
      k += j + 1;
      matched = true;
    }
    if (!matched) {
      dropped.push(out[k]!);
      k++;
    }
  }
  return { kept: joinSentences(orig, keptIndices), dropped, keptIndices };
}

const MAX_JOIN = 6;

/** Join chosen sentences: consecutive originals keep their separator; others get one space. */
function joinSentences(spans: Span[], indices: number[]): string {
  let out = "";
  indices.forEach((idx, k) => {
    const body = spans[idx]!.text.trimEnd();
    if (k > 0) {
      const prev = indices[k - 1]!;
      out += prev + 1 === idx ? spans[prev]!.text.slice(spans[prev]!.text.trimEnd().length) : " ";
    }
    out += k === 0 ? body.trimStart() : body;
  });
  return out;
}

// ---- rule-based remover -----------------------------------------------------------------

export interface RemoveOptions {
  mode?: SentenceMode;
  /**
   * "answers" (default): explicit answer statements and concluding result statements.
   * "results": also every other sentence that states a worked-out value ("x = 3.2",
   * "so B is 0") — closer to what an LLM sanitizer removes, at the cost of more reasoning.
   */
  level?: "answers" | "results";
  /**
   * The source model's final answer, when known (e.g. extracted from its answer text). A
   * concluding sentence that states this value is removed even without an explicit marker.
   */
  answer?: string;
  /** The question asked: a concluding sentence that names what it asks for, with a value, goes. */
  question?: string;
}

export interface RuleMatch {
  rule: string;
}

// Explicit answer statements: these always go.
const EXPLICIT: Array<[string, RegExp]> = [
  ["boxed", /\\boxed\s*\{/],
  ["final-answer", /\bfinal (?:answer|result|score|value)\b/i],
  [
    "answer-ref",
    /\b(?:that'?s|that is|this is|which is|that should be|this should be|should be) (?:the|our|my) (?:final |correct |estimated |required )?(?:answer|result|solution)\b|\b(?:I'll|I will|I'd|let's|we'll) go with\b|\bthe answer\b.*\b(?:is|be)\s+\S*\d/i,
  ],
  [
    "answer-is",
    /\b(?:the|my|our) answer (?:is|should be|would be|will be|must be|=)|\banswer\s*(?:is|would be|should be)?\s*[:=]\s*\S|\bis (?:the|my|our) (?:final )?answer\b|\banswer (?:here )?(?:is|would be|should be)\b/i,
  ],
];

// A concluding opener: what comes next is a result, not a step.
const CONCLUSION_OPENER =
  /^(?:\W*)(?:so|therefore|thus|hence|overall|in total|in conclusion|altogether|finally|then|that gives|this gives|which gives|that means|which means|adding (?:them|these|those|it|all|everything)(?: all)? up|summing up|putting (?:it|this|that) (?:all )?together|the total|total)\b/i;
// The thing being concluded about: a total, a score, the requested quantity.
const RESULT_NOUN = /\b(?:total|score|sum|result|answer|points?|value|estimate|risk|probability|percentage|grade|class|category|stage|criteria met)\b/i;
// A number, date or simple fraction being stated.
const STATES_NUMBER = /(?:^|[^\w.])(?:\d+(?:\.\d+)?%?|\d{1,2}\/\d{1,2}\/\d{2,4})(?![\w.]*\s*[+\-*/×x^]\s*\d)/;
const TRAILING_SO_VALUE = /,\s*(?:so|thus|therefore|hence)\s+the (?:answer|score|total|result) is\s+\d[\d.,/]*\s*%?\s*[\p{L}/²³]*\.\s*$/u;
const STATED_AS = /\b(?:is|are|was|would be|should be|will be|comes? to|equals?|gives?|totals|of|=)\b|=|→/i;
// Hedges and checks are reasoning, not conclusions ("so is the total 4?", "so maybe 3").
const HEDGE = /\?\s*$|\b(?:maybe|perhaps|might|could|wait|if|unless|assuming|let me|let's|check|verify|confirm|double-check)\b/i;

function numbersIn(s: string): string[] {
  return (s.match(/\d+(?:\.\d+)?/g) ?? []).map((n) => String(Number(n)));
}

/** Why a sentence states the answer (the rule that matched), or null when it does not. */
export interface RuleContext {
  /** The source's final answer; a concluding sentence stating it is removed. */
  answer?: string;
  /** Distinctive words of the question (see askedTerms). */
  asked?: readonly string[];
  level?: "answers" | "results";
}

const QUESTION_STOPWORDS = new Set(
  (
    "what whats which who how the this that these those patient patients patient's based given note using use " +
    "calculate compute find estimate estimated value answer their his her its and for with from into your " +
    "are was were is be in of to a an on at by as or per please provide round rounded nearest"
  ).split(" "),
);

/** Distinctive words of a question ("What is the patient's HAS-BLED score?" -> has-bled, score). */
export function askedTerms(question: string): string[] {
  const words = question.toLowerCase().match(/[\p{L}][\p{L}\p{N}'-]*/gu) ?? [];
  return [...new Set(words.filter((w) => w.length >= 3 && !QUESTION_STOPWORDS.has(w) && !w.endsWith("'s")))];
}

export function answerRule(sentence: string, ctx: RuleContext = {}): RuleMatch | null {
  const { answer, level = "answers" } = ctx;
  const s = sentence.trim();
  if (!s) return null;
  for (const [rule, re] of EXPLICIT) if (re.test(s)) return { rule };
  const concluding = CONCLUSION_OPENER.test(s);
  const hedged = HEDGE.test(s);
  const value = STATES_NUMBER.test(s) && STATED_AS.test(s);
  if (concluding && !hedged && value && RESULT_NOUN.test(s)) return { rule: "conclusion" };
  // Names what the question asks for and gives it a value: "Therefore, the corrected sodium is 134".
  if (concluding && !hedged && value && ctx.asked && ctx.asked.length > 0) {
    const lw = s.toLowerCase();
    if (ctx.asked.some((w) => lw.includes(w))) return { rule: "asked-quantity" };
  }
  if (!hedged && TRAILING_SO_VALUE.test(s)) return { rule: "conclusion" };
  if (answer !== undefined && concluding && !HEDGE.test(s)) {
    const want = numbersIn(answer);
    if (want.length > 0 && numbersIn(s).some((n) => want.includes(n))) return { rule: "states-answer" };
  }
  if (level === "results" && !HEDGE.test(s) && STATES_NUMBER.test(s) && (STATED_AS.test(s) || /[=≈→]/.test(s))) {
    return { rule: "states-value" };
  }
  return null;
}

export interface RemovedAnswerSentences {
  /** The chain of thought without the removed sentences (the rest byte-for-byte as given). */
  kept: string;
  removed: Span[];
  /** The rule that removed each span, same order as `removed`. */
  rules: string[];
}

/** Remove the sentences that state the final answer, result or conclusion. */
export function removeAnswerSentences(cot: string, opts: RemoveOptions = {}): RemovedAnswerSentences {
  const removed: Span[] = [];
  const rules: string[] = [];
  let kept = "";
  const ctx: RuleContext = {
    answer: opts.answer,
    asked: opts.question ? askedTerms(opts.question) : undefined,
    level: opts.level,
  };
  for (const span of splitSentences(cot, opts.mode ?? "concord")) {
    const m = answerRule(span.text, ctx);
    if (m) {
      removed.push(span);
      rules.push(m.rule);
    } else kept += span.text;
  }
  return { kept, removed, rules };
}

// ---- alignment (for measuring a sanitizer against another) ------------------------------

function words(s: string): string[] {
  return normalizeSentence(s).match(/[\p{L}\p{N}]+(?:[.,]\p{N}+)*/gu) ?? [];
}

/**
 * Which sentences of `original` survive in `sanitized`, found by a word-level longest common
 * subsequence between the two texts: a sentence counts as kept when at least `minShare` of its
 * words are aligned. Robust to re-split lines and light edits by an LLM sanitizer.
 * Returns one boolean per sentence of splitSentences(original, mode); sentences without words
 * (separators, lone symbols) are `null`.
 */
export function alignKept(original: string, sanitized: string, opts: { mode?: SentenceMode; minShare?: number } = {}): Array<boolean | null> {
  const spans = splitSentences(original, opts.mode ?? "concord");
  const perSentence = spans.map((s) => words(s.text));
  const a = perSentence.flat();
  const b = words(sanitized);
  const matched = lcsMatched(a, b);
  const out: Array<boolean | null> = [];
  let w = 0;
  for (const ws of perSentence) {
    if (ws.length === 0) {
      out.push(null);
      continue;
    }
    let hit = 0;
    for (let k = 0; k < ws.length; k++) if (matched[w + k]) hit++;
    w += ws.length;
    out.push(hit / ws.length >= (opts.minShare ?? 0.5));
  }
  return out;
}

/** For each element of `a`, whether it is part of one longest common subsequence with `b`. */
function lcsMatched(a: string[], b: string[]): boolean[] {
  const n = a.length;
  const m = b.length;
  const matched = new Array<boolean>(n).fill(false);
  if (n === 0 || m === 0) return matched;
  const width = m + 1;
  const table = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i * width + j] = a[i] === b[j] ? table[(i + 1) * width + j + 1]! + 1 : Math.max(table[(i + 1) * width + j]!, table[i * width + j + 1]!);
    }
  }
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      matched[i] = true;
      i++;
      j++;
    } else if (table[(i + 1) * width + j]! >= table[i * width + j + 1]!) i++;
    else j++;
  }
  return matched;
}
