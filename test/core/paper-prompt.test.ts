// Golden prompts: the authors' request text for each of the paper's five models, rendered with
// the real chat templates in ../shared/templates (@huggingface/jinja), against strings written
// out from their code (llm_inference.py generate / generate_with_thinking, ensemble_thoughts.py,
// run.py zero_shot) and the templates' own text.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { medcalcMessages } from "../../src/problems/index.js";
import { paperEnsembleOpener, paperOwnChainOpener, paperTemplateInput, paperThinkingSuffix, PAPER_REASONING_EFFORT } from "../../src/core/paper-prompt.js";
import { PAPER_MODELS, TEMPLATES, TEMPLATES_SKIP } from "../support/paper-models.js";

const skip = TEMPLATES_SKIP;

const MODELS = PAPER_MODELS;

const [SYSTEM, USER] = medcalcMessages("A 60-year-old man.\n\nBP 120/80.", "What is his score?").map((m) => m.content);
const COT = " First, the score.\n\nThen the answer: 3.";

function render(name: keyof typeof MODELS, effort: string): string {
  const { id, template } = MODELS[name];
  const { messages, extra } = paperTemplateInput(id, SYSTEM, USER, effort);
  return new Template(readFileSync(join(TEMPLATES, template), "utf8")).render({
    messages,
    add_generation_prompt: true,
    enable_thinking: true,
    bos_token: "",
    eos_token: "",
    ...extra,
  });
}

const qwenChat = `<|im_start|>system\n${SYSTEM}<|im_end|>\n<|im_start|>user\n${USER}<|im_end|>\n<|im_start|>assistant\n`;

test("the run.py zero_shot prompt is the authors' text", () => {
  assert.equal(
    SYSTEM,
    'You are a helpful assistant for calculating a score for a given patient note. Please think step-by-step to solve the question and then generate the required score. Your output should only contain a JSON dict formatted as {"step_by_step_thinking": str(your_step_by_step_thinking_procress_to_solve_the_question), "answer": str(short_and_direct_answer_of_the_question)}.',
  );
  assert.equal(
    USER,
    'Here is the patient note:\nA 60-year-old man.\n\nBP 120/80.\n\nHere is the task:\nWhat is his score?\n\nPlease directly output the JSON dict formatted as {"step_by_step_thinking": str(your_step_by_step_thinking_procress_to_solve_the_question), "answer": str(short_and_direct_answer_of_the_question)}:',
  );
});

test("Transfer and Empty: the chain after the templated prompt, as generate_with_thinking built it", { skip }, () => {
  const transfer = (m: keyof typeof MODELS, cot: string) => render(m, PAPER_REASONING_EFFORT.transferTarget) + paperThinkingSuffix(MODELS[m].id, cot);
  // QwQ: the template already opened the block, the code opened it again.
  assert.equal(transfer("QwQ", COT), `${qwenChat}<think>\n<think>${COT}</think>`);
  assert.equal(transfer("QwQ", ""), `${qwenChat}<think>\n<think></think>`);
  assert.equal(transfer("DAPO", COT), `${qwenChat}<think>${COT}</think>`);
  assert.equal(transfer("OpenT", COT), `${qwenChat}<|begin_of_thought|>${COT}<|end_of_thought|><|begin_of_solution|>`);
  assert.equal(transfer("NRR", COT), `${SYSTEM}<｜User｜>${USER}<｜Assistant｜><think>\n<think>${COT}</think>`);
  const oss = transfer("OSS", COT);
  assert.ok(oss.startsWith(`<|start|>system<|message|>${SYSTEM}\nKnowledge cutoff: 2024-06\n`), oss.slice(0, 400));
  assert.ok(oss.includes("\nReasoning: medium\n\n"));
  assert.ok(oss.endsWith(`<|start|>user<|message|>${USER}<|end|><|start|>assistantassistantanalysis${COT}assistantfinal`), oss.slice(-300));
  assert.ok(!oss.includes("<|start|>developer"), "the system text went to model_identity, not a developer message");
});

test("Default: the opener generate() added before a model wrote its own chain", { skip }, () => {
  assert.equal(render("QwQ", "low") + paperOwnChainOpener(MODELS.QwQ.id), `${qwenChat}<think>\n`);
  assert.equal(render("DAPO", "low") + paperOwnChainOpener(MODELS.DAPO.id), `${qwenChat}<think>`);
  assert.equal(render("OpenT", "low") + paperOwnChainOpener(MODELS.OpenT.id), `${qwenChat}<|begin_of_thought|>`);
  assert.equal(render("NRR", "low") + paperOwnChainOpener(MODELS.NRR.id), `${SYSTEM}<｜User｜>${USER}<｜Assistant｜><think>\n`);
  assert.ok((render("OSS", PAPER_REASONING_EFFORT.run) + paperOwnChainOpener(MODELS.OSS.id)).endsWith("<|end|><|start|>assistant"));
});

test("Ensemble: generator and evaluator contexts, then the scored string context + candidate", { skip }, () => {
  const context = (m: keyof typeof MODELS) => render(m, PAPER_REASONING_EFFORT.ensemble) + paperEnsembleOpener(MODELS[m].id);
  assert.equal(context("QwQ"), `${qwenChat}<think>\n<think>`);
  assert.equal(context("DAPO"), `${qwenChat}<think>`);
  assert.equal(context("OpenT"), `${qwenChat}<|begin_of_thought|>`);
  const oss = context("OSS");
  assert.ok(oss.includes("\nReasoning: low\n\n") && oss.endsWith("<|start|>assistant"));
  // After two chosen sentences every context gains " " + sentence; a candidate is scored glued on.
  const after = `${context("DAPO")} First sentence. Second one.`;
  assert.equal(after + "Third.", `${qwenChat}<think> First sentence. Second one.Third.`);
});
