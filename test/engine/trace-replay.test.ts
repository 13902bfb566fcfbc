// The question of an imported trace: found from the source the header names (a row file or the
// folder of them), from the current folder, the recording's folder or the project root.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import type { Recording } from "../../src/backends/replay.js";
import { traceProblem, traceReplayOf } from "../../src/engine/trace-replay.js";
import { needsShared } from "../support/shared.js";

const TRACES = "../shared/data/genex/medcalc/ensemble_qwq_dapo_eval_oss";
const skip = needsShared("data/genex/medcalc/ensemble_qwq_dapo_eval_oss", "data/medcalc-bench/test_data.csv");

function recording(source: string, problem: { problem: string; rowNumber?: string }, file = "/tmp/somewhere/else/trace.jsonl"): Recording {
  const header = {
    schema: 1,
    kind: "concord-recording",
    created: "2026-01-01T00:00:00.000Z",
    source,
    generators: ["Qwen/QwQ-32B", "BytedTsinghua-SIA/DAPO-Qwen-32B"],
    evaluator: "openai/gpt-oss-20b",
    problems: [{ ...problem, steps: 3, finished: true }],
  };
  return { file, header, exchanges: [] } as unknown as Recording;
}

async function problemOf(rec: Recording) {
  return traceProblem(rec, traceReplayOf(rec)!);
}

test("a recording imported from the folder of row files (Row Numbers in the header) finds its question", { skip }, async () => {
  const p = await problemOf(recording(TRACES, { problem: "0", rowNumber: "353" }));
  assert.equal(p.source, "medcalc-bench");
  assert.equal(p.id, "353");
  assert.match(p.messages.at(-1)!.content, /patient note/i);
});

test("a recording imported from one row file (no Row Number) finds it through the outputs files", { skip }, async () => {
  const p = await problemOf(recording(`${TRACES}/selected_distributions_row_3.json`, { problem: "3" }));
  assert.equal(p.source, "medcalc-bench");
  assert.equal(p.id, "981");
});

test("a relative source is also found from the recording's own folder", { skip }, async () => {
  // The recording sits in the repository's test folder; its source is named relative to it.
  const p = await problemOf(recording(`../${TRACES}/selected_distributions_row_3.json`, { problem: "3" }, resolve("test", "trace.jsonl")));
  assert.equal(p.id, "981");
});

test("a source found nowhere: a stand-in whose one line says where the question would come from", async () => {
  const p = await problemOf(recording("gone/selected_distributions_row_3.json", { problem: "3" }));
  assert.equal(p.source, "replay");
  const q = p.messages.at(-1)!.content;
  assert.match(q, /^\(the question of this recording is not known: its source gone\/selected_distributions_row_3\.json is not found from here/);
  assert.ok(!q.includes("\n"));
});

test("replayed from another folder: a source named relative to the project root is still found", { skip }, async () => {
  const here = process.cwd();
  process.chdir(tmpdir());
  try {
    const p = await problemOf(recording(`${TRACES}/selected_distributions_row_3.json`, { problem: "3" }, join(tmpdir(), "trace.jsonl")));
    assert.equal(p.id, "981");
  } finally {
    process.chdir(here);
  }
});
