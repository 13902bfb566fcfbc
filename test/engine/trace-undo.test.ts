// Undo and regenerate inside a replayed trace serve the recorded candidates again: the lanes
// are the recorded ones, never "not in the recording" (#12.8).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadRecording } from "../../src/backends/replay.js";
import { openModels } from "../../src/engine/models.js";
import { traceProblem, traceReplayOf } from "../../src/engine/trace-replay.js";
import type { ChainBuilder } from "../../src/engine/ensemble.js";
import { raceFactory } from "../../src/app/race.js";

const ROW0 = "../shared/data/genex/medcalc/ensemble_qwq_dapo_eval_oss/selected_distributions_row_0.json";
const skip = existsSync(ROW0) ? false : `trace missing: ${ROW0}`;

test("undo and regenerate within a trace replay serve the recorded candidates again", { skip, timeout: 120_000 }, async () => {
  const out = join(mkdtempSync(join(tmpdir(), "concord-trace-undo-")), "row0.jsonl");
  const r = spawnSync(process.execPath, ["test/concord-from-source.mjs", "import", "trace", ROW0, "--out", out], { encoding: "utf8", env: { ...process.env } });
  assert.equal(r.status, 0, r.stderr);
  const rec = await loadRecording(out);
  const tr = traceReplayOf(rec)!;
  const models = openModels({ source: { kind: "trace", recording: rec, trace: tr }, env: {}, download: false });
  try {
    const race = await raceFactory(models, { options: { k: tr.k, mode: tr.mode, budget: { maxSentences: tr.steps } }, trace: true })(
      await traceProblem(rec, tr),
    );
    const builder = race.builder as ChainBuilder;
    let waiting: (() => void) | undefined;
    builder.on((e) => {
      if (e.type === "awaiting-decision") waiting?.();
    });
    /** Start (or regenerate) a step and wait until its candidates are in and scored. */
    const step = (start: () => unknown) =>
      new Promise<void>((done) => {
        waiting = done;
        void start();
      });
    const texts = () =>
      builder
        .getStep()!
        .candidates.filter((c) => c.generator !== tr.evaluator)
        .map((c) => `${c.id}: ${c.error && !c.error.includes("not scored") ? `[${c.error}]` : c.text}`)
        .sort();
    await step(() => builder.startStep());
    const first = texts();
    assert.ok(
      first.every((t) => !t.includes("not in the recording")),
      first.join("\n"),
    );
    builder.accept(builder.getStep()!.pick!);
    const sentence1 = builder.getChain().sentences[0].text;
    await step(() => builder.startStep());
    const second = texts();
    // Regenerate step 2: the same recorded candidates come again.
    await step(() => builder.regenerate());
    assert.deepEqual(texts(), second, "regenerate serves the recorded candidates again");
    // Undo back to step 1: its recorded candidates come again, and following the pick gives the same sentence.
    await builder.undo();
    await step(() => builder.startStep());
    assert.deepEqual(texts(), first, "after an undo, step 1's recorded candidates are served again");
    builder.accept(builder.getStep()!.pick!);
    assert.equal(builder.getChain().sentences[0].text, sentence1);
  } finally {
    await models.close();
  }
});
