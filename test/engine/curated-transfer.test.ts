// Transfer from curated chains: a spec's transfer condition can read chains written beforehand
// (a JSONL file of {problemId, cot}, or a folder of <problemId>.txt) instead of asking a model.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadExperimentSpec, runExperiment, specModels } from "../../src/engine/experiment.js";
import type { ModelHandle } from "../../src/engine/models.js";
import { builtinProblems } from "../../src/problems/index.js";
import { readResults } from "../../src/results/store.js";
import { ScriptedBackend } from "./_scripted-backend.js";

const target = (name: string): ModelHandle => ({
  name,
  thinkingFormat: "think-tags",
  // Answers with the last number of the chain it was given, so the record shows which chain it saw.
  backend: new ScriptedBackend({
    name,
    respond: (req) => {
      const prefix = req.prompt.kind === "chat" ? (req.prompt.assistantPrefix ?? "") : "";
      const n = prefix.match(/\d+/g)?.at(-1) ?? "0";
      return ` The answer is ${n}.`;
    },
  }),
});

for (const layout of ["jsonl", "folder"] as const) {
  test(`curated chains (${layout}) are given to the targets; no model writes them`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-curated-"));
    const chains = { "demo-1": "Tom starts with 3 and buys 4: 3 + 4 = 7.", "demo-2": "Five boxes of 6 eggs: 5 x 6 = 30." };
    let cots: string;
    if (layout === "jsonl") {
      cots = "chains.jsonl";
      writeFileSync(join(dir, cots), Object.entries(chains).map(([problemId, cot]) => JSON.stringify({ problemId, cot })).join("\n") + "\n");
    } else {
      cots = "chains";
      mkdirSync(join(dir, cots));
      for (const [id, cot] of Object.entries(chains)) writeFileSync(join(dir, cots, `${id}.txt`), cot + "\n");
    }
    writeFileSync(
      join(dir, "spec.yaml"),
      `problems: { set: builtin, ids: [demo-1, demo-2] }\nconditions:\n  - { kind: transfer, source: curated, cots: ${cots} }\ntargets: [t1, t2]\nout: out\n`,
    );
    const spec = await loadExperimentSpec(join(dir, "spec.yaml"));
    assert.deepEqual(specModels(spec), ["t1", "t2"], "a curated source is not a model");
    const problems = builtinProblems().filter((p) => p.id in chains);
    const summary = await runExperiment(spec, { problems, models: new Map([["t1", target("t1")], ["t2", target("t2")]]) });
    assert.equal(summary.written, 4);
    const { records } = await readResults(spec.out);
    for (const r of records) {
      assert.equal(r.condition.source, "curated");
      assert.equal(r.cot, chains[r.problemId as keyof typeof chains]);
      assert.equal(r.correct, true, `${r.target} answered from the curated chain of ${r.problemId}`);
    }
  });
}

test("a problem without a curated chain is a one-line error naming the file and the problem", async () => {
  const dir = mkdtempSync(join(tmpdir(), "concord-curated-"));
  writeFileSync(join(dir, "chains.jsonl"), JSON.stringify({ problemId: "demo-1", cot: "3 + 4 = 7." }) + "\n");
  writeFileSync(join(dir, "spec.yaml"), `problems: { set: builtin, ids: [demo-2] }\nconditions:\n  - { kind: transfer, source: curated, cots: chains.jsonl }\ntargets: [t1]\nout: out\n`);
  const spec = await loadExperimentSpec(join(dir, "spec.yaml"));
  const problems = builtinProblems().filter((p) => p.id === "demo-2");
  const summary = await runExperiment(spec, { problems, models: new Map([["t1", target("t1")]]) });
  assert.equal(summary.written, 0);
  assert.equal(summary.errors, 1);
});
