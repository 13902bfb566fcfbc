// How close the rule-based answer remover comes to the paper's o4-mini sanitizer.
// Reads the genex Transfer(QwQ) files (same CoTs before and after the paper's sanitizer),
// aligns them sentence by sentence, and prints precision / recall / F1 of removed sentences.
// Usage: node --import tsx bench/sanitize-rules.ts [path/to/genex/medcalc/outputs]
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { alignKept, removeAnswerSentences, verifySanitized } from "../src/core/sanitize.js";
import { splitSentences } from "../src/core/sentences.js";

const dir = process.argv[2] ?? fileURLToPath(new URL("../../shared/data/genex/medcalc/outputs/", import.meta.url));
const FIELD = "LLM Raw Thinking";

type Row = Record<string, unknown>;

function readJsonl(path: string): Row[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l, i) => {
      try {
        return JSON.parse(l) as Row;
      } catch {
        throw new Error(`${path}: line ${i + 1} is not JSON`);
      }
    });
}

/** The five target files hold the same source CoT per item; take the first that has it. */
function firstPerItem(suffix: string): Array<{ text?: string; answer?: string; question?: string; row?: string }> {
  const files = readdirSync(dir).filter((f) => f.startsWith("Qwen_QwQ-32B_thoughts_to_") && f.endsWith(suffix));
  if (files.length === 0) throw new Error(`no *${suffix} transfer files in ${dir}`);
  const tables = files.sort().map((f) => readJsonl(join(dir, f)));
  const n = Math.max(...tables.map((t) => t.length));
  return Array.from({ length: n }, (_, i) => {
    const hit = tables.map((t) => t[i]).find((r) => r && typeof r[FIELD] === "string");
    return {
      text: hit?.[FIELD] as string | undefined,
      answer: typeof hit?.["LLM Answer"] === "string" ? (hit["LLM Answer"] as string) : undefined,
      question: typeof hit?.["Question"] === "string" ? (hit["Question"] as string) : undefined,
      row: hit ? String(hit["Row Number"]) : undefined,
    };
  });
}

const full = firstPerItem("_zero_shot_full.jsonl");
const sanitized = firstPerItem("_zero_shot_without_answer.jsonl");

interface Tally {
  tp: number;
  fp: number;
  fn: number;
}
const withoutHint: Tally = { tp: 0, fp: 0, fn: 0 };
const withHint: Tally = { tp: 0, fp: 0, fn: 0 };
const results: Tally = { tp: 0, fp: 0, fn: 0 };
const removeAll: Tally = { tp: 0, fp: 0, fn: 0 };
const perRule = new Map<string, { hit: number; all: number }>();
let items = 0;
let sentences = 0;
let paperRemoved = 0;
let missing = 0;
let emptyOutput = 0;
let outSentences = 0;
let outDropped = 0;
const examples = { fn: [] as string[], fp: [] as string[], tail: [] as string[] };
const tail = { hit: 0, all: 0 };
let tailItems = 0;
let stoppedEarly = 0;

for (let i = 0; i < Math.min(full.length, sanitized.length); i++) {
  const a = full[i];
  const b = sanitized[i];
  if (a.text === undefined || b.text === undefined || (a.row && b.row && a.row !== b.row)) {
    missing++;
    continue;
  }
  if (b.text.trim() === "") {
    emptyOutput++; // the sanitizer call failed or returned nothing: not a sentence-level decision
    continue;
  }
  items++;
  const spans = splitSentences(a.text);
  const kept = alignKept(a.text, b.text);
  const verified = verifySanitized(a.text, b.text);
  // The closing stretch: sentences after the last one the sanitizer kept, in items where it
  // worked through to the end (kept something in the last tenth), i.e. the CoT's conclusion.
  const lastKept = kept.lastIndexOf(true);
  const reachedEnd = lastKept >= 0 && (lastKept + 1) / spans.length >= 0.9;
  if (reachedEnd) tailItems++;
  if ((lastKept + 1) / spans.length < 2 / 3) stoppedEarly++;
  outSentences += verified.keptIndices.length + verified.dropped.length;
  outDropped += verified.dropped.length;

  for (const [tally, answer, level] of [
    [withoutHint, undefined, "answers"],
    [withHint, a.answer, "answers"],
    [results, a.answer, "results"],
    [removeAll, undefined, "all"],
  ] as const) {
    const rules =
      level === "all"
        ? { removed: spans, rules: spans.map(() => "all") }
        : removeAnswerSentences(a.text, { answer, level, question: answer === undefined ? undefined : a.question });
    const ruleOf = new Map(rules.removed.map((s, k) => [s.start, rules.rules[k]]));
    spans.forEach((s, k) => {
      if (kept[k] === null) return;
      const truth = kept[k] === false;
      const rule = ruleOf.get(s.start);
      const pred = rule !== undefined;
      if (tally === withoutHint) {
        sentences++;
        if (truth) paperRemoved++;
        if (rule) {
          const r = perRule.get(rule) ?? { hit: 0, all: 0 };
          r.all++;
          if (truth) r.hit++;
          perRule.set(rule, r);
        }
        if (reachedEnd && k > lastKept) {
          tail.all++;
          if (pred) tail.hit++;
          if (!pred && examples.tail.length < 40 && process.env.SHOW) examples.tail.push(s.text.trim());
        }
        if (truth && !pred && examples.fn.length < 12 && process.env.SHOW) examples.fn.push(s.text.trim());
        if (!truth && pred && examples.fp.length < 12 && process.env.SHOW) examples.fp.push(s.text.trim());
      }
      if (truth && pred) tally.tp++;
      else if (pred) tally.fp++;
      else if (truth) tally.fn++;
    });
  }
}

const pct = (x: number) => (100 * x).toFixed(1) + "%";
function prf(t: Tally): string {
  const p = t.tp / (t.tp + t.fp || 1);
  const r = t.tp / (t.tp + t.fn || 1);
  const f = p + r === 0 ? 0 : (2 * p * r) / (p + r);
  return `precision ${pct(p)}  recall ${pct(r)}  F1 ${pct(f)}  (tp ${t.tp}, fp ${t.fp}, fn ${t.fn})`;
}

console.log(`genex Transfer(QwQ) CoTs: ${items} items aligned (${missing} without a CoT on one side, ${emptyOutput} with an empty sanitizer output)`);
console.log(`sentences: ${sentences}; removed by the paper's sanitizer: ${paperRemoved} (${pct(paperRemoved / sentences)})`);
console.log(`rules alone:              ${prf(withoutHint)}`);
console.log(`rules + question + source's answer: ${prf(withHint)}`);
console.log(`level "results" + answer: ${prf(results)}`);
console.log(`baseline: remove all:     ${prf(removeAll)}`);
console.log(
  `closing stretch (${tailItems} items where the sanitizer reached the end; ${tail.all} sentences after its last kept one): rules remove ${tail.hit} (${pct(tail.hit / tail.all)})`,
);
console.log(`items where the sanitizer's output stops before the last third of the CoT: ${stoppedEarly}`);
for (const [rule, r] of [...perRule].sort()) console.log(`  rule ${rule.padEnd(14)} fired ${String(r.all).padStart(4)}, agreed ${pct(r.hit / r.all)}`);
console.log(
  `sanitizer output sentences not found verbatim in the original (dropped by verifySanitized): ${outDropped} of ${outSentences} (${pct(outDropped / outSentences)})`,
);
if (process.env.SHOW) {
  console.log("\nmissed (paper removed, rules kept):\n  " + examples.fn.join("\n  "));
  console.log("\nmissed in the closing stretch:\n  " + examples.tail.join("\n  "));
  console.log("\nextra (rules removed, paper kept):\n  " + examples.fp.join("\n  "));
}
