// What a condition is to the experiment runner: a small strategy that makes the chain a
// target is given, and says how the target answers (SCIENCE.md §1, "Conditions").
import type { Problem } from "../../core/types.js";
import type { EngineEvent } from "../events.js";
import type { ConditionSpec, ExperimentSpec, RunMode } from "../../config/experiment-spec.js";
import type { CotMeta, CotStore } from "../../results/cot-store.js";
import type { ModelHandle } from "../models.js";

export type Variant = "full" | "without-answer";

export interface ConditionJob {
  problem: Problem;
  cond: ConditionSpec;
  variant: Variant;
  target: ModelHandle;
}

export interface ConditionContext {
  spec: ExperimentSpec;
  mode: RunMode;
  cots: CotStore;
  model(name: string): ModelHandle;
  sanitizer?: ModelHandle;
  signal?: AbortSignal;
  /** Reports what a condition notices but survives (a chain kept after it stopped early). */
  emit?: (e: EngineEvent) => void;
}

export interface MadeCot {
  cot: string;
  meta: CotMeta;
}

export interface ConditionStrategy<C extends ConditionSpec = ConditionSpec> {
  /** The full chain given to the target (made once per problem and condition, then saved). */
  fullCot(job: ConditionJob & { cond: C }, ctx: ConditionContext): Promise<MadeCot>;
  /** The key of the full chain a without-answer chain is sanitized from (see keys.ts). */
  chainKey(job: ConditionJob & { cond: C }): string;
  /** The target's answer temperature (greedy unless the condition samples). */
  answerTemperature(job: ConditionJob & { cond: C }, ctx: ConditionContext): number;
  /** The model name the paper's grading checked for "gpt-oss" (transfer runs: the source's). */
  paperGradingModel(job: ConditionJob & { cond: C }): string;
}
