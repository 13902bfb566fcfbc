// Every one of the 100 shared ensemble traces of the paper's own run (KoyenaPal/genex), replayed
// through the ChainBuilder in paper mode with its defaults (no sentence cap, no stop on an empty
// candidate), following the recorded picks: each rebuilds the published chain exactly and ends
// at the recorded step with the end of thought.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { paperChainText } from "../../src/backends/genex-trace.js";
import { GENEX_ROWS, traceBuilder } from "../support/genex-trace-rig.js";
import { chainText } from "../../src/core/chain.js";
import { PAPER_SAFETY_STEPS } from "../../src/engine/ensemble.js";

const skip = existsSync(`${GENEX_ROWS}/selected_distributions_row_0.json`) ? false : "needs ../shared/data/genex";

async function rebuild(row: number): Promise<{ rebuilt: boolean; why?: string; steps: number }> {
  const { p, b } = await traceBuilder(row);
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
