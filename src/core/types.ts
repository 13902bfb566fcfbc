// Shared vocabulary of the pure core. No I/O here: every other floor builds on these shapes.

/** How a reference answer is compared with a model's answer. */
export type AnswerKind =
  | "integer" // MedCalc integer calculators: round(answer) === ground truth
  | "decimal" // MedCalc decimal calculators: lower <= answer <= upper
  | "date" // MedCalc calculators 13 and 68: MM/DD/YYYY equality
  | "weeks_days" // MedCalc calculator 69: (weeks, days) pair equality
  | "number" // GSM8K: numeric equality after removing commas/units
  | "exact" // normalised text equality
  | "free"; // free text: normalised match and token-level F1 (Instruction Induction)

export interface Reference {
  kind: AnswerKind;
  /** The ground-truth answer as written in the dataset. */
  value: string;
  /** Decimal calculators: the dataset's Lower/Upper limits. */
  lower?: number;
  upper?: number;
  /** Instruction Induction: every accepted annotation. */
  alternatives?: string[];
}

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface Problem {
  /** Stable id within its source (MedCalc: Row Number; GSM8K: line index; ...). */
  id: string;
  /** Dataset name, e.g. "medcalc-bench", "gsm8k", "instruction-induction:<task>". */
  source: string;
  /** The prompt as chat messages (system optional, then user). */
  messages: ChatMessage[];
  reference: Reference;
  meta: Record<string, string | number | null>;
}

/** How a target's answer was graded. */
export interface Grade {
  /** The extracted answer text ("" when nothing could be extracted). */
  answer: string;
  correct: boolean;
  /** Why extraction or grading failed, when it did. */
  error?: string;
}

/** A span of text in a larger string. `end` is exclusive. */
export interface Span {
  start: number;
  end: number;
  text: string;
}

/** One token with its log-probability under some model. */
export interface TokenLogprob {
  token: string;
  logprob: number;
  /** The most likely tokens at this position, most likely first (when the backend gives them). */
  top?: TokenAlternative[];
}

/** A token the model could have written at a position, with its log-probability. */
export interface TokenAlternative {
  token: string;
  logprob: number;
}
