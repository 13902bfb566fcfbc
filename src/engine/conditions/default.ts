// Default (greedy / sampled): each target answers from its own chain of thought.
import { collapseWhitespace } from "../../core/paper-grade.js";
import type { ConditionSpec } from "../../config/experiment-spec.js";
import { generateCot } from "../cot.js";
import { chainKey, defaultChainBase } from "./keys.js";
import type { ConditionStrategy } from "./types.js";

type DefaultSpec = Extract<ConditionSpec, { kind: "default-greedy" | "default-sampled" }>;

export const defaultCondition: ConditionStrategy<DefaultSpec> = {
  fullCot: (job, ctx) => {
    const { cond, target, problem } = job;
    const temperature = cond.kind === "default-greedy" ? 0 : ctx.spec.cot.sampledTemperature;
    return ctx.cots.get(chainKey(defaultChainBase(cond.kind, target.name), problem), async () => {
      const r = await generateCot(target, problem, {
        maxTokens: ctx.spec.cot.maxTokens,
        temperature,
        seed: ctx.spec.cot.seed,
        signal: ctx.signal,
        paper: ctx.mode === "paper",
      });
      // The authors' chains were cut from whitespace-collapsed text (LLMInference.answer).
      const cot = ctx.mode === "paper" ? collapseWhitespace(r.cot) : r.cot;
      return { cot, meta: { cotModel: target.name, cotClosed: r.closed, cotTemperature: temperature } };
    });
  },
  chainKey: (job) => defaultChainBase(job.cond.kind, job.target.name),
  // The paper's sampled condition sampled the answer as well (do_sample=True for the whole reply).
  answerTemperature: (job, ctx) => (job.cond.kind === "default-sampled" ? (ctx.spec.cot.sampledAnswerTemperature ?? (ctx.mode === "paper" ? 1 : 0)) : 0),
  paperGradingModel: (job) => job.target.name,
};
