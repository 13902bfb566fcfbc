// Answer extraction and grading for every reference kind. Pure: text in, Grade out.
import type { AnswerKind, Grade, Reference } from "./types.js";

// ---------------------------------------------------------------------------------------------
// Shared text helpers

/** Control characters are removed from anything that becomes an answer: model text is untrusted. */
function clean(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]+/g, " ");
}

const THINK_ENDS = ["</think>", "<|end_of_thought|>", "<|channel|>final<|message|>"];

/**
 * The answer part of a model's output: the text after the last end-of-thinking marker
 * (`</think>`, OpenThinker's `<|end_of_thought|>`, harmony's final channel), with
 * OpenThinker's solution tags and harmony end tokens removed. Text without a marker is returned whole.
 */
export function afterThinking(text: string): string {
  let cut = -1;
  let len = 0;
  for (const marker of THINK_ENDS) {
    const at = text.lastIndexOf(marker);
    if (at > cut) {
      cut = at;
      len = marker.length;
    }
  }
  const rest = cut >= 0 ? text.slice(cut + len) : text;
  return rest.replace(/<\|(?:begin|end)_of_solution\|>|<\|(?:end|return|start)\|>/g, "");
}

// A number: optional sign (not a hyphen inside a word or range), thousands groups, decimals, exponent.
const NUMBER_SOURCE = String.raw`(?<![\w.)])[-−–]?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|(?<![\w.])[-−]?\.\d+`;

function parseNumberToken(token: string): number {
  return Number(token.replace(/[−–]/g, "-").replace(/,/g, ""));
}

interface NumberMatch {
  value: number;
  index: number;
  end: number;
}

function findNumbers(text: string): NumberMatch[] {
  const out: NumberMatch[] = [];
  for (const m of text.matchAll(new RegExp(NUMBER_SOURCE, "g"))) {
    const value = parseNumberToken(m[0]);
    if (Number.isFinite(value)) out.push({ value, index: m.index!, end: m.index! + m[0].length });
  }
  return out;
}

/** Canonical text for a number: what two answers are compared by when checking agreement. */
function formatNumber(n: number): string {
  if (Object.is(n, -0)) return "0";
  return String(Number(n.toPrecision(12)));
}

/** Python's round(): halves go to the even neighbour (the published MedCalc code runs in Python). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  if (Math.abs(x % 1) === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

// Units whose digits must not be read as the answer ("mL/min/1.73 m²", "kg/m^2", "x 10^9/L").
const UNIT_DIGITS =
  /\/\s*1\.73\s*(?:m(?:\s*\^?\s*2|²)?)?|\bm\s*\^\s*2\b|\bm2\b|m²|(?:[x×*]\s*)?10\s*(?:\^|\*\*)\s*-?\d+|\b(?:H2O|CO2|O2|SpO2|PaO2|FiO2|PaCO2|HCO3)\b/gi;

function withoutUnitDigits(text: string): string {
  return text.replace(UNIT_DIGITS, " ");
}

// ---------------------------------------------------------------------------------------------
// MedCalc-Bench

const MEDCALC_ANSWER = /[Aa]nswer.*?:\s*["“”]?(.*?)(?:["“”]?\s*[}\n]|$)/g;

function jsonAnswer(text: string): string | null {
  const close = text.lastIndexOf("}");
  if (close < 0) return null;
  // The JSON dict is normally the last thing written; try the last few opening braces.
  let open = text.lastIndexOf("{", close);
  for (let tries = 0; open >= 0 && tries < 40; tries++) {
    try {
      const parsed: unknown = JSON.parse(text.slice(open, close + 1));
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
        for (const [key, value] of Object.entries(parsed)) {
          if (key.toLowerCase() !== "answer") continue;
          if (typeof value === "string") return value;
          if (typeof value === "number" || typeof value === "boolean") return String(value);
          if (Array.isArray(value)) return `(${value.map(String).join(", ")})`;
        }
      }
    } catch {
      // not a complete JSON object from here; try an earlier brace
    }
    open = text.lastIndexOf("{", open - 1);
  }
  return null;
}

/**
 * The answer a model gave to a MedCalc prompt, or null when it gave none.
 * First the `answer` field of a JSON dict (the prompt asks for
 * `{"step_by_step_thinking": ..., "answer": ...}`); otherwise the last match of the published
 * pattern `[Aa]nswer.*?:\s*["“”]?(.*?)(?:["“”]?\s*[\}\n]|$)`. Only the text after the thinking
 * block is searched.
 */
export function extractMedcalcAnswer(text: string): string | null {
  const body = afterThinking(text);
  const fromJson = jsonAnswer(body);
  if (fromJson !== null && fromJson.trim() !== "") return clean(fromJson).trim();
  let last: string | null = null;
  for (const m of body.matchAll(MEDCALC_ANSWER)) last = m[1]!;
  if (last === null) return null;
  const answer = clean(last)
    .trim()
    .replace(/^["“”']+|["“”',]+$/g, "")
    .trim();
  return answer === "" ? null : answer;
}

// Calculator lists from the published MedCalc-Bench evaluation code; used only when the
// dataset's "Output Type" column is absent.
const INTEGER_CALCULATORS = new Set([4, 15, 16, 17, 18, 20, 21, 25, 27, 28, 29, 32, 33, 36, 43, 45, 48, 51]);

/**
 * The answer kind of a MedCalc calculator: dates for IDs 13 and 68, a (weeks, days) pair for 69
 * (whose "Output Type" says integer), otherwise the dataset's "Output Type" column.
 */
export function medcalcKind(calculatorId: number, outputType?: string | null): AnswerKind {
  if (calculatorId === 13 || calculatorId === 68) return "date";
  if (calculatorId === 69) return "weeks_days";
  const type = (outputType ?? "").trim().toLowerCase();
  if (type === "date") return "date";
  if (type === "integer") return "integer";
  if (type === "decimal") return "decimal";
  return INTEGER_CALCULATORS.has(calculatorId) ? "integer" : "decimal";
}

import { normalizeDate, parseWeeksDays } from "./dates.js";

export { normalizeDate, parseWeeksDays };

export interface MedcalcReference {
  calculatorId: number;
  outputType?: string;
  groundTruth: string;
  lower?: number;
  upper?: number;
}

/** Grade an extracted MedCalc answer against its dataset row. */
export function gradeMedcalc(answer: string, ref: MedcalcReference): Grade {
  const kind = medcalcKind(ref.calculatorId, ref.outputType);
  return gradeMedcalcKind(answer, kind, ref.groundTruth, ref.lower, ref.upper);
}

/**
 * The number a MedCalc answer states for an integer calculator: "N out of ..." gives N,
 * otherwise the last number. (The published code also counted list items in "3, 4, 5";
 * that reading is not reproduced.)
 */
function integerAnswer(text: string): number | null {
  const outOf = /(-?\d+(?:\.\d+)?)\s+out\s+of\b/i.exec(text);
  if (outOf) return Number(outOf[1]);
  const nums = findNumbers(withoutUnitDigits(text));
  return nums.length ? nums[nums.length - 1]!.value : null;
}

/**
 * The number a MedCalc answer states for a decimal calculator: the last number. A percentage
 * is read as written when that lies within the limits (FENa and Framingham risk are given in
 * percent) and as a fraction otherwise (the published code always divided by 100).
 */
function decimalAnswer(text: string, lower: number, upper: number): number | null {
  const stripped = withoutUnitDigits(text);
  const nums = findNumbers(stripped);
  if (!nums.length) return null;
  const last = nums[nums.length - 1]!;
  if (/^\s*%/.test(stripped.slice(last.end))) {
    if (last.value >= lower && last.value <= upper) return last.value;
    return last.value / 100;
  }
  return last.value;
}

function gradeMedcalcKind(answer: string, kind: AnswerKind, groundTruth: string, lower?: number, upper?: number): Grade {
  const text = clean(answer);
  switch (kind) {
    case "date": {
      const got = normalizeDate(text);
      const want = normalizeDate(groundTruth);
      if (want === null) return { answer: got ?? "", correct: false, error: `reference "${groundTruth}" is not a date` };
      if (got === null) return { answer: "", correct: false, error: "no date in the answer" };
      return { answer: got, correct: got === want };
    }
    case "weeks_days": {
      const got = parseWeeksDays(text);
      const want = parseWeeksDays(groundTruth);
      if (!want) return { answer: "", correct: false, error: `reference "${groundTruth}" is not a (weeks, days) pair` };
      if (!got) return { answer: "", correct: false, error: "no (weeks, days) pair in the answer" };
      // Compared as a duration, so "(0 weeks, 13 days)" equals "(1 weeks, 6 days)".
      return { answer: `(${got[0]}, ${got[1]})`, correct: got[0] * 7 + got[1] === want[0] * 7 + want[1] };
    }
    case "integer": {
      const want = Number(groundTruth.trim());
      const got = integerAnswer(text);
      if (got === null) return { answer: "", correct: false, error: "no number in the answer" };
      if (!Number.isFinite(want)) return { answer: formatNumber(got), correct: false, error: `reference "${groundTruth}" is not a number` };
      return { answer: formatNumber(got), correct: roundHalfEven(got) === want };
    }
    default: {
      const gt = Number(groundTruth.trim());
      // MedCalc-Bench's limits are the ground truth +-5%; used when a row lacks them.
      const lo = lower ?? Math.min(gt * 0.95, gt * 1.05);
      const hi = upper ?? Math.max(gt * 0.95, gt * 1.05);
      if (!Number.isFinite(lo) || !Number.isFinite(hi)) return { answer: "", correct: false, error: "reference has no usable limits" };
      const got = decimalAnswer(text, lo, hi);
      if (got === null) return { answer: "", correct: false, error: "no number in the answer" };
      return { answer: formatNumber(got), correct: got >= lo && got <= hi };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// GSM8K and plain numbers

/** The reference number of a GSM8K `answer` field: what follows `####`, commas removed. */
export function extractGsm8kReference(answerField: string): string | null {
  const at = answerField.lastIndexOf("####");
  if (at < 0) return null;
  const nums = findNumbers(answerField.slice(at + 4).replace(/\$/g, ""));
  return nums.length ? formatNumber(nums[0]!.value) : null;
}

function lastBoxed(text: string): string | null {
  const at = text.lastIndexOf("\\boxed{");
  if (at < 0) return null;
  let depth = 0;
  for (let i = at + 6; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return text.slice(at + 7, i);
  }
  return text.slice(at + 7);
}

function numberIn(fragment: string, which: "first" | "last"): number | null {
  const frac = /\\d?frac\{\s*(-?\d+(?:\.\d+)?)\s*\}\{\s*(-?\d+(?:\.\d+)?)\s*\}/.exec(fragment);
  if (frac && Number(frac[2]) !== 0) return Number(frac[1]) / Number(frac[2]);
  const text = fragment.replace(/\\[,!; ]|\$|\\%/g, "").replace(/(\d)\s(?=\d{3}(?!\d))/g, "$1");
  const nums = findNumbers(text);
  if (!nums.length) return null;
  return (which === "first" ? nums[0]! : nums[nums.length - 1]!).value;
}

/**
 * The number a model gives as its final answer: the last `\boxed{}`, else what follows the
 * last `####`, else what follows the last "answer is"/"answer:", else the last number in the text.
 * Commas, `$` and units are ignored. Returned in canonical form ("18", "0.5"), or null.
 */
export function extractNumericAnswer(text: string): string | null {
  const body = clean(afterThinking(text));
  const boxed = lastBoxed(body);
  if (boxed !== null) {
    const n = numberIn(boxed, "first");
    if (n !== null) return formatNumber(n);
  }
  const hashes = body.lastIndexOf("####");
  if (hashes >= 0) {
    const n = numberIn(body.slice(hashes + 4), "first");
    if (n !== null) return formatNumber(n);
  }
  const marks = [...body.matchAll(/answer(?:\s+is)?\s*[:=]?\s*/gi)];
  for (let i = marks.length - 1; i >= 0; i--) {
    const after = body.slice(marks[i]!.index! + marks[i]![0].length).split("\n")[0]!;
    const n = numberIn(after, "first");
    if (n !== null) return formatNumber(n);
  }
  const n = numberIn(body, "last");
  return n === null ? null : formatNumber(n);
}

/** Numeric equality (relative tolerance 1e-6) between a model's answer text and a reference number. */
export function gradeNumber(answer: string, ref: string): Grade {
  const want = numberIn(ref, "first");
  const got = extractNumericAnswer(answer);
  if (want === null) return { answer: got ?? "", correct: false, error: `reference "${ref}" is not a number` };
  if (got === null) return { answer: "", correct: false, error: "no number in the answer" };
  const g = Number(got);
  return { answer: got, correct: Math.abs(g - want) <= 1e-6 * Math.max(1, Math.abs(want)) };
}

// ---------------------------------------------------------------------------------------------
// Text

/** SQuAD-style normalisation: NFKC, lower case, punctuation and articles (a/an/the) removed, spaces collapsed. */
export function normalizeText(text: string): string {
  return clean(text)
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[\p{P}\p{S}]+/gu, " ")
    .replace(/\b(?:a|an|the)\b/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/** Normalised text equality. */
export function gradeExact(answer: string, ref: string): Grade {
  const got = normalizeText(answer);
  if (got === "") return { answer: "", correct: false, error: "empty answer" };
  return { answer: clean(answer).trim(), correct: got === normalizeText(ref) };
}

/** Token-level F1 between two texts after normalizeText (the SQuAD definition). */
export function tokenF1(pred: string, ref: string): number {
  const p = normalizeText(pred).split(" ").filter(Boolean);
  const r = normalizeText(ref).split(" ").filter(Boolean);
  if (p.length === 0 || r.length === 0) return p.length === r.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const t of r) counts.set(t, (counts.get(t) ?? 0) + 1);
  let common = 0;
  for (const t of p) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      common++;
      counts.set(t, c - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / p.length;
  const recall = common / r.length;
  return (2 * precision * recall) / (precision + recall);
}

/**
 * Instruction Induction: correct when the answer matches any accepted annotation after
 * normalisation; `f1` is the best token-level F1 against any annotation. The published work
 * scored with BERTScore (deberta-xlarge-mnli), which needs a model Concord does not ship;
 * token F1 is a lexical stand-in and reads lower for paraphrases.
 */
export function gradeInduction(answer: string, alternatives: string[]): Grade & { f1: number } {
  const text = clean(answer).trim();
  const got = normalizeText(text);
  if (got === "") return { answer: "", correct: false, f1: 0, error: "empty answer" };
  let f1 = 0;
  let correct = false;
  for (const alt of alternatives) {
    if (normalizeText(alt) === got) correct = true;
    f1 = Math.max(f1, tokenF1(text, alt));
  }
  return { answer: text, correct, f1 };
}

// ---------------------------------------------------------------------------------------------
// One entry point

/**
 * Grade a model's whole output (thinking block allowed) against a reference.
 * MedCalc kinds: the answer is extracted with extractMedcalcAnswer; when the model wrote no
 * "answer" at all, the whole answer text is graded (the published code scored that as wrong).
 */
export function gradeAnswer(answerText: string, ref: Reference): Grade {
  switch (ref.kind) {
    case "date":
    case "weeks_days":
    case "integer":
    case "decimal": {
      const extracted = extractMedcalcAnswer(answerText) ?? afterThinking(answerText);
      return gradeMedcalcKind(extracted, ref.kind, ref.value, ref.lower, ref.upper);
    }
    case "number":
      return gradeNumber(answerText, ref.value);
    case "exact": {
      const body = afterThinking(answerText);
      return gradeExact(extractMedcalcAnswer(body) ?? body, ref.value);
    }
    case "free":
      return gradeInduction(afterThinking(answerText), ref.alternatives?.length ? ref.alternatives : [ref.value]);
  }
}
