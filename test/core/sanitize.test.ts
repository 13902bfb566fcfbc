import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  SANITIZER_INSTRUCTION,
  alignKept,
  answerRule,
  askedTerms,
  normalizeSentence,
  removeAnswerSentences,
  sanitizerPrompt,
  verifySanitized,
} from "../../src/core/sanitize.js";
import { sentenceTexts, splitSentences } from "../../src/core/sentences.js";
import { needsShared } from "../support/shared.js";

const outputs = fileURLToPath(new URL("../../../shared/data/genex/medcalc/outputs/", import.meta.url));
const noGenex = needsShared("data/genex/medcalc/outputs");
const rows = (suffix: string) =>
  (noGenex ? "" : readFileSync(outputs + "Qwen_QwQ-32B_thoughts_to_Qwen_QwQ-32B_zero_shot_" + suffix, "utf8"))
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, string | number>);
const full = rows("full.jsonl");
const sanitized = rows("without_answer.jsonl");
// Row 353 (HAS-BLED): QwQ's CoT, and the paper's o4-mini output for it.
const cot353 = full.find((r) => r["Row Number"] === 353)?.["LLM Raw Thinking"] as string;
const san353 = sanitized.find((r) => r["Row Number"] === 353)?.["LLM Raw Thinking"] as string;

describe("removeAnswerSentences", () => {
  test("synthetic answer statements go; reasoning and hedges stay", () => {
    const cot =
      "First compute the score. Wait, is the total 4? So the answer is 12. Let me check the score again. " +
      "Therefore, the score is 3. **Final Answer** The result is \\boxed{5}. Thus the patient's HAS-BLED score is 5 points. " +
      "Maybe the total is 6.";
    const r = removeAnswerSentences(cot);
    assert.deepEqual(
      r.removed.map((s) => s.text.trim()),
      ["So the answer is 12.", "Therefore, the score is 3.", "**Final Answer** The result is \\boxed{5}.", "Thus the patient's HAS-BLED score is 5 points."],
    );
    assert.equal(r.kept, "First compute the score. Wait, is the total 4? Let me check the score again. Maybe the total is 6.");
  });

  test("real CoT (row 353): the concluding totals go, the per-component steps stay", { skip: noGenex }, () => {
    const r = removeAnswerSentences(cot353);
    const removed = r.removed.map((s) => s.text.trim());
    assert.ok(removed.includes("Therefore, the HAS-BLED score is 4."));
    assert.ok(removed.includes("So total is indeed 4."));
    assert.ok(removed.includes("Total is 1+1+0+0+1+1+0 = 4."));
    const kept = sentenceTexts(r.kept);
    assert.ok(kept.includes("So D is 0."));
    assert.ok(kept.includes("So L is +1."));
    // kept is the input minus the removed spans, byte for byte
    let rebuilt = cot353;
    for (const s of [...r.removed].reverse()) rebuilt = rebuilt.slice(0, s.start) + rebuilt.slice(s.end);
    assert.equal(r.kept, rebuilt);
    // every rule that fired agrees with the paper's sanitizer on this item
    const paperKept = alignKept(cot353, san353);
    const spans = splitSentences(cot353);
    for (const s of r.removed) assert.equal(paperKept[spans.findIndex((x) => x.start === s.start)], false, s.text);
  });

  test("with the source's answer and the question, a concluding sentence naming the asked quantity goes", () => {
    assert.deepEqual(askedTerms("What is the patient's corrected sodium concentration in terms of mEq/L?"), [
      "corrected",
      "sodium",
      "concentration",
      "terms",
      "meq",
    ]);
    const s = "Therefore, the corrected sodium is 134 mEq/L.";
    assert.equal(answerRule(s), null);
    assert.equal(answerRule(s, { asked: askedTerms("What is the patient's corrected sodium?") })?.rule, "asked-quantity");
    assert.equal(answerRule("So 38.9 kg.", { answer: "38.9" })?.rule, "states-answer");
    assert.equal(answerRule("So 38.9 kg.", { answer: "40" }), null);
  });

  test("level 'results' also removes stated intermediate values", () => {
    assert.equal(answerRule("So D is 0."), null);
    assert.equal(answerRule("So D is 0.", { level: "results" })?.rule, "states-value");
    assert.equal(answerRule("Let me check if D is 0.", { level: "results" }), null);
  });
});

describe("verifySanitized", () => {
  test("case, whitespace, quotes and list markers do not matter; invented and rephrased text is dropped", () => {
    const original = "The note says “uncontrolled”. So H is 1. He is 72 years old. The score is 2.";
    const output = 'the note says "uncontrolled"  \n- So  H is 1.\nHe is seventy-two. I made this up.';
    const v = verifySanitized(original, output);
    assert.equal(v.kept, "The note says “uncontrolled”. So H is 1.");
    assert.deepEqual(v.dropped, ["He is seventy-two.", "I made this up."]);
    assert.deepEqual(v.keptIndices, [0, 1]);
  });
  test("a sentence may be used only as often as the original has it", () => {
    const v = verifySanitized("So D is 0. Next. So D is 0.", "So D is 0. So D is 0. So D is 0.");
    assert.deepEqual(v.keptIndices, [0, 2]);
    assert.deepEqual(v.dropped, ["So D is 0."]);
  });
  test("lines re-split by the sanitizer map back to the original sentence", () => {
    const original = "Let me think again: HAS-BLED components: - H: Hypertension. Done here.";
    const output = "Let me think again:  \nHAS-BLED components:\n- H: Hypertension.";
    const v = verifySanitized(original, output);
    assert.equal(v.kept, "Let me think again: HAS-BLED components: - H: Hypertension.");
    assert.deepEqual(v.dropped, []);
  });
  test("on the paper's real output for row 353, only original sentences survive, and a rephrased one is caught", { skip: noGenex }, () => {
    const v = verifySanitized(cot353, san353);
    const originals = new Set(sentenceTexts(cot353).map(normalizeSentence));
    for (const s of sentenceTexts(v.kept)) assert.ok(originals.has(normalizeSentence(s)), s);
    // o4-mini wrote "Alcohol isn't one of those." where QwQ wrote "Alcohol isn't part of that."
    assert.ok(v.dropped.includes("Alcohol isn't one of those."));
    assert.ok(v.keptIndices.length > 50);
  });
});

describe("alignKept", () => {
  test("sentences whose words survive are kept; removed ones are not; word-less ones are null", () => {
    const original = "Alpha beta gamma. The answer is 12.\n\n---\n\nDelta epsilon.";
    const out = alignKept(original, "Alpha beta gamma.\nDelta epsilon.");
    assert.deepEqual(out, [true, false, null, true]);
  });
  test("light edits still count as kept", () => {
    assert.deepEqual(alignKept("F is 0 (no fever mentioned). Total is 3.", "F is 0 (no fever)."), [true, false]);
  });
});

test("sanitizer instruction says what the paper asked, in substance", () => {
  for (const phrase of [/exactly as it is written/, /final answer, solution, result or conclusion/, /Do not add, rephrase/, /Output only the kept text/]) {
    assert.match(SANITIZER_INSTRUCTION, phrase);
  }
  assert.ok(sanitizerPrompt("COT").endsWith("Original text:\nCOT"));
});
