// Ensemble(G / E): a chain built sentence by sentence by the generators, picked by the evaluators.
import { chainText } from "../../core/chain.js";
import type { ConditionSpec } from "../../config/experiment-spec.js";
import { conditionKey } from "../../results/schema.js";
import { throwIfAborted } from "../abort.js";
import { ChainBuilder, PAPER_SAFETY_STEPS, type RunOutcome } from "../ensemble.js";
import { ensembleChainKey, recordCondition } from "./keys.js";
import type { ConditionStrategy } from "./types.js";
import type { CotMeta } from "../../results/cot-store.js";
import { ChainMemo } from "../chain-memo.js";
import type { ModelHandle } from "../models.js";

type EnsembleSpec = Extract<ConditionSpec, { kind: "ensemble" }>;

/** The chain as a target is given it. Paper: what extract_thinking took from the generator's
 * context, the text between the opening tag and the first `</think>` (leading space included). */
export function ensembleCot(text: string, mode: "paper" | "concord"): string {
  if (mode === "concord") return text.trim();
  const context = text === "" ? "" : ` ${text}`;
  const end = context.indexOf("</think>");
  return end >= 0 ? context.slice(0, end) : context;
}

export const ensembleCondition: ConditionStrategy<EnsembleSpec> = {
  fullCot: (job, ctx) => {
    const c = job.cond;
    const mode = c.mode ?? ctx.mode;
    return ctx.cots.get(ensembleChainKey(c, mode, job.problem), async () => {
      const generators = c.generators.map(ctx.model);
      const evaluators = c.evaluators.map(ctx.model);
      // A chain built before from the same cached answers is taken whole (chain-memo.ts).
      const memo = ChainMemo.for([...generators, ...evaluators]);
      const watched = (h: ModelHandle) => (memo ? memo.watch(h) : h);
      const builder = new ChainBuilder({
        problem: job.problem,
        generators: generators.map(watched),
        evaluators: evaluators.map(watched),
        k: c.k,
        mode,
        auto: true,
        sampling: { maxTokens: c.candidateTokens, temperature: c.temperature, seed: c.seed ?? ctx.spec.cot.seed },
        budget: { maxSentences: c.maxSentences ?? (mode === "paper" ? PAPER_SAFETY_STEPS : 60), ...(c.maxTokens ? { maxTokens: c.maxTokens } : {}) },
      });
      // Why a step failed (a chain that outgrew a model's context), to say so and keep the chain.
      let lastError = "";
      const stopListening = builder.on((e) => {
        if (e.type === "step-start") lastError = "";
        else if (e.type === "error" && !(lastError && /no candidate could be generated/.test(e.message))) lastError = e.message;
      });
      let cancelling: Promise<void> | undefined;
      const onAbort = () => (cancelling = builder.cancel());
      ctx.signal?.addEventListener("abort", onAbort, { once: true });
      try {
        let memoKey: string | undefined;
        let outcome: RunOutcome | undefined;
        if (memo) {
          // "count": one step taken and the chain goes on (runSteps checks for its end first).
          const first = await builder.runSteps(1);
          throwIfAborted(ctx.signal, "ensemble");
          if (first === "count") {
            memoKey = await memo.keyAfterFirstStep({ mode, k: builder.k, budget: builder.budget });
            const kept = memoKey ? await memo.kept(memoKey) : undefined;
            if (kept) return kept;
          } else outcome = first;
        }
        outcome ??= await builder.runSteps("end");
        throwIfAborted(ctx.signal, "ensemble");
        const chain = builder.getChain();
        const why = lastError ? `: ${lastError}` : ` (${outcome})`;
        if (outcome === "cancelled" || (outcome === "failed" && chain.sentences.length === 0))
          throw new Error(`the ensemble chain for problem ${job.problem.id} could not be built${why}`);
        const cot = ensembleCot(chainText(chain, mode), mode);
        if (outcome === "failed") {
          // The chain so far is kept and given to the targets; the record says where and why it stopped.
          ctx.emit?.({
            type: "error",
            source: `ensemble ${job.problem.id}`,
            message: `the chain stopped after ${chain.sentences.length} sentences${why}; the chain so far is kept`,
          });
          const meta: CotMeta = { chainSentences: chain.sentences.length, chainEnd: "failed", chainStopReason: lastError || "failed" };
          return { cot, meta };
        }
        const made = { cot, meta: { chainSentences: chain.sentences.length, chainEnd: outcome } };
        if (memoKey && (outcome === "end-of-thought" || outcome === "budget")) memo?.keep(memoKey, made);
        return made;
      } finally {
        stopListening();
        ctx.signal?.removeEventListener("abort", onAbort);
        // Every stream of the chain is closed before the models may be.
        await cancelling;
      }
    });
  },
  chainKey: (job) => conditionKey(recordCondition(job.cond, "full")),
  answerTemperature: () => 0,
  paperGradingModel: (job) => job.target.name,
};
