// Every cache key of an experiment's chains, built in one place. The strings are those of
// earlier versions, so a results folder resumes with the chains it already saved.
import type { Problem } from "../../core/types.js";
import type { ConditionSpec } from "../../config/experiment-spec.js";
import { conditionKey, type Condition } from "../../results/schema.js";

const SEP = "\u241f";

/** The record's condition for a condition spec and variant. */
export function recordCondition(c: ConditionSpec, variant: "full" | "without-answer"): Condition {
  const out: Condition = { kind: c.kind, variant };
  if (c.kind === "transfer") out.source = c.source;
  if (c.kind === "ensemble") {
    out.generators = c.generators;
    out.evaluators = c.evaluators;
  }
  return out;
}

function problemPart(p: Problem): string {
  return `${p.source}${SEP}${p.id}`;
}

/** A target's own chain (default conditions), per target. */
export function defaultChainBase(kind: "default-greedy" | "default-sampled", target: string): string {
  return `${kind}${SEP}${target}`;
}

/** A transfer source's chain, shared by every target. */
export function transferChainBase(source: string): string {
  return `transfer${SEP}${source}`;
}

/** An ensemble chain: its condition, algorithm and k. */
export function ensembleChainKey(c: Extract<ConditionSpec, { kind: "ensemble" }>, mode: string, p: Problem): string {
  return `${conditionKey(recordCondition(c, "full"))}${SEP}${mode}${SEP}${c.k}${SEP}${problemPart(p)}`;
}

/** The full chain of a base (default or transfer) for a problem. */
export function chainKey(base: string, p: Problem): string {
  return `${base}${SEP}${problemPart(p)}`;
}

/** The sanitized chain made from a full chain. `base` is the default base or the full condition's key. */
export function withoutAnswerKey(base: string, p: Problem): string {
  return `${base}${SEP}${problemPart(p)}${SEP}without-answer`;
}
