// Sentence segmentation of reasoning text, in two modes.
//
// "concord" (default): a careful splitter for chain-of-thought text, which is full of numbers,
// units, abbreviations, lists and formulas.
// "paper": the published ensembling code's rule, reproduced exactly (SCIENCE.md §1, step 2):
// `.`, `!` or `?` not after a digit, followed by whitespace, end of text or a capital letter;
// not an end when the last whitespace-separated word is a decimal, 1-4 letters + ".", or a
// dotted abbreviation like "e.g.".
//
// Spans always cover the input: whitespace after a sentence belongs to that sentence (leading
// whitespace of the text belongs to the first), so joining the span texts gives the input back.
import type { Span } from "./types.js";

export type SentenceMode = "concord" | "paper";

/** Words after which "." never ends a sentence: something always follows them. */
const NON_TERMINAL_ABBREVIATIONS: ReadonlySet<string> = new Set([
  "e.g",
  "i.e",
  "eg",
  "ie",
  "vs",
  "cf",
  "viz",
  "approx",
  "ca",
  "mr",
  "mrs",
  "ms",
  "dr",
  "prof",
  "sr",
  "fig",
  "figs",
  "eq",
  "eqs",
  "ref",
  "refs",
  "vol",
  "pp",
  "p",
  "resp",
]);

const TERMINAL = /[.!?…]/;
const CLOSERS = new Set(['"', "'", "”", "’", "»", ")", "]", "}", "*", "_", "`"]);
const OPENERS = /^[("'“‘«\[{*_`]+/;
const WS = /\s/;
const LOWER = /\p{Ll}/u;
const UPPER = /\p{Lu}/u;

// Math and code are opaque: no sentence ends inside them. Inline `$...$` must hug its content
// (no space after the opening or before the closing `$`) so that prices like "$5 ... $10" are
// not mistaken for math.
const PROTECTED = /```[\s\S]*?```|\$\$[\s\S]+?\$\$|\\\[[\s\S]+?\\\]|\\\([\s\S]+?\\\)|\$[^\s$](?:[^$\n]{0,400}?[^\s$])?\$(?!\d)|`[^`\n]+`/g;

/** A line that starts a new sentence: bullet, numbered item, heading, quote, display math. */
const LIST_LINE = /^[ \t]*(?:[-*•+][ \t]|\d{1,3}[.)][ \t]|[a-zA-Z][.)][ \t]|#{1,6}[ \t]|>[ \t]|\\\[|\$\$)/;
/** A line that is a heading by itself (ends at its newline even without punctuation). */
const HEADING_LINE = /^[ \t]*(?:#{1,6}[ \t].*|\*\*[^*\n]+\*\*:?|__[^_\n]+__:?)[ \t]*$/;

interface Break {
  /** End of the sentence's content (after punctuation and closing quotes/brackets). */
  end: number;
  /** Where the next sentence starts (after the whitespace). Equals text length at the tail. */
  start: number;
  /** "." run ending in a way a continuing stream could still change (decimal, initial, "..."). */
  tentative: boolean;
}

function protectedRanges(text: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  PROTECTED.lastIndex = 0;
  for (let m = PROTECTED.exec(text); m; m = PROTECTED.exec(text)) {
    out.push([m.index, m.index + m[0].length]);
  }
  return out;
}

function skipWs(text: string, i: number): number {
  while (i < text.length && WS.test(text[i]!)) i++;
  return i;
}

function trimBack(text: string, i: number, floor: number): number {
  while (i > floor && WS.test(text[i - 1]!)) i--;
  return i;
}

/** The whitespace-delimited word that ends at `end` (exclusive), without opening brackets. */
function wordBefore(text: string, end: number): { word: string; start: number } {
  let s = end;
  while (s > 0 && !WS.test(text[s - 1]!)) s--;
  const raw = text.slice(s, end);
  const lead = raw.match(OPENERS)?.[0].length ?? 0;
  return { word: raw.slice(lead), start: s + lead };
}

function nextWord(text: string, from: number): string {
  const m = /^\S+/.exec(text.slice(from, from + 80));
  return m ? m[0] : "";
}

function concordBreaks(text: string): Break[] {
  const breaks: Break[] = [];
  const ranges = protectedRanges(text);
  let r = 0;
  let sentenceStart = skipWs(text, 0);
  const n = text.length;
  const push = (b: Break) => {
    const last = breaks[breaks.length - 1];
    if (last && last.start >= b.start) return;
    if (b.end <= sentenceStart && breaks.length > 0) return;
    breaks.push(b);
    sentenceStart = b.start;
  };

  for (let p = 0; p < n; p++) {
    while (r < ranges.length && ranges[r]![1] <= p) r++;
    if (r < ranges.length && ranges[r]![0] <= p) {
      p = ranges[r]![1] - 1;
      continue;
    }
    const ch = text[p]!;

    if (ch === "\n") {
      const lineStart = text.lastIndexOf("\n", p - 1) + 1;
      const prevLine = text.slice(lineStart, p);
      const next = skipWs(text, p + 1);
      const gap = text.slice(p, next);
      const blank = /\n[ \t\r]*\n/.test(gap);
      const nextLineStart = text.lastIndexOf("\n", next - 1) + 1;
      const nextLine = text.slice(nextLineStart, text.indexOf("\n", next) === -1 ? n : text.indexOf("\n", next));
      if (next < n && (blank || LIST_LINE.test(nextLine) || HEADING_LINE.test(prevLine))) {
        const end = trimBack(text, p, sentenceStart);
        if (end > sentenceStart) push({ end, start: next, tentative: false });
        else sentenceStart = next;
      } else if (next >= n && blank) {
        const end = trimBack(text, p, sentenceStart);
        if (end > sentenceStart) push({ end, start: n, tentative: false });
      }
      continue;
    }

    if (!TERMINAL.test(ch)) continue;
    let j = p;
    while (j < n && TERMINAL.test(text[j]!)) j++;
    const run = text.slice(p, j);
    let k = j;
    while (k < n && CLOSERS.has(text[k]!)) k++;
    const m = skipWs(text, k);
    const nextChar = m < n ? text[m]! : "";
    const glued = k < n && !WS.test(text[k]!);
    const { word, start: wordStart } = wordBefore(text, p);

    let end = false;
    let tentative = false;
    if (glued) {
      // "done.Next": chunks joined without a space. Only a plain lowercase word before the dot.
      end =
        run === "." &&
        k === j &&
        /^\p{Ll}{2,}$/u.test(word) &&
        !NON_TERMINAL_ABBREVIATIONS.has(word) &&
        UPPER.test(text[k]!) &&
        k + 1 < n &&
        LOWER.test(text[k + 1]!);
    } else if (/[!?]/.test(run)) {
      // "5! = 120" is a factorial, not an exclamation.
      end = !(run === "!" && /[\d)]$/.test(word) && nextChar !== "" && !UPPER.test(nextChar));
    } else if (nextChar !== "" && LOWER.test(nextChar)) {
      end = false; // "approx. the", "0.0254... let's", "etc. and"
    } else if (run.length > 1 || run === "…") {
      // An ellipsis ends a sentence only before a capital: "1.9558 squared... 2 squared is 4".
      end = nextChar === "" || UPPER.test(nextChar);
      tentative = true;
    } else {
      end = isSentenceDot(text, word, wordStart, sentenceStart, m);
      tentative = /\d$/.test(word) || /^\p{L}$/u.test(word);
    }
    if (end) push({ end: k, start: m, tentative: tentative && m >= n });
    p = k - 1;
  }
  return breaks;
}

/** Whether a single "." after `word`, followed by whitespace and a non-lowercase char, ends. */
function isSentenceDot(text: string, word: string, wordStart: number, sentenceStart: number, next: number): boolean {
  if (word === "") return false;
  const lw = word.toLowerCase();
  if (NON_TERMINAL_ABBREVIATIONS.has(lw)) return false;
  if (lw === "no" && /\d/.test(text[next] ?? "")) return false;
  // A list marker: "1. " or "a. " at the start of a sentence.
  if (/^(?:\d{1,3}|[a-z])$/.test(word)) {
    const before = text.slice(sentenceStart, wordStart).trim();
    if (before === "" || /^[-*•+]$/.test(before)) return false;
  }
  // Initials: "J. R. Tolkien", "J. Smith said". "Option B. Then" still ends (more common in CoTs).
  if (/^\p{Lu}$/u.test(word)) {
    const following = nextWord(text, next);
    if (/^\p{Lu}\.$/u.test(following)) return false;
    const prev = wordBefore(text, trimBack(text, wordStart, 0)).word;
    if (/^\p{Lu}\.$/u.test(prev)) return false;
    if (text.slice(sentenceStart, wordStart).trim() === "" && /^\p{Lu}\p{Ll}/u.test(following)) return false;
  }
  return true;
}

// ---- paper mode -------------------------------------------------------------------------

const PAPER_END = /(?<!\p{Nd})([.!?])(?=\s|$|[A-Z])/gu;

function paperIsAbbreviation(lastWord: string): boolean {
  const lw = lastWord.toLowerCase();
  return /^\d+\.\d+$/.test(lw) || /^[a-z]{1,4}\.$/.test(lw) || /^(?:[a-z]{1,4}\.){2,}$/.test(lw);
}

/** End positions (exclusive) of every sentence end under the published rule. */
function paperEnds(text: string): number[] {
  const out: number[] = [];
  PAPER_END.lastIndex = 0;
  for (let m = PAPER_END.exec(text); m; m = PAPER_END.exec(text)) {
    const end = m.index + 1;
    const words = text.slice(0, end).trim().split(/\s+/);
    if (!paperIsAbbreviation(words[words.length - 1]!)) out.push(end);
  }
  return out;
}

function paperBreaks(text: string): Break[] {
  return paperEnds(text).map((end) => ({ end, start: skipWs(text, end), tentative: false }));
}

// ---- public API -------------------------------------------------------------------------

function spansFrom(text: string, breaks: Break[]): Span[] {
  if (text === "") return [];
  const spans: Span[] = [];
  let start = 0;
  for (const b of breaks) {
    if (b.start >= text.length || b.start <= start) continue;
    spans.push({ start, end: b.start, text: text.slice(start, b.start) });
    start = b.start;
  }
  spans.push({ start, end: text.length, text: text.slice(start) });
  return spans;
}

/** Split reasoning text into sentences. Joining the span texts gives `text` back exactly. */
export function splitSentences(text: string, mode: SentenceMode = "concord"): Span[] {
  return spansFrom(text, mode === "paper" ? paperBreaks(text) : concordBreaks(text));
}

/** Sentence texts without surrounding whitespace (empty ones left out). */
export function sentenceTexts(text: string, mode: SentenceMode = "concord"): string[] {
  return splitSentences(text, mode)
    .map((s) => s.text.trim())
    .filter((s) => s !== "");
}

export interface CutOptions {
  /** The text is finished (not a prefix of a longer stream): a final "3." or "..." is an end. */
  complete?: boolean;
  /** End-of-thought markers (e.g. "</think>"): the text is cut right after the first one. */
  endMarkers?: readonly string[];
}

export interface CutResult {
  /** Text up to and including the last sentence end (or end marker). */
  kept: string;
  /** What came after it (starts with the separating whitespace, if any). */
  rest: string;
  /** False when no sentence end was found; then `kept` is the whole raw chunk, as in the paper. */
  found: boolean;
  /** The end marker the cut was made at, when there was one. */
  marker?: string;
}

/**
 * Cut a streamed candidate back to its last complete sentence.
 * Concord mode: `kept + rest === text`; a final "3." or "..." in an unfinished stream is not
 * trusted (the next token may be "5" or "let's"), unless `complete` is set.
 * Paper mode: the published code's result exactly: `kept` is trimmed, as that code trims.
 */
export function cutAtLastSentenceEnd(text: string, mode: SentenceMode = "concord", opts: CutOptions = {}): CutResult {
  let markerAt = -1;
  let marker: string | undefined;
  for (const mk of opts.endMarkers ?? []) {
    const i = mk ? text.indexOf(mk) : -1;
    if (i !== -1 && (markerAt === -1 || i < markerAt)) {
      markerAt = i;
      marker = mk;
    }
  }
  if (marker !== undefined) {
    const cut = markerAt + marker.length;
    return { kept: text.slice(0, cut), rest: text.slice(cut), found: true, marker };
  }

  if (mode === "paper") {
    const lead = text.length - text.trimStart().length;
    const stripped = text.trim();
    const ends = paperEnds(stripped);
    if (ends.length === 0) return { kept: stripped, rest: "", found: false };
    const last = ends[ends.length - 1]!;
    return { kept: stripped.slice(0, last).trim(), rest: text.slice(lead + last), found: true };
  }

  const breaks = concordBreaks(text).filter((b) => opts.complete || !b.tentative);
  if (breaks.length === 0) return { kept: text, rest: "", found: false };
  const cut = breaks[breaks.length - 1]!.end;
  return { kept: text.slice(0, cut), rest: text.slice(cut), found: true };
}
