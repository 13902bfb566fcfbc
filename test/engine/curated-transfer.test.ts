// Transfer from curated chains: a spec's transfer condition can read chains written beforehand
// (a JSONL file of {problemId, cot}, or a folder of <problemId>.txt) instead of asking a model.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadExperimentSpec, runExperiment, specModels } from "../../src/engine/experiment.js";
import type { ModelHandle } from "../../src/engine/models.js";
import { builtinProblems } from "../../src/problems/index.js";
import { readResults } from "../../src/results/store.js";
import { ScriptedBackend } from "../doubles/scripted-backend.js";

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
      writeFileSync(
        join(dir, cots),
        Object.entries(chains)
          .map(([problemId, cot]) => JSON.stringify({ problemId, cot }))
          .join("\n") + "\n",
      );
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
    const summary = await runExperiment(spec, {
      problems,
      models: new Map([
        ["t1", target("t1")],
        ["t2", target("t2")],
      ]),
    });
    assert.equal(summary.written, 4);
    const { records } = await readResults(spec.out);
    for (const r of records) {
      assert.equal(r.condition.source, "curated");
      assert.equal(r.cot, chains[r.problemId as keyof typeof chains]);
      assert.equal(r.correct, true, `${r.target} answered from the curated chain of ${r.problemId}`);
    }
  });
}

test("curated chains are checked when the run starts, before any model is asked: one line naming the file and the first missing problem", async () => {
  const dir = mkdtempSync(join(tmpdir(), "concord-curated-"));
  writeFileSync(join(dir, "chains.jsonl"), JSON.stringify({ problemId: "demo-1", cot: "3 + 4 = 7." }) + "\n");
  const specFor = async (cots: string, ids: string[]) => {
    writeFileSync(
      join(dir, "spec.yaml"),
      `problems: { set: builtin, ids: [${ids.join(", ")}] }\nconditions:\n  - empty\n  - { kind: transfer, source: curated, cots: ${cots} }\ntargets: [t1]\nout: out\n`,
    );
    return loadExperimentSpec(join(dir, "spec.yaml"));
  };
  let asked = 0;
  const counting: ModelHandle = { name: "t1", thinkingFormat: "think-tags", backend: new ScriptedBackend({ name: "t1", respond: () => (asked++, " 7") }) };
  const run = async (cots: string, ids: string[]) => {
    const spec = await specFor(cots, ids);
    return runExperiment(spec, { problems: builtinProblems().filter((p) => ids.includes(p.id)), models: new Map([["t1", counting]]) });
  };

  await assert.rejects(run("chains.jsonl", ["demo-1", "demo-2", "demo-3"]), (e: unknown) => {
    assert.equal(
      (e as Error).message,
      `${join(dir, "chains.jsonl")}: no chain for problem "demo-2" (2 of the 3 selected problems have none) (transfer cots of source "curated")`,
    );
    return true;
  });
  await assert.rejects(run("missing.jsonl", ["demo-1"]), new RegExp(`^UserError: ${join(dir, "missing.jsonl")}: no such file or folder \\(transfer cots\\)$`));
  writeFileSync(join(dir, "torn.jsonl"), JSON.stringify({ problemId: "demo-1", cot: "x" }) + '\n{"problemId": \n');
  await assert.rejects(run("torn.jsonl", ["demo-1"]), /torn\.jsonl line 2: not valid JSON$/);
  assert.equal(asked, 0, "no model was asked");
  assert.equal(existsSync(join(dir, "out")), false, "nothing written");
});
