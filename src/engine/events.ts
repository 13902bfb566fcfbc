// Typed events the engine emits. The UI store and headless logs follow the same stream.
import type { Candidate, ChainSentence } from "../core/chain.js";
import type { Grade } from "../core/types.js";

export interface TargetAnswer {
  target: string;
  /** Chain length (sentences) the answer was given for. */
  chainLength: number;
  raw: string;
  grade: Grade;
}

export interface ConsistencySnapshot {
  chainLength: number;
  /** Pairwise agreement, keyed "a|b" with a < b. */
  pairs: Record<string, boolean>;
  consistency: number; // mean over pairs
  accuracy: number; // share of targets correct
  split: { consistentCorrect: number; consistentWrong: number; inconsistent: number };
}

/** One model's requests at the moment of a progress event (engine/limits.ts). */
export interface ModelLoadView {
  model: string;
  inFlight: number;
  queued: number;
  limit: number;
  /** Requests that failed so far (refused by the server, timed out, ...). */
  failed?: number;
}

export type EngineEvent =
  | { type: "step-start"; step: number }
  | { type: "candidate-token"; step: number; candidateId: string; generator: string; text: string; channel: "content" | "reasoning" }
  | { type: "candidate-done"; step: number; candidate: Candidate }
  | { type: "score"; step: number; candidateId: string; evaluator: string; meanNll: number; perplexity: number }
  /** Every evaluator has scored the candidate; `candidate.meanPerplexity` is set. */
  | { type: "candidate-scored"; step: number; candidate: Candidate }
  | { type: "pick"; step: number; candidateId: string; meanPerplexity: number }
  | { type: "awaiting-decision"; step: number }
  | { type: "sentence-accepted"; step: number; sentence: ChainSentence }
  | { type: "sentence-undone"; step: number }
  | { type: "chain-finished"; reason: "end-of-thought" | "budget" | "stopped" }
  | { type: "target-start"; target: string; chainLength: number }
  | { type: "target-answer"; answer: TargetAnswer }
  | { type: "consistency"; snapshot: ConsistencySnapshot }
  | {
      type: "progress";
      done: number;
      total: number;
      label: string;
      load?: ModelLoadView[];
      /** Model calls sent so far, and about how many the plan still has (absent past the plan). */
      calls?: { sent: number; left?: number };
      /** A redraw while no record ended: `label` is still the last record's. */
      tick?: boolean;
    }
  /** The step (0-based) was cancelled: its candidates stay in view, none can be chosen. */
  | { type: "step-cancelled"; step: number }
  /** The targets' round for a chain of this length was cancelled (a newer sentence superseded it, or Esc). */
  | { type: "targets-cancelled"; chainLength: number }
  /** Something else was cancelled (a whole experiment). */
  | { type: "cancelled"; what: string }
  | { type: "error"; source: string; message: string };

export type EngineListener = (event: EngineEvent) => void;
