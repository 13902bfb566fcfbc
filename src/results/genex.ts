// Reading the published genex outputs (KoyenaPal/genex, MedCalc-Bench) into result records.
//
// File names accepted (stem = name without ".jsonl"; <P> = prompt style: zero_shot,
// zero_shot_persona, one_shot, direct_answer; <E> = gpt-oss reasoning effort low|medium|high;
// models in file-name form, the Hugging Face id with "/" replaced by "_"):
//   Transfer        <S>_thoughts_to_<T>_<P>[_full|_without_answer]      (no suffix = full)
//   Empty           <T>_<P>_empty[_<E>]
//   Default greedy  <T>_<P>_original[_<E>][_without_answer][_<E>]
//   Default sampled <T>_<P>_with_sampling[_<E>][_without_answer][_<E>]
//   Ensemble        <T>_<P>_ensembled_thought[_without_answer][_<tag>...][_gen_<g1>_<g2>..._eval_<e1>...][_<E>]
//                   (generator/evaluator tags are split on "_"; other words, e.g. "merged",
//                   "alternate", "minus_last", become the condition's tag)
// A reasoning effort in the name is appended to the target id ("openai/gpt-oss-20b-low"), as the
// published analysis did, so runs at different efforts stay distinct targets.
import { hasSkipPhrase } from "../core/consistency.js";
import { promises as fs } from "node:fs";
import { basename } from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import { z } from "zod";
import type { Condition, ResultRecord } from "./schema.js";
import { FILE_NAME_TO_ID } from "./labels.js";
import { gradeMedcalc, medcalcKind } from "../core/answers.js";
import { fileLines, zodIssueLine } from "./store.js";

export const PROMPT_STYLES = ["zero_shot_persona", "zero_shot", "one_shot", "direct_answer"] as const;
const EFFORTS = ["low", "medium", "high"] as const;
type Effort = (typeof EFFORTS)[number];

export interface GenexFileName {
  kind: Condition["kind"];
  variant: Condition["variant"];
  /** Target model in file-name form, e.g. "Qwen_QwQ-32B". */
  target: string;
  /** Transfer: source model in file-name form. */
  source?: string;
  generators?: string[];
  evaluators?: string[];
  tag?: string;
  promptStyle: string;
  reasoningEffort?: Effort;
}

const P = PROMPT_STYLES.join("|");
const TRANSFER_RE = new RegExp(`^(.+?)_thoughts_to_(.+)_(${P})(?:_(full|without_answer))?$`);
const OTHER_RE = new RegExp(`^(.+?)_(${P})_(.+)$`);

function isEffort(s: string | undefined): s is Effort {
  return s !== undefined && (EFFORTS as readonly string[]).includes(s);
}

/** Recognise a genex output file name; null when it follows none of the accepted patterns. */
export function parseGenexFileName(name: string): GenexFileName | null {
  if (!name.endsWith(".jsonl")) return null;
  const stem = basename(name).slice(0, -".jsonl".length);

  const t = TRANSFER_RE.exec(stem);
  if (t) {
    return {
      kind: "transfer",
      variant: t[4] === "without_answer" ? "without-answer" : "full",
      source: t[1],
      target: t[2],
      promptStyle: t[3],
    };
  }

  const m = OTHER_RE.exec(stem);
  if (!m) return null;
  const [, target, promptStyle] = m;
  let words = m[3].split("_");
  let effort: Effort | undefined;
  const takeEffort = () => {
    if (isEffort(words[words.length - 1])) effort = words.pop() as Effort;
  };
  takeEffort();

  const base = { target, promptStyle };
  const withEffort = <T extends object>(x: T) => (effort ? { ...x, reasoningEffort: effort } : x);

  if (words.join("_") === "empty") return withEffort({ ...base, kind: "empty" as const, variant: "full" as const });

  const defaultKind =
    words[0] === "original"
      ? { kind: "default-greedy" as const, rest: words.slice(1) }
      : words[0] === "with" && words[1] === "sampling"
        ? { kind: "default-sampled" as const, rest: words.slice(2) }
        : null;
  if (defaultKind) {
    // The effort may come right after the kind ("original_low_without_answer") or last (taken above).
    words = defaultKind.rest;
    let variant: Condition["variant"] = "full";
    if (words.join("_") === "without_answer") {
      variant = "without-answer";
      words = [];
    } else {
      if (isEffort(words[0]) && !effort) effort = words.shift() as Effort;
      if (words.join("_") === "without_answer") {
        variant = "without-answer";
        words = [];
      }
    }
    if (words.length) return null;
    return withEffort({ ...base, kind: defaultKind.kind, variant });
  }

  if (words[0] === "ensembled" && words[1] === "thought") {
    words = words.slice(2);
    let generators: string[] | undefined;
    let evaluators: string[] | undefined;
    const gen = words.indexOf("gen");
    const ev = words.lastIndexOf("eval");
    if (gen !== -1) {
      if (ev === -1 || ev < gen + 2 || ev === words.length - 1) return null;
      generators = words.slice(gen + 1, ev);
      evaluators = words.slice(ev + 1);
      words = words.slice(0, gen);
    } else if (ev !== -1) {
      return null;
    }
    let variant: Condition["variant"] = "full";
    const wa = words.join("_").indexOf("without_answer");
    if (wa !== -1) {
      const i = words.indexOf("without");
      if (words[i + 1] !== "answer") return null;
      words.splice(i, 2);
      variant = "without-answer";
    }
    if (words.some((w) => !/^[A-Za-z0-9.-]+$/.test(w))) return null;
    const tag = words.length ? words.join("_") : undefined;
    return withEffort({
      ...base,
      kind: "ensemble" as const,
      variant,
      ...(generators ? { generators, evaluators } : {}),
      ...(tag ? { tag } : {}),
    });
  }
  return null;
}

/** "Qwen_QwQ-32B" -> "Qwen/QwQ-32B" for the known models; else the first "_" becomes "/". */
export function modelIdFromFileName(name: string): string {
  if (FILE_NAME_TO_ID[name]) return FILE_NAME_TO_ID[name];
  const i = name.indexOf("_");
  return i > 0 ? `${name.slice(0, i)}/${name.slice(i + 1)}` : name;
}

// ---------- the dataset join ----------

export interface MedcalcRow {
  rowNumber: string;
  calculatorId: number;
  outputType: string;
  groundTruth: string;
  lower?: number;
  upper?: number;
}

/** Read the MedCalc-Bench CSV, keyed by Row Number (for the reference and its limits). */
export async function loadMedcalcLimits(path: string): Promise<Map<string, MedcalcRow>> {
  let text: string;
  try {
    text = await fs.readFile(path, "utf8");
  } catch {
    throw new Error(`${path}: cannot read the MedCalc-Bench CSV`);
  }
  let rows: Record<string, string>[];
  try {
    rows = parseCsv(text, { columns: true, skip_empty_lines: true, bom: true }) as Record<string, string>[];
  } catch (err) {
    throw new Error(`${path}: not a readable CSV (${(err as Error).message.split("\n")[0]})`);
  }
  const out = new Map<string, MedcalcRow>();
  rows.forEach((r, i) => {
    for (const col of ["Row Number", "Calculator ID", "Ground Truth Answer"]) {
      if (r[col] === undefined) throw new Error(`${path}: row ${i + 2}: missing column "${col}"`);
    }
    const num = (s: string | undefined) => (s !== undefined && s.trim() !== "" && Number.isFinite(Number(s)) ? Number(s) : undefined);
    out.set(String(r["Row Number"]).trim(), {
      rowNumber: String(r["Row Number"]).trim(),
      calculatorId: Number(r["Calculator ID"]),
      outputType: (r["Output Type"] ?? "").trim(),
      groundTruth: r["Ground Truth Answer"],
      lower: num(r["Lower Limit"]),
      upper: num(r["Upper Limit"]),
    });
  });
  return out;
}

function referenceFor(row: MedcalcRow): ResultRecord["reference"] {
  const kind = medcalcKind(row.calculatorId, row.outputType);
  const ref: ResultRecord["reference"] = { kind, value: row.groundTruth };
  if (kind === "decimal") {
    if (row.lower !== undefined) ref.lower = row.lower;
    if (row.upper !== undefined) ref.upper = row.upper;
  }
  return ref;
}

// ---------- rows ----------

const text = z.union([z.string(), z.number()]).transform(String);
const genexRowSchema = z.object({
  "Row Number": z.union([z.number().int(), z.string().regex(/^\d+$/, "expected an integer")]).transform(String),
  "Calculator ID": text.nullish(),
  "Calculator Name": z.string().nullish(),
  Category: z.string().nullish(),
  "Note ID": text.nullish(),
  "LLM Name": z.string().nullish(),
  "LLM Model": z.string().nullish(),
  "LLM Answer": text.nullish(),
  "LLM Thinking": z.string().nullish(),
  "LLM Raw Thinking": z.string().nullish(),
  Result: z.string().nullish(),
  "Target Model": z.string().nullish(),
  "Target Answer": text.nullish(),
  "Target Result": z.string().nullish(),
  "Transferred Thoughts": z.string().nullish(),
});
type GenexRow = z.infer<typeof genexRowSchema>;
// Optional fields may be null in the published files (pandas wrote NaN as null); read both as absent.

/**
 * Exception texts the published pipeline stored in place of an answer when extraction or grading
 * crashed (non-transfer files). The paper's skip phrases are among them.
 */
const CRASH_PATTERNS = [
  /is not defined/,
  /does not match format/,
  /are not permitted/,
  /has no attribute/,
  /object is not (subscriptable|iterable|callable)/,
  /invalid literal for/,
  /could not convert/,
  /index out of range/,
  /unsupported operand/,
  /division by zero/,
  /invalid syntax/,
  /^[A-Z][A-Za-z]*Error\b/,
];
/** What the published extraction returned when it found no answer. */
const NOT_FOUND = new Set(["N/A", "Not Found"]);

export function classifyRecordedAnswer(raw: string | null): Pick<ResultRecord, "answer" | "answerRaw" | "answerMissing"> {
  if (raw === null) return { answerRaw: null, answer: null, answerMissing: "absent" };
  if (CRASH_PATTERNS.some((re) => re.test(raw))) return { answerRaw: raw, answer: null, answerMissing: "crashed" };
  if (NOT_FOUND.has(raw.trim())) return { answerRaw: raw, answer: null, answerMissing: "not-found" };
  return { answerRaw: raw, answer: raw };
}

export interface FileContext {
  file: string;
  info: GenexFileName;
  /** Target and source ids for the whole file (rows that lack the field use these). */
  targetId: string;
  sourceId?: string;
  limits: Map<string, MedcalcRow>;
}

/** Convert one parsed row; throws an Error whose message names the field. */
export function convertGenexRow(value: unknown, ctx: FileContext, line: number): ResultRecord {
  const parsed = genexRowSchema.safeParse(value);
  if (!parsed.success) throw new Error(zodIssueLine(parsed.error));
  const row: GenexRow = parsed.data;
  const transfer = ctx.info.kind === "transfer";
  if (!transfer) {
    if (row["LLM Answer"] == null) throw new Error('missing field "LLM Answer"');
    if (row["Result"] == null) throw new Error('missing field "Result"');
  }
  const ds = ctx.limits.get(row["Row Number"]);
  if (!ds) throw new Error(`Row Number ${row["Row Number"]} is not in the dataset CSV`);

  const recorded = transfer ? (row["Target Answer"] ?? null) : row["LLM Answer"]!;
  const grade = transfer ? row["Target Result"] : row["Result"];
  const effortSuffix = ctx.info.reasoningEffort ? `-${ctx.info.reasoningEffort}` : "";
  const fieldTarget = transfer ? row["Target Model"] : row["LLM Name"];
  const target = fieldTarget ? fieldTarget + effortSuffix : ctx.targetId;

  const condition: Condition = { kind: ctx.info.kind, variant: ctx.info.variant };
  if (transfer) condition.source = ctx.sourceId;
  if (ctx.info.generators) condition.generators = ctx.info.generators;
  if (ctx.info.evaluators) condition.evaluators = ctx.info.evaluators;
  if (ctx.info.tag) condition.tag = ctx.info.tag;

  const cot = transfer
    ? row["LLM Raw Thinking"]
    : ctx.info.kind === "ensemble" || ctx.info.variant === "without-answer"
      ? row["Transferred Thoughts"]
      : ctx.info.kind === "empty"
        ? undefined
        : row["LLM Thinking"];

  const meta: ResultRecord["meta"] = {
    importedFrom: `${basename(ctx.file)}:${line}`,
    promptStyle: ctx.info.promptStyle,
    calculatorId: ds.calculatorId,
  };
  if (row["Calculator Name"]) meta.calculatorName = row["Calculator Name"];
  if (row["Category"]) meta.category = row["Category"];
  if (row["Note ID"]) meta.noteId = row["Note ID"];
  if (ctx.info.reasoningEffort) meta.reasoningEffort = ctx.info.reasoningEffort;
  // The authors' without-answer chains are o4-mini's replies, used as is (openai_remove_answer.py).
  if (condition.variant === "without-answer") Object.assign(meta, { sanitizer: "o4-mini", sanitizeMethod: "paper" });
  if (transfer && row["LLM Answer"] != null) meta.sourceAnswer = row["LLM Answer"];
  if (transfer && row["Result"] != null) meta.sourceResult = row["Result"];

  const answerFields = classifyRecordedAnswer(recorded);
  // Concord's own grading of the recorded answer, kept beside the recorded grade (never replacing it).
  meta.regradedCorrect =
    answerFields.answer === null
      ? false
      : gradeMedcalc(answerFields.answer, {
          calculatorId: ds.calculatorId,
          outputType: ds.outputType || undefined,
          groundTruth: ds.groundTruth,
          lower: ds.lower,
          upper: ds.upper,
        }).correct;

  // The published code: anything but "correct" (case-insensitive), an absent grade included, is wrong.
  const correct = (grade ?? "").toLowerCase() === "correct";
  // Both readings: the authors' recorded grade (their consistency skips the skip phrases; an
  // absent answer reads as "") and Concord's regrade of the extracted answer.
  const paperText = recorded ?? "";
  const paperExcluded = hasSkipPhrase(paperText);
  return {
    schema: 1,
    experiment: "genex",
    condition,
    target,
    problemId: row["Row Number"],
    dataset: "medcalc-bench",
    reference: referenceFor(ds),
    ...answerFields,
    correct,
    grades: {
      reading: "paper",
      paper: { answer: paperExcluded ? null : paperText, correct, excluded: paperExcluded, recorded: paperText },
      concord: { answer: answerFields.answer, correct: meta.regradedCorrect, excluded: answerFields.answer === null },
    },
    ...(cot != null && cot !== "" && cot !== "<empty>" ? { cot } : {}),
    meta,
  };
}

export interface LineError {
  file: string;
  line: number;
  message: string;
}

export interface ImportedFile {
  file: string;
  info: GenexFileName;
  records: ResultRecord[];
  errors: LineError[];
}

function majorityOf(counts: Map<string, number>): string | undefined {
  let best: string | undefined;
  let n = 0;
  for (const [v, c] of counts) if (c > n) [best, n] = [v, c];
  return best;
}

/** Each line of a file, streamed (a genex output file can be larger than one string may be). */
async function* streamLines(path: string): AsyncGenerator<{ line: number; text: string; unterminated: boolean }> {
  const handle = await fs.open(path, "r");
  try {
    yield* fileLines(handle);
  } finally {
    await handle.close();
  }
}

export interface GenexRecordSink {
  record(rec: ResultRecord): void | Promise<void>;
  error(err: LineError): void;
}

/**
 * Stream one genex output file: each good line to `sink.record`, each bad one to `sink.error`,
 * in line order. Memory stays bounded by one line whatever the file's size: the models named
 * in the rows (the majority wins) are found in a first pass, then the rows are converted.
 */
export async function forEachGenexRecord(path: string, info: GenexFileName, limits: Map<string, MedcalcRow>, sink: GenexRecordSink): Promise<void> {
  const field = (v: unknown, k: string) =>
    v && typeof v === "object" && typeof (v as Record<string, unknown>)[k] === "string" ? (v as Record<string, string>)[k] : undefined;
  const transfer = info.kind === "transfer";
  const targets = new Map<string, number>();
  const sources = new Map<string, number>();
  const count = (m: Map<string, number>, v: string | undefined) => v && m.set(v, (m.get(v) ?? 0) + 1);
  for await (const { text } of streamLines(path)) {
    if (text.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      continue;
    }
    count(targets, field(value, transfer ? "Target Model" : "LLM Name"));
    if (transfer) count(sources, field(value, "LLM Model"));
  }
  const effortSuffix = info.reasoningEffort ? `-${info.reasoningEffort}` : "";
  const targetId = (majorityOf(targets) ?? modelIdFromFileName(info.target)) + effortSuffix;
  const sourceId = transfer ? (majorityOf(sources) ?? modelIdFromFileName(info.source!)) : undefined;
  const ctx: FileContext = { file: path, info, targetId, sourceId, limits };
  for await (const { line, text, unterminated } of streamLines(path)) {
    if (text.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      sink.error({ file: path, line, message: unterminated ? "truncated last line (incomplete JSON)" : "not valid JSON" });
      continue;
    }
    let rec: ResultRecord;
    try {
      rec = convertGenexRow(value, ctx, line);
    } catch (err) {
      sink.error({ file: path, line, message: (err as Error).message });
      continue;
    }
    await sink.record(rec);
  }
}

/** Read one genex output file; bad lines become errors, the other lines records. */
export async function importGenexFile(path: string, info: GenexFileName, limits: Map<string, MedcalcRow>): Promise<ImportedFile> {
  const records: ResultRecord[] = [];
  const errors: LineError[] = [];
  await forEachGenexRecord(path, info, limits, { record: (r) => void records.push(r), error: (e) => errors.push(e) });
  return { file: path, info, records, errors };
}
