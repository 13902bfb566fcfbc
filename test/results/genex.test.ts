import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  classifyRecordedAnswer,
  importGenexFile,
  loadMedcalcLimits,
  modelIdFromFileName,
  modelLabel,
  conditionLabel,
  parseGenexFileName,
  type GenexFileName,
} from "../../src/results/index.js";
import { needsShared } from "../support/shared.js";

// Every condition of the genex naming scheme, most of them not among the shared files.
const NAMES: Array<[string, Partial<GenexFileName> | null]> = [
  ["Qwen_QwQ-32B_zero_shot_empty.jsonl", { kind: "empty", variant: "full", target: "Qwen_QwQ-32B", promptStyle: "zero_shot" }],
  ["openai_gpt-oss-20b_zero_shot_empty_low.jsonl", { kind: "empty", target: "openai_gpt-oss-20b", reasoningEffort: "low" }],
  ["BytedTsinghua-SIA_DAPO-Qwen-32B_zero_shot_original.jsonl", { kind: "default-greedy", variant: "full", target: "BytedTsinghua-SIA_DAPO-Qwen-32B" }],
  ["openai_gpt-oss-20b_zero_shot_original_low.jsonl", { kind: "default-greedy", variant: "full", target: "openai_gpt-oss-20b", reasoningEffort: "low" }],
  ["openai_gpt-oss-20b_zero_shot_original_high.jsonl", { kind: "default-greedy", reasoningEffort: "high" }],
  ["Qwen_QwQ-32B_zero_shot_original_without_answer.jsonl", { kind: "default-greedy", variant: "without-answer" }],
  ["Qwen_QwQ-32B_zero_shot_with_sampling.jsonl", { kind: "default-sampled", variant: "full", target: "Qwen_QwQ-32B" }],
  ["Qwen_QwQ-32B_zero_shot_with_sampling_without_answer.jsonl", { kind: "default-sampled", variant: "without-answer" }],
  ["openai_gpt-oss-20b_zero_shot_with_sampling_medium.jsonl", { kind: "default-sampled", reasoningEffort: "medium" }],
  [
    "Qwen_QwQ-32B_thoughts_to_openai_gpt-oss-20b_zero_shot_full.jsonl",
    { kind: "transfer", variant: "full", source: "Qwen_QwQ-32B", target: "openai_gpt-oss-20b", promptStyle: "zero_shot" },
  ],
  [
    "BytedTsinghua-SIA_DAPO-Qwen-32B_thoughts_to_Qwen_QwQ-32B_zero_shot_without_answer.jsonl",
    { kind: "transfer", variant: "without-answer", source: "BytedTsinghua-SIA_DAPO-Qwen-32B", target: "Qwen_QwQ-32B" },
  ],
  [
    "open-thoughts_OpenThinker-7B_thoughts_to_BytedTsinghua-SIA_DAPO-Qwen-32B_zero_shot.jsonl",
    { kind: "transfer", variant: "full", source: "open-thoughts_OpenThinker-7B" },
  ],
  [
    "_disk_u_koyena_medcalc-llama-3-3b-inst-grpo_thoughts_to__disk_u_koyena_medcalc-deepseek-r1-distill-qwen-1.5b-inst-grpo_zero_shot_full.jsonl",
    { kind: "transfer", source: "_disk_u_koyena_medcalc-llama-3-3b-inst-grpo", target: "_disk_u_koyena_medcalc-deepseek-r1-distill-qwen-1.5b-inst-grpo" },
  ],
  [
    "Qwen_Qwen2.5-1.5B-Instruct_thoughts_to_meta-llama_Llama-3.2-3B-Instruct_one_shot_full.jsonl",
    { kind: "transfer", source: "Qwen_Qwen2.5-1.5B-Instruct", target: "meta-llama_Llama-3.2-3B-Instruct", promptStyle: "one_shot" },
  ],
  [
    "Qwen_QwQ-32B_zero_shot_ensembled_thought_gen_qwq_dapo_eval_oss.jsonl",
    { kind: "ensemble", variant: "full", generators: ["qwq", "dapo"], evaluators: ["oss"], target: "Qwen_QwQ-32B" },
  ],
  [
    "nvidia_Nemotron-Research-Reasoning-Qwen-1.5B_zero_shot_ensembled_thought_without_answer_gen_qwq_opent_eval_oss.jsonl",
    { kind: "ensemble", variant: "without-answer", generators: ["qwq", "opent"], evaluators: ["oss"] },
  ],
  ["Qwen_QwQ-32B_zero_shot_ensembled_thought_gen_qwq_oss_eval_dapo.jsonl", { kind: "ensemble", generators: ["qwq", "oss"], evaluators: ["dapo"] }],
  [
    "Qwen_QwQ-32B_zero_shot_ensembled_thought_gen_qwq_dapo_opent_eval_oss_nrr.jsonl",
    { kind: "ensemble", generators: ["qwq", "dapo", "opent"], evaluators: ["oss", "nrr"] },
  ],
  ["openai_gpt-oss-20b_zero_shot_ensembled_thought_gen_qwq_dapo_eval_oss_low.jsonl", { kind: "ensemble", evaluators: ["oss"], reasoningEffort: "low" }],
  [
    "Qwen_QwQ-32B_zero_shot_ensembled_thought_alternate_without_answer.jsonl",
    { kind: "ensemble", variant: "without-answer", tag: "alternate", generators: undefined },
  ],
  ["Qwen_QwQ-32B_zero_shot_ensembled_thought_merged.jsonl", { kind: "ensemble", variant: "full", tag: "merged" }],
  ["Qwen_QwQ-32B_zero_shot_persona_empty.jsonl", { kind: "empty", promptStyle: "zero_shot_persona", target: "Qwen_QwQ-32B" }],
  ["Qwen_QwQ-32B_direct_answer_original.jsonl", { kind: "default-greedy", promptStyle: "direct_answer" }],
  // not genex output names
  ["Qwen_QwQ-32B_zero_shot_empty-checkpoint.jsonl", null],
  ["Qwen_QwQ-32B_zero_shot_something_else.jsonl", null],
  ["Qwen_QwQ-32B_zero_shot_ensembled_thought_gen_qwq.jsonl", null], // generators without evaluators
  ["Qwen_QwQ-32B_zero_shot_original_banana.jsonl", null],
  ["results_QwQ-32B_zero_shot.json", null],
  ["notes.jsonl", null],
];

describe("file-name recogniser", () => {
  for (const [name, want] of NAMES) {
    test(name, () => {
      const got = parseGenexFileName(name);
      if (want === null) return assert.equal(got, null);
      assert.ok(got, "expected the name to be recognised");
      for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k as keyof GenexFileName], v, `field ${k}`);
    });
  }
});

describe("model names and labels", () => {
  test("file-name forms map to Hugging Face ids", () => {
    assert.equal(modelIdFromFileName("Qwen_QwQ-32B"), "Qwen/QwQ-32B");
    assert.equal(modelIdFromFileName("nvidia_Nemotron-Research-Reasoning-Qwen-1.5B"), "nvidia/Nemotron-Research-Reasoning-Qwen-1.5B");
    assert.equal(modelIdFromFileName("meta-llama_Llama-3.2-3B-Instruct"), "meta-llama/Llama-3.2-3B-Instruct");
  });
  test("short labels", () => {
    assert.deepEqual(
      [
        "openai/gpt-oss-20b",
        "BytedTsinghua-SIA/DAPO-Qwen-32B",
        "Qwen/QwQ-32B",
        "open-thoughts/OpenThinker-7B",
        "nvidia/Nemotron-Research-Reasoning-Qwen-1.5B",
        "openai/gpt-oss-20b-low",
        "opent",
        "meta-llama/Llama-3.2-3B-Instruct",
      ].map(modelLabel),
      ["OSS", "DAPO", "QwQ", "OpenT", "NRR", "OSS-low", "OpenT", "Llama-3.2-3B-Instruct"],
    );
    assert.equal(conditionLabel({ kind: "ensemble", generators: ["qwq", "dapo"], evaluators: ["oss"], variant: "full" }), "Ensemble(QwQ+DAPO/OSS)");
    assert.equal(conditionLabel({ kind: "transfer", source: "Qwen/QwQ-32B", variant: "without-answer" }), "Transfer(QwQ)");
  });
});

describe("recorded answers", () => {
  test("crash texts, absent fields and extraction failures", { skip: needsShared("data/medcalc-bench/test_data.csv") }, () => {
    assert.deepEqual(classifyRecordedAnswer(null), { answerRaw: null, answer: null, answerMissing: "absent" });
    assert.equal(classifyRecordedAnswer("name 'N' is not defined").answerMissing, "crashed");
    assert.equal(classifyRecordedAnswer("'NoneType' object has no attribute 'group'").answerMissing, "crashed");
    assert.equal(classifyRecordedAnswer("time data 'N/A' does not match format '%m/%d/%Y'").answerMissing, "crashed");
    assert.equal(classifyRecordedAnswer("N/A").answerMissing, "not-found");
    assert.deepEqual(classifyRecordedAnswer("(4, 2)"), { answerRaw: "(4, 2)", answer: "(4, 2)" });
  });
});

const CSV = "../shared/data/medcalc-bench/test_data.csv";

describe("importGenexFile", () => {
  test(
    "transfer crash rows take the file's target; bad lines are named, others imported",
    { skip: needsShared("data/medcalc-bench/test_data.csv") },
    async () => {
      const limits = await loadMedcalcLimits(CSV);
      const dir = mkdtempSync(join(tmpdir(), "concord-genex-"));
      const name = "Qwen_QwQ-32B_thoughts_to_openai_gpt-oss-20b_zero_shot_full.jsonl";
      const ok = {
        "Row Number": 353,
        "LLM Model": "Qwen/QwQ-32B",
        "LLM Answer": "4",
        "LLM Raw Thinking": "Okay.",
        "Target Model": "openai/gpt-oss-20b",
        "Target Answer": "5",
        Result: "Incorrect",
        "Target Result": "Correct",
      };
      const crashed = { "Row Number": 1, "LLM Answer": "boom", Result: "Incorrect" };
      const unknownRow = { ...ok, "Row Number": 99999 };
      writeFileSync(join(dir, name), [ok, crashed, unknownRow].map((x) => JSON.stringify(x)).join("\n") + "\n" + JSON.stringify(ok).slice(0, 30));
      const info = parseGenexFileName(name)!;
      const got = await importGenexFile(join(dir, name), info, limits);
      assert.equal(got.records.length, 2);
      const [a, b] = got.records;
      assert.equal(a.target, "openai/gpt-oss-20b");
      assert.equal(a.condition.source, "Qwen/QwQ-32B");
      assert.equal(a.correct, true);
      assert.equal(a.cot, "Okay.");
      assert.deepEqual(a.reference, { kind: "integer", value: "5" });
      assert.equal(b.target, "openai/gpt-oss-20b"); // from the other rows: the field is absent
      assert.equal(b.answer, null);
      assert.equal(b.answerMissing, "absent");
      assert.equal(b.correct, false);
      assert.equal(b.reference.kind, "decimal");
      assert.equal(b.reference.lower, 23.9761);
      assert.equal(b.reference.upper, 26.4999);
      assert.deepEqual(
        got.errors.map((e) => [e.line, e.message]),
        [
          [3, "Row Number 99999 is not in the dataset CSV"],
          [4, "truncated last line (incomplete JSON)"],
        ],
      );
    },
  );

  test("a missing required field is named", { skip: needsShared("data/medcalc-bench/test_data.csv") }, async () => {
    const limits = await loadMedcalcLimits(CSV);
    const dir = mkdtempSync(join(tmpdir(), "concord-genex-"));
    const name = "Qwen_QwQ-32B_zero_shot_empty.jsonl";
    writeFileSync(
      join(dir, name),
      JSON.stringify({ "Row Number": 1, "LLM Name": "Qwen/QwQ-32B", Result: "Correct" }) +
        "\n" +
        JSON.stringify({ "LLM Answer": "3", Result: "Correct" }) +
        "\n",
    );
    const got = await importGenexFile(join(dir, name), parseGenexFileName(name)!, limits);
    assert.equal(got.records.length, 0);
    assert.equal(got.errors[0].message, 'missing field "LLM Answer"');
    assert.equal(got.errors[1].line, 2);
    assert.match(got.errors[1].message, /Row Number/);
  });
});
