// One record per target answer: everything needed to recompute every metric.
import { z } from "zod";

export const CONDITION_KINDS = ["empty", "default-greedy", "default-sampled", "transfer", "ensemble"] as const;
const VARIANTS = ["full", "without-answer"] as const;

export const conditionSchema = z.object({
  kind: z.enum(CONDITION_KINDS),
  /** Transfer: the model whose CoT was transferred. */
  source: z.string().min(1).optional(),
  /** Ensemble: generator and evaluator models (ids or short tags). */
  generators: z.array(z.string().min(1)).optional(),
  evaluators: z.array(z.string().min(1)).optional(),
  /** A further distinction within the kind (e.g. an ensemble run's name, "alternate"). */
  tag: z.string().min(1).optional(),
  variant: z.enum(VARIANTS),
});
export type Condition = z.infer<typeof conditionSchema>;

const referenceSchema = z.object({
  kind: z.enum(["integer", "decimal", "date", "weeks_days", "number", "exact", "free"]),
  value: z.string(),
  lower: z.number().optional(),
  upper: z.number().optional(),
});

/** Why `answer` is null. */
const MISSING_REASONS = [
  "absent", // the source recorded no answer field / the target returned nothing
  "crashed", // extraction or grading crashed; answerRaw holds the error text
  "not-found", // extraction ran and found no answer
  "error", // the backend failed
  "truncated", // the reply hit its token budget, so it was not graded
] as const;

/** One reading's grade of a reply (core/readings.ts). */
export const readingGradeSchema = z.object({
  answer: z.string().nullable(),
  correct: z.boolean(),
  excluded: z.boolean(),
  crashed: z.boolean().optional(),
  recorded: z.string().optional(),
});

export const resultRecordSchema = z.object({
  schema: z.literal(1),
  experiment: z.string().optional(),
  condition: conditionSchema,
  /** Target model id (e.g. "Qwen/QwQ-32B"). */
  target: z.string().min(1),
  problemId: z.string().min(1),
  /** Dataset name, as Problem.source (e.g. "medcalc-bench"). */
  dataset: z.string().min(1),
  reference: referenceSchema,
  /** The answer text as produced or recorded (crash text included); null when there was none. */
  answerRaw: z.string().nullable(),
  /** The extracted answer; null when crashed or missing. */
  answer: z.string().nullable(),
  answerMissing: z.enum(MISSING_REASONS).optional(),
  /** The recorded grade. */
  correct: z.boolean(),
  /** The grade under the published code's rules, when it differs in kind from `correct`. */
  paperCorrect: z.boolean().optional(),
  /** Both readings of the reply: `reading` is the one in answer/correct; paper is null outside MedCalc. */
  grades: z.object({ reading: z.enum(["paper", "concord"]), paper: readingGradeSchema.nullable(), concord: readingGradeSchema }).optional(),
  /** The reply hit its token budget (then it is not graded). */
  truncated: z.boolean().optional(),
  /** The thinking given to the target (transferred or ensembled CoT). */
  cot: z.string().optional(),
  meta: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
});
export type ResultRecord = z.infer<typeof resultRecordSchema>;

/** A stable key for a condition: kind, source, generators, evaluators, tag, variant. */
export function conditionKey(c: Condition): string {
  const parts: string[] = [c.kind];
  if (c.source) parts.push(`source=${c.source}`);
  if (c.generators?.length) parts.push(`gen=${c.generators.join("+")}`);
  if (c.evaluators?.length) parts.push(`eval=${c.evaluators.join("+")}`);
  if (c.tag) parts.push(`tag=${c.tag}`);
  parts.push(c.variant);
  return parts.join("|");
}

/** The resume key: condition + target + problem (within its dataset and experiment). */
export function resultKey(rec: Pick<ResultRecord, "condition" | "target" | "problemId" | "dataset" | "experiment">): string {
  return [rec.experiment ?? "", conditionKey(rec.condition), rec.target, rec.dataset, rec.problemId].join("\u241f");
}
