// Where `concord importance` reads a chain from: a saved session (its own problem), a chain
// file (JSONL of {problemId, cot}), and the one-line refusals of a wrong problem.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadChain } from "../../src/commands/importance.js";
import { builtinProblems } from "../../src/problems/index.js";

const dir = mkdtempSync(join(tmpdir(), "concord-importance-input-"));
const problem = builtinProblems()[0]!;

describe("importance inputs", () => {
  test("a saved session gives its own problem and chain; another problem is refused", async () => {
    const at = "2026-12-06T00:00:00.000Z";
    const sentence = (text: string) => ({ text, author: "g", decision: "evaluator", candidates: [], at });
    const session = {
      schema: 1,
      id: "s1",
      createdAt: at,
      updatedAt: at,
      problem,
      roles: { generators: ["g"], evaluators: ["e"], targets: [] },
      chain: { sentences: [sentence("Tom has 3."), sentence(" He buys 4.")], finished: false },
      targets: { answers: [], consistency: [] },
    };
    const file = join(dir, "s1.json");
    writeFileSync(file, JSON.stringify(session));
    const got = await loadChain(file, problem.id, undefined);
    assert.equal(got.kind, "session");
    assert.equal(got.problem.id, problem.id);
    assert.deepEqual(got.sentences, ["Tom has 3.", "He buys 4."]);
    await assert.rejects(loadChain(file, "other", undefined), new RegExp(`the session is on problem "${problem.id}", not "other"`));
  });

  test("a JSONL chain file: the chain of the named problem, split into sentences", async () => {
    const file = join(dir, "chains.jsonl");
    writeFileSync(file, JSON.stringify({ problemId: problem.id, cot: "One step. Two steps. Done." }) + "\n");
    const got = await loadChain(file, problem.id, "builtin");
    assert.deepEqual(got.sentences, ["One step.", "Two steps.", "Done."]);
    await assert.rejects(loadChain(file, "demo-9", "builtin"), /no chain for problem "demo-9"/);
  });
});
