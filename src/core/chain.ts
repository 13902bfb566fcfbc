// A reasoning chain: ordered sentences, each with its provenance. Pure data and pure helpers.
import type { z } from "zod";
import type { candidateSchema, chainSchema, chainSentenceSchema, decisionSchema, evaluatorScoreSchema } from "./schema.js";

// The types are inferred from the schemas that validate stored chains (core/schema.ts).
/** How a sentence came to be in the chain. */
export type Decision = z.infer<typeof decisionSchema>;
export type EvaluatorScore = z.infer<typeof evaluatorScoreSchema>;
export type Candidate = z.infer<typeof candidateSchema>;
export type ChainSentence = z.infer<typeof chainSentenceSchema>;
export type Chain = z.infer<typeof chainSchema>;

/** The chain as thinking text. Sentence-true mode joins with the separators kept in the
 * sentences; paper mode joins with single spaces (the published code's behaviour). */
export function chainText(chain: Chain, mode: "concord" | "paper" = "concord"): string {
  if (mode === "paper") return chain.sentences.map((s) => s.text.trim()).join(" ");
  let out = "";
  for (const s of chain.sentences) {
    if (out && !/\s$/.test(out) && !/^\s/.test(s.text)) out += " ";
    out += s.text;
  }
  return out;
}
