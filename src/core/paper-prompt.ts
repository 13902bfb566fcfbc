// The authors' prompt text around a chat template, as their code built it (llm_inference.py,
// ensemble_thoughts.py): plain string concatenation after the templated prompt, chosen by
// substrings of the model's name. Pure; a backend that renders the template itself can append
// these to reproduce the published requests.

import { pyStrip } from "./paper-grade.js";

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
      // generate_with_thinking's separate branch for Llama-3 models.
      return modelName.toLowerCase().includes("llama-3") ? `<think>${cot}</think>` : "";
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

/**
 * The user message the authors sent their sanitizer (openai_remove_answer.py, o4-mini), around
 * the chain: a leading and a trailing newline, and the two spaces some of its lines end with.
 */
export function paperSanitizerPrompt(cot: string): string {
  const lines = [
    "",
    "Task: Keep only the hints from the text and remove answer sentences.",
    "",
    "Definition: ",
    '- A "hint/explanation sentence" provides guidance that helps someone think about the problem without giving the final solution.  ',
    '- An "answer sentence" directly states the final answer, solution, result, or conclusion.',
    "",
    "Instructions:  ",
    "1. Keep every hint/explanation sentence exactly as written.  ",
    "2. Remove all answer sentences and statements.",
    "3. Preserve the original wording, order, and formatting of the remaining text.",
    "4. Do not add, rephrase, or generate any new text beyond what is already in the original.",
    "5. Output only the hints.",
    "",
    "Original text:",
    cot,
    "",
  ];
  return lines.join("\n");
}

/** The reasoning effort the authors asked of their sanitizer. */
export const PAPER_SANITIZER_EFFORT = "medium";

/**
 * What the authors' sanitizer script kept of a text, before sending it and of the reply: the
 * inside of the first <think> block (an unclosed one runs to the end), stripped; else the text.
 */
export function paperThinkText(text: string): string {
  const m = /<think>([\s\S]*?)(?:<\/think>|$)/i.exec(text);
  return m ? pyStrip(m[1]!) : text;
}

/** Tags the authors' tokenizer read as the model's own tokens (gpt-oss's words were plain text). */
const PAPER_MARKERS = ["<think>", "</think>", "<|begin_of_thought|>", "<|end_of_thought|>", "<|begin_of_solution|>"];

/** Where a request stands in the authors' scripts, which set gpt-oss's reasoning effort. */
export type PaperStage = keyof typeof PAPER_REASONING_EFFORT;

/**
 * A request as the authors' code built it: the template input (messages and extra template
 * variables) and the text appended after the generation prompt, to be sent exactly.
 */
export interface PaperRequest {
  messages: Array<{ role: "system" | "user"; content: string }>;
  assistantPrefix: string;
  exact: { vars: Record<string, string>; markers: string[] };
}

function paperRequest(modelName: string, messages: ReadonlyArray<{ role: string; content: string }>, stage: PaperStage, suffix: string): PaperRequest {
  const system = messages.find((m) => m.role === "system")?.content ?? "";
  const user = [...messages].reverse().find((m) => m.role === "user")?.content ?? "";
  const input = paperTemplateInput(modelName, system, user, PAPER_REASONING_EFFORT[stage]);
  // A problem with no system message had none in the template call either.
  const msgs = system === "" ? input.messages.filter((m) => m.role !== "system") : input.messages;
  const vars = system === "" ? Object.fromEntries(Object.entries(input.extra).filter(([k]) => k !== "model_identity")) : input.extra;
  return { messages: msgs, assistantPrefix: suffix, exact: { vars, markers: PAPER_MARKERS } };
}

/** A target answering from `cot` (Empty: ""), as generate_with_thinking built it. */
export function paperTargetRequest(
  modelName: string,
  messages: ReadonlyArray<{ role: string; content: string }>,
  cot: string,
  stage: PaperStage,
): PaperRequest {
  return paperRequest(modelName, messages, stage, paperThinkingSuffix(modelName, cot));
}

/** A model writing its own chain (Default), as generate() built it (run.py). */
export function paperOwnChainRequest(modelName: string, messages: ReadonlyArray<{ role: string; content: string }>): PaperRequest {
  return paperRequest(modelName, messages, "run", paperOwnChainOpener(modelName));
}

/** A generator's or evaluator's context in an ensemble, as iterative_generate built it. */
export function paperEnsembleRequest(modelName: string, messages: ReadonlyArray<{ role: string; content: string }>, context: string): PaperRequest {
  return paperRequest(modelName, messages, "ensemble", paperEnsembleOpener(modelName) + context);
}
