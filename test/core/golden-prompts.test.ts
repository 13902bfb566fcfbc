// Golden prompts, Concord's side: the exact text Concord's requests become for the paper's five
// models, rendered with their real chat templates (../shared/templates, @huggingface/jinja).
// For each request kind (Empty, Default, Transfer, Ensemble generator/evaluator, sanitizer):
// the concord reading as Concord renders it for a raw completion, the paper reading of the
// sanitizer (openai_remove_answer.py's request), and what a server that continues a final
// assistant message (vLLM, SGLang: Hugging Face's continue_final_message) makes of the same
// request, which is where the R1-distill and gpt-oss templates refuse a closed thinking block.
// The authors' own insertions (paper reading of the target requests) are in paper-prompt.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { continueFinalMessage, renderWithPrefill, type RenderTemplate } from "../../src/core/chat-template.js";
import { paperSanitizerPrompt } from "../../src/core/paper-prompt.js";
import { SANITIZER_INSTRUCTION } from "../../src/core/sanitize.js";
import { guessThinkingFormat, openThinkingPrefill, thinkingPrefill } from "../../src/core/thinking.js";
import type { ChatMessage } from "../../src/core/types.js";
import { sanitizerRequest } from "../../src/engine/sanitize.js";
import { medcalcMessages } from "../../src/problems/index.js";
import { PAPER_MODELS, TEMPLATES, TEMPLATES_SKIP } from "../support/paper-models.js";

const skip = TEMPLATES_SKIP;

const MODELS = PAPER_MODELS;
type Name = keyof typeof MODELS;

const MESSAGES = medcalcMessages("A 60-year-old man.\n\nBP 120/80.", "What is his score?");
const [SYSTEM, USER] = MESSAGES.map((m) => m.content);
const COT = " First, the score.\n\nThen the answer: 3.";
const CONTEXT = " First sentence. Second one.";

function renderer(name: Name): RenderTemplate {
  const t = new Template(readFileSync(join(TEMPLATES, MODELS[name].template), "utf8"));
  // BOS is left to the server's tokenizer, as a raw completion adds it.
  return (vars) => t.render({ ...vars, bos_token: "", eos_token: "", enable_thinking: true, reasoning_effort: "low" });
}
const format = (name: Name) => guessThinkingFormat(MODELS[name].id);
const concord = (name: Name, prefill: string, messages: readonly ChatMessage[] = MESSAGES) =>
  renderWithPrefill(renderer(name), messages, prefill, format(name));

const qwenHead = (system: string | null, user: string) =>
  `${system === null ? "" : `<|im_start|>system\n${system}<|im_end|>\n`}<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`;
const QWEN = qwenHead(SYSTEM!, USER!);
const R1 = `${SYSTEM}<｜User｜>${USER}<｜Assistant｜><think>\n`;
/** gpt-oss: the system message becomes a developer message; the date line is the day's. */
function ossHead(rendered: string): string {
  const head = rendered.slice(0, rendered.indexOf("<|start|>assistant") + "<|start|>assistant".length);
  assert.match(
    head,
    /^<\|start\|>system<\|message\|>You are ChatGPT, a large language model trained by OpenAI\.\nKnowledge cutoff: 2024-06\nCurrent date: \d{4}-\d\d-\d\d\n\nReasoning: low\n\n/,
  );
  return head;
}

test("thinking formats Concord gives the five models", { skip }, () => {
  assert.deepEqual((Object.keys(MODELS) as Name[]).map(format), ["think-tags", "think-tags", "openthinker", "think-tags", "harmony"]);
});

test("concord reading, Transfer and Empty: the chain inside the model's own thinking block, closed, no tag doubled", { skip }, () => {
  const transfer = (n: Name, cot: string) => concord(n, thinkingPrefill(format(n), cot));
  assert.equal(transfer("QwQ", COT), `${QWEN}<think>\n${COT}</think>`);
  assert.equal(transfer("QwQ", ""), `${QWEN}<think>\n</think>`);
  assert.equal(transfer("DAPO", COT), `${QWEN}<think>${COT}</think>`);
  assert.equal(transfer("OpenT", COT), `${QWEN}<|begin_of_thought|>${COT}<|end_of_thought|><|begin_of_solution|>`);
  assert.equal(transfer("NRR", COT), `${R1}${COT}</think>`);
  const oss = transfer("OSS", COT);
  const head = ossHead(oss);
  assert.ok(
    head.endsWith(`<|start|>developer<|message|># Instructions\n\n${SYSTEM}\n\n<|end|><|start|>user<|message|>${USER}<|end|><|start|>assistant`),
    head.slice(-400),
  );
  assert.equal(oss, `${head}<|channel|>analysis<|message|>${COT}<|end|><|start|>assistant<|channel|>final<|message|>`);
});

test("concord reading, Default and Ensemble: an open thinking block the generator continues, the evaluator scores after", { skip }, () => {
  const open = (n: Name, context: string) => concord(n, openThinkingPrefill(format(n), context));
  // Default: the model's own chain from an empty open block.
  assert.equal(open("QwQ", ""), `${QWEN}<think>\n`);
  assert.equal(open("DAPO", ""), `${QWEN}<think>`);
  assert.equal(open("OpenT", ""), `${QWEN}<|begin_of_thought|>`);
  assert.equal(open("NRR", ""), R1);
  // Ensemble: generators and the evaluator see the chosen sentences so far.
  assert.equal(open("QwQ", CONTEXT), `${QWEN}<think>\n${CONTEXT}`);
  assert.equal(open("DAPO", CONTEXT), `${QWEN}<think>${CONTEXT}`);
  assert.equal(open("OpenT", CONTEXT), `${QWEN}<|begin_of_thought|>${CONTEXT}`);
  assert.equal(open("NRR", CONTEXT), `${R1}${CONTEXT}`);
  const oss = open("OSS", CONTEXT);
  assert.equal(oss, `${ossHead(oss)}<|channel|>analysis<|message|>${CONTEXT}`);
});

test("sanitizer, concord reading: Concord's instruction, the thinking block prefilled empty", { skip }, () => {
  const user = SANITIZER_INSTRUCTION + COT;
  const sanitize = (n: Name) => {
    const { request } = sanitizerRequest(COT, { thinkingFormat: format(n), canPrefill: true }, "concord");
    assert.equal(request.prompt.kind, "chat");
    if (request.prompt.kind !== "chat") throw new Error("chat");
    return concord(n, request.prompt.assistantPrefix ?? "", request.prompt.messages);
  };
  assert.equal(sanitize("QwQ"), `${qwenHead(null, user)}<think>\n</think>`);
  assert.equal(sanitize("DAPO"), `${qwenHead("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.", user)}<think></think>`);
  assert.equal(
    sanitize("OpenT"),
    `${qwenHead("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.", user)}<|begin_of_thought|><|end_of_thought|><|begin_of_solution|>`,
  );
  assert.equal(sanitize("NRR"), `<｜User｜>${user}<｜Assistant｜><think>\n</think>`);
  const oss = sanitize("OSS");
  const head = ossHead(oss);
  assert.ok(head.endsWith(`<|start|>user<|message|>${user}<|end|><|start|>assistant`));
  assert.equal(oss, `${head}<|channel|>analysis<|message|><|end|><|start|>assistant<|channel|>final<|message|>`);
});

test("sanitizer, paper reading: openai_remove_answer.py's user message, no prefill", { skip }, () => {
  const expected = [
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
    "First, the score.\n\nThen the answer: 3.",
    "",
  ].join("\n");
  // The script sent the inside of a <think> block, stripped.
  const { request } = sanitizerRequest(`<think>${COT}\n</think>\n\nAnswer: 3`, { thinkingFormat: "think-tags", canPrefill: true }, "paper");
  assert.deepEqual(request.prompt, { kind: "chat", messages: [{ role: "user", content: expected }] });
  assert.equal(paperSanitizerPrompt("First, the score.\n\nThen the answer: 3."), expected);
  assert.equal(request.reasoningEffort, "medium");
  assert.equal(request.temperature, undefined);
  // On one of the five models (not what the authors ran), the template's own generation prompt.
  assert.equal(concord("QwQ", "", request.prompt.messages), `${qwenHead(null, expected)}<think>\n`);
  assert.equal(concord("NRR", "", request.prompt.messages), `<｜User｜>${expected}<｜Assistant｜><think>\n`);
});

test("a server's continue_final_message keeps the closed block for the Qwen templates and refuses it for R1-distill and gpt-oss", { skip }, () => {
  const cfm = (n: Name) => {
    try {
      return continueFinalMessage(renderer(n), MESSAGES, thinkingPrefill(format(n), COT));
    } catch (err) {
      return `refused by the template: ${(err as Error).message}`;
    }
  };
  // QwQ's template writes no generation prompt here, so the block is opened once, by the prefill.
  assert.equal(cfm("QwQ"), `${QWEN}<think>${COT}</think>`);
  assert.equal(cfm("DAPO"), `${QWEN}<think>${COT}</think>`);
  assert.equal(cfm("OpenT"), `${QWEN}<|begin_of_thought|>${COT}<|end_of_thought|><|begin_of_solution|>`);
  // R1-distill's template keeps only what follows </think> of an assistant message.
  assert.equal(cfm("NRR"), null);
  assert.match(String(cfm("OSS")), /^refused by the template: .*'thinking' field/);
  // An open block (Default, Ensemble) passes through every template.
  for (const n of Object.keys(MODELS) as Name[]) {
    if (n === "OSS") continue;
    assert.notEqual(continueFinalMessage(renderer(n), MESSAGES, openThinkingPrefill(format(n), CONTEXT)), null, n);
  }
});
