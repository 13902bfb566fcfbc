import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { endOfThoughtMarker, guessThinkingFormat, isEndOfThought, openThinkingPrefill, splitThinking, thinkingPrefill } from "../../src/core/thinking.js";

describe("thinkingPrefill (SCIENCE.md table)", () => {
  test("think tags", () => {
    assert.equal(thinkingPrefill("think-tags", "CoT"), "<think>CoT</think>");
    assert.equal(thinkingPrefill("none", "CoT"), "<think>CoT</think>");
  });
  test("no doubled <think> after a template ending with <think>\\n (QwQ)", () => {
    assert.equal(thinkingPrefill("think-tags", "CoT", "<|im_start|>assistant\n<think>\n"), "CoT</think>");
    assert.equal(thinkingPrefill("think-tags", "CoT", "<|im_start|>assistant\n"), "<think>CoT</think>");
  });
  test("openthinker", () => {
    assert.equal(thinkingPrefill("openthinker", "CoT"), "<|begin_of_thought|>CoT<|end_of_thought|><|begin_of_solution|>");
  });
  test("harmony, and after a template that already opened the assistant turn", () => {
    const full = "<|start|>assistant<|channel|>analysis<|message|>CoT<|end|><|start|>assistant<|channel|>final<|message|>";
    assert.equal(thinkingPrefill("harmony", "CoT"), full);
    assert.equal(
      thinkingPrefill("harmony", "CoT", "<|start|>user<|message|>hi<|end|><|start|>assistant"),
      "<|channel|>analysis<|message|>CoT<|end|><|start|>assistant<|channel|>final<|message|>",
    );
  });
  test("open prefill leaves the block open", () => {
    assert.equal(openThinkingPrefill("think-tags", "So far"), "<think>So far");
    assert.equal(openThinkingPrefill("think-tags", "So far", "x<think>\n"), "So far");
    assert.equal(openThinkingPrefill("harmony", "So far"), "<|start|>assistant<|channel|>analysis<|message|>So far");
  });
});

describe("markers", () => {
  test("end-of-thought markers per format", () => {
    assert.equal(endOfThoughtMarker("think-tags"), "</think>");
    assert.equal(endOfThoughtMarker("openthinker"), "<|end_of_thought|>");
    assert.equal(endOfThoughtMarker("harmony"), "<|end|>");
    assert.ok(isEndOfThought("score is 3.</think> {"));
    assert.ok(!isEndOfThought("score is 3.</think>", "openthinker"));
    assert.ok(!isEndOfThought("still thinking"));
  });
});

describe("splitThinking", () => {
  test("inline think block, with or without the opening tag", () => {
    assert.deepEqual(splitThinking("<think>a b</think>\n\nAnswer: 5"), { reasoning: "a b", answer: "Answer: 5", format: "think-tags", closed: true });
    assert.deepEqual(splitThinking("a b</think>Answer: 5"), { reasoning: "a b", answer: "Answer: 5", format: "think-tags", closed: true });
    assert.deepEqual(splitThinking("<think>still going"), { reasoning: "still going", answer: "", format: "think-tags", closed: false });
  });
  test("openthinker and harmony", () => {
    assert.deepEqual(splitThinking("<|begin_of_thought|>r<|end_of_thought|><|begin_of_solution|>ans<|end_of_solution|>"), {
      reasoning: "r",
      answer: "ans",
      format: "openthinker",
      closed: true,
    });
    assert.deepEqual(splitThinking("<|channel|>analysis<|message|>r<|end|><|start|>assistant<|channel|>final<|message|>ans<|return|>"), {
      reasoning: "r",
      answer: "ans",
      format: "harmony",
      closed: true,
    });
    assert.deepEqual(splitThinking("analysisWe compute.assistantfinalThe answer is 4."), {
      reasoning: "We compute.",
      answer: "The answer is 4.",
      format: "harmony",
      closed: true,
    });
  });
  test("no markers: all answer", () => {
    assert.deepEqual(splitThinking(" 42 "), { reasoning: "", answer: "42", format: null, closed: true });
  });
});

test("guessThinkingFormat", () => {
  assert.equal(guessThinkingFormat("Qwen/QwQ-32B"), "think-tags");
  assert.equal(guessThinkingFormat("BytedTsinghua-SIA/DAPO-Qwen-32B"), "think-tags");
  assert.equal(guessThinkingFormat("nvidia/Nemotron-Research-Reasoning-Qwen-1.5B"), "think-tags");
  assert.equal(guessThinkingFormat("open-thoughts/OpenThinker-7B"), "openthinker");
  assert.equal(guessThinkingFormat("openai/gpt-oss-20b"), "harmony");
  assert.equal(guessThinkingFormat("meta-llama/Llama-3.1-8B-Instruct"), "none");
});
