// The shapes and constants of sentence-level ensembling (engine/ensemble.ts).
import type { SamplingOptions } from "../backends/types.js";
import type { Candidate, Chain } from "../core/chain.js";
import type { Problem } from "../core/types.js";
import type { ModelHandle } from "./models.js";

export type EnsembleMode = "concord" | "paper";

export interface EnsembleBudget {
  /** Stop once the chain has this many sentences. */
  maxSentences: number;
  /** Stop once the chain has about this many tokens (ignored in paper mode, as in the paper's code). */
  maxTokens: number;
}

export interface EnsembleOptions {
  problem: Problem;
  generators: ModelHandle[];
  evaluators: ModelHandle[];
  /** Candidates per generator per step (paper: 3). */
  k?: number;
  mode?: EnsembleMode;
  /** Generator sampling; maxTokens is per candidate (paper: 15, Concord default: 64). */
  sampling?: Partial<SamplingOptions>;
  budget?: Partial<EnsembleBudget>;
  /** Resume from this chain (it is copied, never mutated). */
  chain?: Chain;
  /** Accept the evaluator's pick without waiting for a human. */
  auto?: boolean;
}

export type StepStatus = "idle" | "generating" | "awaiting-decision" | "accepted" | "cancelled" | "failed";

export interface StepState {
  index: number;
  status: StepStatus;
  candidates: Candidate[];
  /** The evaluator's pick, once every candidate is scored. */
  pick?: string;
}

/** How a step ended. */
export type StepOutcome = "accepted" | "cancelled" | "failed" | "finished";

/** Why runSteps returned. */
export type RunOutcome = "count" | "end-of-thought" | "budget" | "paused" | "cancelled" | "failed";

export const DEFAULT_BUDGET: EnsembleBudget = { maxSentences: 60, maxTokens: 4096 };
/**
 * Paper mode has no sentence cap (the published chains took 15 to 488 steps); this is only a
 * safety stop for a model that never closes its thought.
 */
export const PAPER_SAFETY_STEPS = 1000;
export const PAPER_CHUNK_TOKENS = 15;
export const CONCORD_CANDIDATE_TOKENS = 64;

export interface LiveCandidate {
  c: Candidate;
  generated: boolean;
  /** Streamed chunks counted as tokens when the backend gives no per-token list. */
  tokenCount: number;
}

export interface ActiveStep {
  index: number;
  ctrl: AbortController;
  status: StepStatus;
  auto: boolean;
  live: Map<string, LiveCandidate>;
  pick?: string;
  /** Promises of stream shutdowns still settling after an abort. */
  closing: Promise<unknown>[];
  tasks: Promise<void>[];
  outcome: Promise<StepOutcome>;
  settle: (o: StepOutcome) => void;
  settled: boolean;
  /** The chain text the step's prompts were built on. */
  cot: string;
}

export function emptyChain(): Chain {
  return { sentences: [], finished: false };
}
