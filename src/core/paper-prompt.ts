// The authors' prompt text around a chat template, as their code built it (llm_inference.py,
// ensemble_thoughts.py): plain string concatenation after the templated prompt, chosen by
// substrings of the model's name. Pure; a backend that renders the template itself can append
// these to reproduce the published requests.

export type PaperFamily = "qwen" | "openthinker" | "gpt-oss" | "other";

/** The branch of LLMInference a model name takes ("qwen" or "phi"; "openthinker"; "gpt-oss-20b"). */
export function paperFamily(modelName: string): PaperFamily {
  const n = modelName.toLowerCase();
  if (n.includes("qwen") || n.includes("phi")) return "qwen";
  if (n.includes("openthinker")) return "openthinker";
  if (n.includes("gpt-oss")) return "gpt-oss";
  return "other";
}

/**
 * What generate_with_thinking appended to the templated prompt to give a target a chain (Empty:
 * an empty chain). QwQ's template already ends in "<think>\n", so QwQ saw the tag twice.
 */
export function paperThinkingSuffix(modelName: string, cot: string): string {
  switch (paperFamily(modelName)) {
    case "qwen":
      return `<think>${cot}</think>`;
    case "openthinker":
      return `<|begin_of_thought|>${cot}<|end_of_thought|><|begin_of_solution|>`;
    case "gpt-oss":
      // Special tokens are decoded away, so the harmony channel tokens were never inserted:
      // the chain sits between the literal words.
      return `assistantanalysis${cot}assistantfinal`;
    case "other":
      return "";
  }
}

/** What generate() appended before a model wrote its own chain (Default): DAPO and OpenThinker only. */
export function paperOwnChainOpener(modelName: string): string {
  const n = modelName.toLowerCase();
  if ((n.includes("qwen") || n.includes("phi")) && n.includes("dapo")) return "<think>";
  if (n.includes("openthinker")) return "<|begin_of_thought|>";
  if (n.includes("llama-3")) return "<think>";
  return "";
}

/** What iterative_generate appended for a generator or evaluator of an ensemble. */
export function paperEnsembleOpener(modelName: string): string {
  const n = modelName.toLowerCase();
  if (n.includes("gpt-oss")) return "";
  let out = "";
  if (n.includes("qwen")) out += "<think>";
  if (n.includes("openthinker")) out += "<|begin_of_thought|>";
  return out;
}

/** gpt-oss's reasoning effort in each of the authors' scripts (transfer targets ran at the default). */
export const PAPER_REASONING_EFFORT = { run: "low", ensemble: "low", transferTarget: "medium" } as const;

/**
 * The template call the authors made: gpt-oss got only the user message, with the system text
 * as `model_identity` and a `reasoning_effort`; every other model the system and user messages.
 */
export function paperTemplateInput(
  modelName: string,
  system: string,
  user: string,
  reasoningEffort: string,
): { messages: Array<{ role: "system" | "user"; content: string }>; extra: Record<string, string> } {
  if (paperFamily(modelName) === "gpt-oss")
    return { messages: [{ role: "user", content: user }], extra: { model_identity: system, reasoning_effort: reasoningEffort } };
  return {
    messages: [
      { role: "system", content: system },
      { role: "user", content: user },
    ],
    extra: {},
  };
}
