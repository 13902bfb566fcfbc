// A real ensemble trace from the paper's own run (KoyenaPal/genex), replayed through the
// ChainBuilder in paper mode: following the recorded picks reproduces the recorded chain.
import { test } from "node:test";
import assert from "node:assert/strict";
import { paperChainText } from "../../src/backends/genex-trace.js";
import { chainText } from "../../src/core/chain.js";
import { needsShared } from "../support/shared.js";
import { traceBuilder } from "../support/genex-trace-rig.js";

// Each generator and the evaluator replay their own recorded exchanges.

test(
  "following the recorded picks of a real genex trace reproduces the recorded chain exactly",
  { skip: needsShared("data/genex/medcalc/ensemble_qwq_dapo_eval_oss") },
  async () => {
    const { p, b } = await traceBuilder(1, (p) => ({ budget: { maxSentences: p.steps.length } }));
    for (let i = 0; i < p.steps.length; i++) {
      const waiting = new Promise<void>((r) => {
        const off = b.on((e) => e.type === "awaiting-decision" && (off(), r()));
      });
      const step = b.startStep();
      await waiting;
      const recorded = p.steps[i];
      const candidates = b.getStep()!.candidates;
      // The candidates that raced are the recorded ones, in order.
      assert.deepEqual(
        candidates.map((c) => c.text),
        recorded.candidates.map((c) => c.text.trim()),
      );
      const id = candidates.find((c) => c.generator === recorded.selectedGenerator && c.text === recorded.selectedText.trim())!.id;
      // The trace kept only the winner's whole-sequence score, so no evaluator pick can be
      // recomputed here: the recorded pick is followed as a human decision.
      b.accept(id);
      assert.equal(await step, "accepted");
    }
    const chain = b.getChain();
    assert.equal(chain.sentences.length, p.steps.length);
    assert.ok(chain.sentences.every((s) => s.decision === "human-pick" && s.author === p.steps[chain.sentences.indexOf(s)].selectedGenerator));
    // Paper mode keeps the chosen chunk whole, end marker and what follows it included.
    assert.equal(chainText(chain, "paper"), paperChainText(p));
    assert.equal(b.stopReason(), "end-of-thought");
  },
);
