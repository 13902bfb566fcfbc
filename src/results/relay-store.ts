// Relay results (relay.jsonl in a results folder): one record per answered chain, the
// initiator's alone, each continuer's alone, and every hybrid (a cut continued by a continuer),
// with per-step scores and their chain-level aggregates. Appended whole or not at all; a torn
// last line (a killed run) is skipped and its chain made again on the next run.
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { describeFsError } from "../fsutil/write.js";
import { appendRecordLines } from "./store.js";

export const RELAY_FILE = "relay.jsonl";

export const RELAY_ROLES = ["initiator", "continuer-alone", "hybrid"] as const;
export type RelayRole = (typeof RELAY_ROLES)[number];

const scoreAggregateSchema = z.object({ min: z.number(), mean: z.number(), last: z.number() });

export const relayRecordSchema = z.object({
  schema: z.literal(1),
  experiment: z.string().optional(),
  role: z.enum(RELAY_ROLES),
  problemId: z.string().min(1),
  dataset: z.string().min(1),
  reference: z.object({
    kind: z.enum(["integer", "decimal", "date", "weeks_days", "number", "exact", "free"]),
    value: z.string(),
    lower: z.number().optional(),
    upper: z.number().optional(),
    alternatives: z.array(z.string()).optional(),
  }),
  /** The initiator (initiator and hybrid records). */
  initiator: z.string().min(1).optional(),
  initiatorFamily: z.string().optional(),
  /** The continuer (continuer-alone and hybrid records). */
  continuer: z.string().min(1).optional(),
  continuerFamily: z.string().optional(),
  /** Hybrid: the cut stage, the rule that placed it, and which of the `samples` continuations. */
  stage: z.enum(["early", "mid", "late"]).optional(),
  rule: z.string().optional(),
  sample: z.number().int().min(0).optional(),
  /** Hybrid: the continuer got sentences 0..cutSentence; its own begin at handover. */
  cutSentence: z.number().int().min(0).optional(),
  handover: z.number().int().min(0).optional(),
  sentences: z.array(z.string()),
  answerRaw: z.string(),
  /** The graded answer; "" when none was found. */
  answer: z.string(),
  correct: z.boolean(),
  truncated: z.boolean().optional(),
  /** Hybrid: the continuer's answer against the initiator's. */
  comparison: z.enum(["agrees", "differs", "no-answer"]).optional(),
  /** Hybrid: the first sentence after which the continuer's answer departs (null: not found or not asked). */
  departure: z
    .object({ sentence: z.number().int().min(0), position: z.number().min(0).max(1), answer: z.string() })
    .nullable()
    .optional(),
  stepScores: z.array(z.number().nullable()).optional(),
  scoreAggregate: scoreAggregateSchema.nullable().optional(),
  scorer: z.string().optional(),
  meta: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).default({}),
});
export type RelayRecord = z.infer<typeof relayRecordSchema>;

/** The resume key: one record per role, problem, models, stage and sample. */
export function relayRecordKey(
  r: Pick<RelayRecord, "experiment" | "role" | "dataset" | "problemId" | "initiator" | "continuer" | "stage" | "rule" | "sample">,
): string {
  return [r.experiment ?? "", r.role, r.dataset, r.problemId, r.initiator ?? "", r.continuer ?? "", r.stage ?? "", r.rule ?? "", r.sample ?? ""].join("\u241f");
}

export interface RelayReadIssue {
  line: number;
  torn: boolean;
  message: string;
}

/** Every record of `<dir>/relay.jsonl` (none when there is no such file), and the lines that could not be read. */
export async function readRelayRecords(dir: string): Promise<{ records: RelayRecord[]; issues: RelayReadIssue[]; found: boolean }> {
  const path = join(dir, RELAY_FILE);
  let text: string;
  try {
    text = await fs.readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { records: [], issues: [], found: false };
    throw new Error(`${path}: cannot read: ${describeFsError(err, path)}`);
  }
  const records: RelayRecord[] = [];
  const issues: RelayReadIssue[] = [];
  const lines = text.split("\n");
  const endsClean = text.endsWith("\n") || text === "";
  if (endsClean) lines.pop();
  lines.forEach((raw, i) => {
    if (!raw.trim()) return;
    const torn = !endsClean && i === lines.length - 1;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch {
      issues.push({ line: i + 1, torn, message: torn ? "torn last line (incomplete write), skipped" : "not valid JSON, skipped" });
      return;
    }
    const r = relayRecordSchema.safeParse(v);
    if (r.success) records.push(r.data);
    else
      issues.push({
        line: i + 1,
        torn: false,
        message: `field ${r.error.issues[0]?.path.join(".") ?? "?"}: ${r.error.issues[0]?.message ?? "invalid"}, skipped`,
      });
  });
  return { records, issues, found: true };
}

/** Append records in one write, whole or not at all (every one is checked first: a bad record never reaches the file). */
export async function appendRelayRecords(dir: string, recs: readonly RelayRecord[]): Promise<void> {
  await appendRecordLines(
    dir,
    RELAY_FILE,
    "relay results",
    recs.map((rec) => JSON.stringify(relayRecordSchema.parse(rec))),
  );
}
