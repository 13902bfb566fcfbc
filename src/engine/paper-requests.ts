// The paper reading's requests: the authors' template input and insertion text
// (core/paper-prompt.ts), sent as fixed bytes that the backend renders with the model's own
// chat template. Models are matched to the authors' code branches by name, as their code did.
import type { Prompt } from "../backends/types.js";
import { paperEnsembleRequest, paperOwnChainRequest, paperTargetRequest, paperThinkingSuffix, type PaperRequest, type PaperStage } from "../core/paper-prompt.js";
import type { Problem } from "../core/types.js";
import { BackendError } from "../backends/types.js";
import type { ModelHandle } from "./models.js";

export type { PaperStage };

function paperName(h: ModelHandle): string {
  return h.paperName ?? h.name;
}

function asPrompt(r: PaperRequest): Prompt {
  return { kind: "chat", messages: r.messages, assistantPrefix: r.assistantPrefix, exact: r.exact };
}

/** A target's request; a model none of the authors' branches gives a chain to is refused, naming the fix. */
export function paperTargetPrompt(h: ModelHandle, problem: Problem, cot: string, stage: PaperStage): Prompt {
  const name = paperName(h);
  if (paperThinkingSuffix(name, "\u0000") === "")
    throw new BackendError(
      `model "${h.name}": the paper reading inserts a chain only for the authors' models (names with qwen/phi, openthinker, gpt-oss or llama-3); name the profile or its model after one, or use the concord reading`,
      h.name,
      undefined,
      false,
      "refused",
    );
  return asPrompt(paperTargetRequest(name, problem.messages, cot, stage));
}

/** A model writing its own chain (Default), from the opener the authors' generate() added. */
export function paperOwnChainPrompt(h: ModelHandle, problem: Problem): Prompt {
  return asPrompt(paperOwnChainRequest(paperName(h), problem.messages));
}

/** An ensemble generator's or evaluator's context. */
export function paperEnsemblePrompt(h: ModelHandle, problem: Problem, context: string): Prompt {
  return asPrompt(paperEnsembleRequest(paperName(h), problem.messages, context));
}
