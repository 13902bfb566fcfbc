// The paper reading's requests: the authors' template input and insertion text
// (core/paper-prompt.ts), sent as fixed bytes that the backend renders with the model's own
// chat template. Models are matched to the authors' code branches by name, as their code did.
import type { Prompt } from "../backends/types.js";
import {
  paperEnsembleRequest,
  paperOwnChainRequest,
  paperTargetRequest,
  paperThinkingSuffix,
  type PaperRequest,
  type PaperStage,
} from "../core/paper-prompt.js";
import type { Problem } from "../core/types.js";
import type { ModelHandle } from "./models.js";

export type { PaperStage };

function paperName(h: ModelHandle): string {
  return h.paperName ?? h.name;
}

function asPrompt(r: PaperRequest): Prompt {
  return { kind: "chat", messages: r.messages, assistantPrefix: r.assistantPrefix, exact: r.exact };
}

/**
 * Whether the authors' code had a branch for this model (qwen/phi, openthinker, gpt-oss,
 * llama-3 in its name). Their text exists only for those; any other model keeps Concord's
 * request text in the paper reading too (docs/ENGINE.md says so).
 */
export function isPaperModel(h: ModelHandle): boolean {
  return paperThinkingSuffix(paperName(h), "\u0000") !== "";
}

/** A target's request, or null for a model outside the authors' branches. */
export function paperTargetPrompt(h: ModelHandle, problem: Problem, cot: string, stage: PaperStage): Prompt | null {
  return isPaperModel(h) ? asPrompt(paperTargetRequest(paperName(h), problem.messages, cot, stage)) : null;
}

/** A model writing its own chain (Default), from the opener the authors' generate() added; null outside their branches. */
export function paperOwnChainPrompt(h: ModelHandle, problem: Problem): Prompt | null {
  return isPaperModel(h) ? asPrompt(paperOwnChainRequest(paperName(h), problem.messages)) : null;
}

/** An ensemble generator's or evaluator's context; null outside the authors' branches. */
export function paperEnsemblePrompt(h: ModelHandle, problem: Problem, context: string): Prompt | null {
  return isPaperModel(h) ? asPrompt(paperEnsembleRequest(paperName(h), problem.messages, context)) : null;
}
