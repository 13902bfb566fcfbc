// Sentence importance across models (counterfactual resampling, after Thought Anchors,
// arXiv 2506.19143; SCIENCE.md §2): for each sentence i of a chain, every target continues the
// chain from the prefix before i and from the prefix including i, `samples` times each (sampled,
// each with its own seed), and answers; how far the answers move between the two prefixes is
// the sentence's importance for that target. The prefix including i is the prefix before i+1,
// so a chain of n sentences needs n+1 prefixes. Every sample is appended to a file as it is
// known, so a killed run resumes; the seeds let the response cache serve a rerun.
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import { dirname, join } from "node:path";
import { sentenceImportance, targetAgreement, type SampledAnswer, type SentenceImportance, type TargetAgreement } from "../core/relay-stats.js";
import type { Problem } from "../core/types.js";
import { appendVerified, ensureDir } from "../fsutil/write.js";
import { UserError } from "../errors.js";
import { isAbort, throwIfAborted } from "./abort.js";
import { generateCot } from "./cot.js";
import type { ModelHandle } from "./models.js";
import { joinSentences } from "./relay.js";
import { askTarget, DEFAULT_ANSWER_TOKENS } from "./targets.js";

export interface ImportanceSample {
  target: string;
  /** Sentences of the chain kept before the continuation (0..n). */
  prefix: number;
  sample: number;
  answer: string;
  correct: boolean;
  continuation: string;
}

export interface ImportanceOptions {
  problem: Problem;
  sentences: string[];
  targets: ModelHandle[];
  samples: number;
  temperature?: number;
  seed?: number;
  /** Token budget of each continuation. */
  maxTokens?: number;
  answerTokens?: number;
  /** Samples are appended here and read back on the next run. */
  file?: string;
  signal?: AbortSignal;
  onProgress?: (p: { done: number; total: number; label: string }) => void;
  onError?: (source: string, message: string) => void;
}

export interface ImportanceRow {
  sentence: number;
  text: string;
  byTarget: Record<string, SentenceImportance>;
}

export interface ImportanceResult {
  problemId: string;
  sentences: number;
  samples: number;
  targets: Array<{ name: string; family?: string }>;
  rows: ImportanceRow[];
  /** Agreement of the targets on which sentences move the answers (total variation per sentence). */
  agreement: TargetAgreement;
  /** Samples made by this run (the rest were read back from the file). */
  made: number;
}

/** Model calls a full run makes: a continuation and an answer per target, prefix and sample. */
export function importanceCalls(sentences: number, targets: number, samples: number): number {
  return 2 * targets * (sentences + 1) * samples;
}

const sampleKey = (target: string, prefix: number, sample: number) => `${target}\u241f${prefix}\u241f${sample}`;

/** Names a chain of a problem (sentences compared without their surrounding whitespace). */
export function chainDigest(problem: Pick<Problem, "source" | "id">, sentences: readonly string[]): string {
  return createHash("sha256")
    .update(JSON.stringify([problem.source, problem.id, sentences.map((s) => s.trim())]))
    .digest("hex")
    .slice(0, 16);
}

interface FileHeader {
  kind: "concord-importance";
  problemId: string;
  chain: string;
  temperature: number;
  seed: number;
}

/** Samples saved by an earlier run for the same chain and sampling; a file of another chain is refused. */
export async function readSamples(file: string, header: FileHeader): Promise<Map<string, ImportanceSample>> {
  const out = new Map<string, ImportanceSample>();
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return out;
    throw new UserError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  const lines = text.split("\n").filter((l) => l.trim());
  if (!lines.length) return out;
  let head: Partial<FileHeader>;
  try {
    head = JSON.parse(lines[0]!) as Partial<FileHeader>;
  } catch {
    throw new UserError(`${file}: not an importance file (its first line is not JSON)`);
  }
  if (head.kind !== "concord-importance") throw new UserError(`${file}: not an importance file`);
  if (head.chain !== header.chain || head.problemId !== header.problemId || head.temperature !== header.temperature || head.seed !== header.seed)
    throw new UserError(`${file}: holds samples of another chain or sampling; choose another --out`);
  for (const line of lines.slice(1)) {
    try {
      const s = JSON.parse(line) as ImportanceSample;
      if (typeof s.target === "string" && Number.isInteger(s.prefix) && Number.isInteger(s.sample) && typeof s.answer === "string")
        out.set(sampleKey(s.target, s.prefix, s.sample), s);
    } catch {
      // A torn last line from a killed run: that sample is made again.
    }
  }
  return out;
}

/** The default samples file of a chain: importance/<problem>-<chain digest>.jsonl under `root`. */
export function importanceFile(problem: Pick<Problem, "source" | "id">, sentences: readonly string[], root = "importance"): string {
  return join(root, `${problem.id.replace(/[^\w.-]+/g, "_")}-${chainDigest(problem, sentences)}.jsonl`);
}

/** The importance of a chain from its default samples file, or undefined when it has none. */
export async function savedImportance(
  problem: Pick<Problem, "source" | "id">,
  sentences: readonly string[],
  root = "importance",
): Promise<ImportanceResult | undefined> {
  const file = importanceFile(problem, sentences, root);
  let head: Partial<FileHeader>;
  try {
    head = JSON.parse((await fs.readFile(file, "utf8")).split("\n", 1)[0]!) as Partial<FileHeader>;
  } catch {
    return undefined;
  }
  if (head.kind !== "concord-importance" || typeof head.temperature !== "number" || typeof head.seed !== "number") return undefined;
  const samples = await readSamples(file, {
    kind: "concord-importance",
    problemId: problem.id,
    chain: chainDigest(problem, sentences),
    temperature: head.temperature,
    seed: head.seed,
  });
  if (!samples.size) return undefined;
  const names = [...new Set([...samples.values()].map((s) => s.target))];
  const n = Math.max(...[...samples.values()].map((s) => s.sample)) + 1;
  return summarize(
    problem,
    sentences.map((s) => s.trim()),
    names.map((name) => ({ name })),
    n,
    samples,
  );
}

export async function runImportance(opts: ImportanceOptions): Promise<ImportanceResult> {
  const { problem, sentences, targets, samples, signal } = opts;
  if (sentences.length === 0) throw new UserError(`the chain for problem ${problem.id} has no sentences`);
  const temperature = opts.temperature ?? 0.7;
  const seed = opts.seed ?? 1;
  const header: FileHeader = { kind: "concord-importance", problemId: problem.id, chain: chainDigest(problem, sentences), temperature, seed };
  const saved = opts.file ? await readSamples(opts.file, header) : new Map<string, ImportanceSample>();
  let writes: Promise<void> = Promise.resolve();
  if (opts.file && saved.size === 0) {
    const file = opts.file;
    await ensureDir(dirname(file), "importance");
    await fs.writeFile(file, JSON.stringify(header) + "\n");
  }
  const total = targets.length * (sentences.length + 1) * samples;
  let done = 0;
  let made = 0;
  const all = new Map(saved);
  const jobs: Array<Promise<void>> = [];
  for (const t of targets) {
    for (let prefix = 0; prefix <= sentences.length; prefix++) {
      for (let s = 0; s < samples; s++) {
        const key = sampleKey(t.name, prefix, s);
        if (saved.has(key)) {
          done++;
          continue;
        }
        jobs.push(
          (async () => {
            const kept = joinSentences(sentences.slice(0, prefix)).trimEnd();
            const more = await generateCot(t, problem, { prefix: kept, maxTokens: opts.maxTokens ?? 256, temperature, seed: seed + s, signal });
            const reply = await askTarget(t, problem, kept + more.cot, { maxTokens: opts.answerTokens ?? DEFAULT_ANSWER_TOKENS, signal });
            throwIfAborted(signal);
            if (reply.error) {
              opts.onError?.(t.name, reply.error);
              return;
            }
            const sample: ImportanceSample = {
              target: t.name,
              prefix,
              sample: s,
              answer: reply.grade.answer,
              correct: reply.grade.correct,
              continuation: more.cot,
            };
            all.set(key, sample);
            made++;
            if (opts.file) {
              const file = opts.file;
              writes = writes.then(() =>
                appendVerified(file, JSON.stringify(sample) + "\n", { what: "importance samples", kept: "every sample written before is kept" }),
              );
              await writes;
            }
            done++;
            opts.onProgress?.({ done, total, label: `${t.name}, ${prefix} sentences kept, sample ${s + 1}` });
          })(),
        );
      }
    }
  }
  opts.onProgress?.({ done, total, label: done ? `${done} samples already in ${opts.file}` : "starting" });
  const settled = await Promise.allSettled(jobs);
  await writes.catch(() => {});
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) {
    const reason = (failed as PromiseRejectedResult).reason;
    if (isAbort(reason, signal)) throw reason;
    throw reason;
  }
  return summarize(problem, sentences, targets, samples, all, made);
}

/** The importance table from the samples (pure once the samples are known). */
export function summarize(
  problem: Pick<Problem, "id">,
  sentences: readonly string[],
  targets: ReadonlyArray<Pick<ModelHandle, "name" | "family">>,
  samples: number,
  all: ReadonlyMap<string, ImportanceSample>,
  made = 0,
): ImportanceResult {
  const at = (target: string, prefix: number): SampledAnswer[] => {
    const out: SampledAnswer[] = [];
    for (let s = 0; s < samples; s++) {
      const v = all.get(sampleKey(target, prefix, s));
      if (v) out.push({ answer: v.answer, correct: v.correct });
    }
    return out;
  };
  const rows: ImportanceRow[] = sentences.map((text, i) => ({
    sentence: i,
    text,
    byTarget: Object.fromEntries(targets.map((t, k) => [t.name, sentenceImportance(at(t.name, i), at(t.name, i + 1), 1000, 1 + i * 31 + k)])),
  }));
  const byTarget = new Map(targets.map((t) => [t.name, rows.map((r) => r.byTarget[t.name]?.divergence?.value ?? 0)]));
  return {
    problemId: problem.id,
    sentences: sentences.length,
    samples,
    targets: targets.map((t) => ({ name: t.name, ...(t.family ? { family: t.family } : {}) })),
    rows,
    agreement: targetAgreement(byTarget),
    made,
  };
}
