// The strategy for each condition kind, and the without-answer step shared by all of them.
import type { ConditionSpec } from "../../config/experiment-spec.js";
import { RULES_SANITIZER, sanitizeCot } from "../sanitize.js";
import { defaultCondition } from "./default.js";
import { emptyCondition } from "./empty.js";
import { ensembleCondition } from "./ensemble.js";
import { withoutAnswerKey } from "./keys.js";
import { transferCondition } from "./transfer.js";
import type { ConditionContext, ConditionJob, ConditionStrategy, MadeCot } from "./types.js";

export { recordCondition } from "./keys.js";
export { curatedCots } from "./transfer.js";
export type { ConditionContext, ConditionJob, MadeCot } from "./types.js";

export function strategyFor(cond: ConditionSpec): ConditionStrategy {
  switch (cond.kind) {
    case "empty":
      return emptyCondition;
    case "default-greedy":
    case "default-sampled":
      return defaultCondition as ConditionStrategy;
    case "transfer":
      return transferCondition as ConditionStrategy;
    case "ensemble":
      return ensembleCondition as ConditionStrategy;
  }
}

/** The chain a job's target is given: the full chain, or its sanitized copy (made once, saved). */
export async function cotForJob(job: ConditionJob, ctx: ConditionContext): Promise<MadeCot> {
  const strategy = strategyFor(job.cond);
  const full = await strategy.fullCot(job, ctx);
  if (job.variant === "full") return full;
  const s = await ctx.cots.get(withoutAnswerKey(strategy.chainKey(job), job.problem), async () => {
    const r = await sanitizeCot(full.cot, { sanitizer: ctx.sanitizer, mode: ctx.mode, signal: ctx.signal });
    return {
      cot: r.text,
      meta: {
        sanitizer: ctx.sanitizer?.name ?? RULES_SANITIZER,
        sanitizeMethod: r.method,
        ...(r.method === "rules" ? { sanitizerRemoved: r.removed.length } : {}),
        ...(r.method === "prefill" || r.method === "chat" ? { sanitizerDropped: r.dropped.length } : {}),
      },
    };
  });
  return { cot: s.cot, meta: { ...full.meta, ...s.meta } };
}
