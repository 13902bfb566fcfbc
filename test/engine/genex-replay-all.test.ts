// Every one of the 100 shared ensemble traces of the paper's own run (KoyenaPal/genex), replayed
// through the ChainBuilder in paper mode with its defaults (no sentence cap, no stop on an empty
// candidate), following the recorded picks: each rebuilds the published chain exactly and ends
// at the recorded step with the end of thought.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { loadGenexTrace, paperChainText, traceToRecording } from "../../src/backends/genex-trace.js";
import { parseRecording, ReplayBackend } from "../../src/backends/replay.js";
import { chainText } from "../../src/core/chain.js";
import { ChainBuilder, PAPER_SAFETY_STEPS } from "../../src/engine/ensemble.js";
import type { ModelHandle } from "../../src/engine/models.js";
import type { Problem } from "../../src/core/types.js";

const ROWS = "../shared/data/genex/medcalc/ensemble_qwq_dapo_eval_oss";
const skip = existsSync(`${ROWS}/selected_distributions_row_0.json`) ? false : "needs ../shared/data/genex";

async function rebuild(row: number): Promise<{ rebuilt: boolean; why?: string; steps: number }> {
  const trace = await loadGenexTrace(`${ROWS}/selected_distributions_row_${row}.json`);
  const p = trace.problems[0];
  const conversion = traceToRecording({ ...trace, problems: [p] });
  const recording = parseRecording(`${[conversion.header, ...conversion.exchanges].map((e) => JSON.stringify(e)).join("\n")}\n`, `row${row}.jsonl`);
  const handle = (name: string): ModelHandle => ({
    name,
    backend: new ReplayBackend(recording, { backend: name, problem: p.index, speed: "instant", name }),
    thinkingFormat: "think-tags",
  });
  const problem: Problem = {
    id: String(p.rowNumber ?? p.index),
    source: "medcalc-bench",
    messages: [{ role: "user", content: "(note and question)" }],
    reference: { kind: "exact", value: "" },
    meta: {},
  };
  const perGenerator = Math.max(...p.steps[0].candidates.map((c) => p.steps[0].candidates.filter((d) => d.generator === c.generator).length));
  const b = new ChainBuilder({
    problem,
    generators: trace.generators.map(handle),
    evaluators: [handle(trace.evaluator ?? "openai/gpt-oss-20b")],
    k: perGenerator,
    mode: "paper",
  });
  for (let i = 0; i < p.steps.length; i++) {
    if (b.stopReason()) return { rebuilt: false, why: `stopped (${b.stopReason()}) after ${i} of ${p.steps.length} steps`, steps: p.steps.length };
    const waiting = new Promise<void>((r) => {
      const off = b.on((e) => e.type === "awaiting-decision" && (off(), r()));
    });
    const step = b.startStep();
    await waiting;
    const recorded = p.steps[i];
    const candidates = b.getStep()!.candidates;
    const got = candidates.map((c) => c.text);
    const want = recorded.candidates.map((c) => c.text.trim());
    if (JSON.stringify(got) !== JSON.stringify(want))
      return { rebuilt: false, why: `step ${i}: candidates ${JSON.stringify(got)} != ${JSON.stringify(want)}`, steps: p.steps.length };
    const pick = candidates.find((c) => c.generator === recorded.selectedGenerator && c.text === recorded.selectedText.trim());
    if (!pick) return { rebuilt: false, why: `step ${i}: the recorded pick is not among the candidates`, steps: p.steps.length };
    b.accept(pick.id);
    assert.equal(await step, "accepted");
  }
  const text = chainText(b.getChain(), "paper");
  if (text !== paperChainText(p)) return { rebuilt: false, why: "chain text differs", steps: p.steps.length };
  if (p.finished && b.stopReason() !== "end-of-thought")
    return { rebuilt: false, why: `did not end with the end of thought (${b.stopReason()})`, steps: p.steps.length };
  return { rebuilt: true, steps: p.steps.length };
}

test("all 100 shared traces rebuild in paper mode by their picks", { skip }, async () => {
  const failures: string[] = [];
  let longest = 0;
  for (let row = 0; row < 100; row++) {
    const r = await rebuild(row);
    longest = Math.max(longest, r.steps);
    if (!r.rebuilt) failures.push(`row ${row}: ${r.why}`);
  }
  assert.deepEqual(failures, []);
  // The published chains run past any small sentence cap; the safety stop is far beyond them.
  assert.ok(longest > 60 && longest < PAPER_SAFETY_STEPS, `longest chain ${longest} steps`);
});
