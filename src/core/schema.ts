// The shapes of a reasoning chain, as zod schemas: the chain types (core/chain.ts) are inferred
// from them, and every file that stores a chain (sessions, recordings) validates with them, so
// the type and the check cannot drift apart. Pure data: zod does no I/O.
import { z } from "zod";

export const tokenAlternativeSchema = z.object({ token: z.string(), logprob: z.number() });
export const tokenLogprobSchema = z.object({ token: z.string(), logprob: z.number(), top: z.array(tokenAlternativeSchema).optional() });

/** How a sentence came to be in the chain. */
export const decisionSchema = z.enum(["evaluator", "human-pick", "human-edit", "human-written", "imported"]);

export const evaluatorScoreSchema = z.object({
  evaluator: z.string(),
  /** Mean negative log-likelihood per candidate token (or per sequence token in paper mode). */
  meanNll: z.number(),
  perplexity: z.number(),
  /** Per-token log-probabilities behind the score (for "why did it win"). */
  tokens: z.array(tokenLogprobSchema).optional(),
});

export const candidateSchema = z.object({
  /** Unique within a step: `${generator}#${sampleIndex}`. */
  id: z.string(),
  generator: z.string(),
  sampleIndex: z.number().int(),
  /** Text after cutting back to the last sentence end (what can be accepted). */
  text: z.string(),
  /** Raw streamed text before the cut. */
  raw: z.string(),
  /** Generated-token log-probabilities from the generator, when given. */
  tokens: z.array(tokenLogprobSchema).optional(),
  scores: z.array(evaluatorScoreSchema),
  /** Mean perplexity over evaluators (undefined until every evaluator has scored it). */
  meanPerplexity: z.number().optional(),
  /** The candidate reached the end-of-thought marker. */
  endOfThought: z.boolean(),
  error: z.string().optional(),
  /** Made by a person: another candidate up to a token, another token there, then this generator. */
  branch: z.object({ from: z.string(), position: z.number().int().min(0), token: z.string() }).optional(),
});

export const chainSentenceSchema = z.object({
  text: z.string(),
  /** Generator that wrote it, "human", or the import source. */
  author: z.string().min(1),
  decision: decisionSchema,
  /** Every candidate that competed at this step (empty for human-written/imported). */
  candidates: z.array(candidateSchema),
  /** Id of the candidate the evaluator would have picked (lowest mean perplexity). */
  evaluatorPick: z.string().optional(),
  /** Id of the candidate that was accepted (after a human pick or edit). */
  acceptedId: z.string().optional(),
  /** ISO time. */
  at: z.string(),
});

export const chainSchema = z.object({
  sentences: z.array(chainSentenceSchema),
  /** True once the end-of-thought marker was accepted. */
  finished: z.boolean(),
});
