// A reasoning chain: ordered sentences, each with its provenance. Pure data and pure helpers.
import type { TokenLogprob } from "./types.js";

/** How a sentence came to be in the chain. */
export type Decision = "evaluator" | "human-pick" | "human-edit" | "human-written" | "imported";

export interface EvaluatorScore {
  evaluator: string;
  /** Mean negative log-likelihood per candidate token (or per sequence token in paper mode). */
  meanNll: number;
  perplexity: number;
  /** Per-token log-probabilities behind the score (for "why did it win"). */
  tokens?: TokenLogprob[];
}

export interface Candidate {
  /** Unique within a step: `${generator}#${sampleIndex}`. */
  id: string;
  generator: string;
  sampleIndex: number;
  /** Text after cutting back to the last sentence end (what can be accepted). */
  text: string;
  /** Raw streamed text before the cut. */
  raw: string;
  /** Generated-token log-probabilities from the generator, when given. */
  tokens?: TokenLogprob[];
  scores: EvaluatorScore[];
  /** Mean perplexity over evaluators (undefined until every evaluator has scored it). */
  meanPerplexity?: number;
  /** The candidate reached the end-of-thought marker. */
  endOfThought: boolean;
  error?: string;
}

export interface ChainSentence {
  text: string;
  /** Generator that wrote it, "human", or the import source. */
  author: string;
  decision: Decision;
  /** Every candidate that competed at this step (empty for human-written/imported). */
  candidates: Candidate[];
  /** Id of the candidate the evaluator would have picked (lowest mean perplexity). */
  evaluatorPick?: string;
  /** Id of the candidate that was accepted (after a human pick or edit). */
  acceptedId?: string;
  at: string; // ISO time
}

export interface Chain {
  sentences: ChainSentence[];
  /** True once the end-of-thought marker was accepted. */
  finished: boolean;
}

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
