// A real ensemble trace from the paper's own run (KoyenaPal/genex), replayed through the
// ChainBuilder in paper mode: following the recorded picks reproduces the recorded chain.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadGenexTrace, paperChainText, traceToRecording } from "../../src/backends/genex-trace.js";
import { parseRecording, ReplayBackend } from "../../src/backends/replay.js";
import { chainText } from "../../src/core/chain.js";
import { ChainBuilder } from "../../src/engine/ensemble.js";
import type { ModelHandle } from "../../src/engine/models.js";
import type { Problem } from "../../src/core/types.js";
import { needsShared } from "../support/shared.js";

// Each generator and the evaluator replay their own recorded exchanges.
const ROWS = "../shared/data/genex/medcalc/ensemble_qwq_dapo_eval_oss";

test(
  "following the recorded picks of a real genex trace reproduces the recorded chain exactly",
  { skip: needsShared("data/genex/medcalc/ensemble_qwq_dapo_eval_oss") },
  async () => {
    const trace = await loadGenexTrace(`${ROWS}/selected_distributions_row_1.json`);
    const p = trace.problems[0];
    const conversion = traceToRecording({ ...trace, problems: [p] });
    const recording = parseRecording(`${[conversion.header, ...conversion.exchanges].map((e) => JSON.stringify(e)).join("\n")}\n`, "row1.jsonl");
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
      budget: { maxSentences: p.steps.length },
    });
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
