// The relay condition of an experiment spec against ScriptedBackend doubles: the records it
// writes (baselines and hybrids, samples, step scores and their aggregates, departures,
// families), resuming without model calls, and the spec's checks.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseExperimentSpec, planExperiment, runExperiment } from "../../src/engine/experiment.js";
import type { ModelHandle } from "../../src/engine/models.js";
import type { Problem } from "../../src/core/types.js";
import { readRelayRecords, RELAY_FILE } from "../../src/results/relay-store.js";
import { ScriptedBackend } from "../doubles/scripted-backend.js";

const problems: Problem[] = [1, 2].map((i) => ({
  id: `p${i}`,
  source: "gsm8k",
  messages: [{ role: "user", content: `Tom has 3 apples and buys 4 (case ${i}). How many?` }],
  reference: { kind: "number", value: "7" },
  meta: {},
}));

const prefixOf = (req: { prompt: { kind: string; assistantPrefix?: string } }) => (req.prompt.kind === "chat" ? (req.prompt.assistantPrefix ?? "") : "");
const isJudge = (req: { prompt: { kind: string; messages?: Array<{ content: string }> } }) =>
  req.prompt.kind === "chat" && (req.prompt.messages?.[0]?.content ?? "").startsWith("You grade one step");

function doubles() {
  // The initiator writes four sentences and answers 7.
  const init = new ScriptedBackend({
    name: "init",
    respond: (req) =>
      prefixOf(req).includes("</think>") ? " The answer is 7." : " Tom starts with 3. He buys 4 more. Three plus four is seven. So he has 7.</think>",
  });
  // The continuer goes astray: its continuation says eight, and it answers 8 from any chain that does.
  const cont = new ScriptedBackend({
    name: "cont",
    respond: (req) => {
      const p = prefixOf(req);
      if (p.includes("</think>")) return p.includes("eight") ? " The answer is 8." : " The answer is 7.";
      return " Wait, he finds one more. That makes eight.</think>";
    },
  });
  // The judge grades a step 2 unless it says eight (0).
  const judge = new ScriptedBackend({
    name: "judge",
    respond: (req) => {
      const text = isJudge(req) ? (req.prompt as { messages: Array<{ content: string }> }).messages[0]!.content : "";
      const step = text.slice(text.lastIndexOf("Step to grade:"));
      return step.includes("eight") ? "0" : "2";
    },
  });
  const handles = new Map<string, ModelHandle>([
    ["init", { name: "init", backend: init, thinkingFormat: "think-tags", family: "alpha" }],
    ["cont", { name: "cont", backend: cont, thinkingFormat: "think-tags", family: "beta" }],
    ["judge", { name: "judge", backend: judge, thinkingFormat: "think-tags" }],
  ]);
  return { init, cont, judge, handles };
}

const specFor = (out: string, extra: Record<string, unknown> = {}) =>
  parseExperimentSpec(
    {
      name: "relay-test",
      problems: { set: "builtin" },
      conditions: [{ kind: "relay", initiators: ["init"], continuers: ["cont"], rule: "quantile", judge: "judge", answerTokens: 10, maxTokens: 64, ...extra }],
      out,
    },
    "test",
  );

describe("relay condition", () => {
  test("writes both baselines and every stage x sample hybrid, with scores, aggregates and departures", async () => {
    const out = mkdtempSync(join(tmpdir(), "concord-relay-exp-"));
    const { handles, init } = doubles();
    const spec = specFor(out, { samples: 2 });
    const plan = await planExperiment(spec, problems);
    // Per problem: initiator 1 + continuer alone 1 + 3 stages x 2 samples.
    assert.equal(plan.records, 2 * (1 + 1 + 6));
    assert.equal(plan.calls, plan.records * 2);
    assert.ok(plan.uncounted.some((u) => /judge/.test(u)));
    const summary = await runExperiment(spec, { problems, models: handles });
    assert.equal(summary.errors, 0);
    assert.equal(summary.written, 16);
    assert.ok(summary.calls > 0);
    const { records } = await readRelayRecords(out);
    assert.equal(records.length, 16);
    const initRec = records.find((r) => r.role === "initiator" && r.problemId === "p1")!;
    assert.equal(initRec.answer, "7");
    assert.equal(initRec.correct, true);
    assert.equal(initRec.initiatorFamily, "alpha");
    assert.deepEqual(initRec.stepScores, [1, 1, 1, 1]);
    assert.deepEqual(initRec.scoreAggregate, { min: 1, mean: 1, last: 1 });
    const alone = records.find((r) => r.role === "continuer-alone" && r.problemId === "p1")!;
    assert.equal(alone.answer, "8");
    assert.equal(alone.correct, false);
    const hybrids = records.filter((r) => r.role === "hybrid" && r.problemId === "p1");
    assert.deepEqual(hybrids.map((r) => `${r.stage}#${r.sample}`).sort(), ["early#0", "early#1", "late#0", "late#1", "mid#0", "mid#1"]);
    for (const h of hybrids) {
      assert.equal(h.answer, "8");
      assert.equal(h.comparison, "differs");
      assert.equal(h.continuerFamily, "beta");
      // The continuation's second sentence ("That makes eight.") is where the answer departs.
      assert.equal(h.departure?.sentence, h.handover! + 1);
      assert.equal(h.departure?.position, 1 / 2);
      // The initiator's prefix keeps its scores; "That makes eight." is graded 0.
      assert.equal(h.stepScores!.length, h.sentences.length);
      assert.equal(h.stepScores![h.handover! + 1], 0);
      assert.deepEqual(h.scoreAggregate, { min: 0, mean: (h.sentences.length - 1) / h.sentences.length, last: 0 });
    }
    // The initiator wrote each problem's chain once, for every stage and sample.
    const chainCalls = init.streamCalls.filter((q) => !prefixOf(q).includes("</think>"));
    assert.equal(chainCalls.length, 2);
    // Sampled continuations carry their own seeds (so a cache can serve them again).
    const { cont } = { cont: handles.get("cont")!.backend as ScriptedBackend };
    assert.ok(cont.streamCalls.some((q) => q.seed === 1) && cont.streamCalls.some((q) => q.seed === 2));
  });

  test("a rerun makes no model calls; a torn last line is made again", async () => {
    const out = mkdtempSync(join(tmpdir(), "concord-relay-resume-"));
    const first = doubles();
    const spec = specFor(out);
    await runExperiment(spec, { problems, models: first.handles });
    const again = doubles();
    const s2 = await runExperiment(spec, { problems, models: again.handles });
    assert.equal(s2.written, 0);
    assert.equal(s2.skipped, 10);
    assert.equal(s2.calls, 0);
    assert.equal(again.init.streamCalls.length + again.cont.streamCalls.length + again.judge.streamCalls.length, 0);
    // A kill mid-write leaves a torn last line: that record is written again, the rest kept.
    const file = join(out, RELAY_FILE);
    const text = readFileSync(file, "utf8");
    const lines = text.trimEnd().split("\n");
    writeFileSync(file, lines.slice(0, -1).join("\n") + "\n" + lines.at(-1)!.slice(0, 40));
    const third = doubles();
    const s3 = await runExperiment(spec, { problems, models: third.handles });
    assert.equal(s3.written, 1);
    const read = await readRelayRecords(out);
    assert.equal(read.records.length, 10);
    assert.equal(read.issues.length, 1);
  });

  test("the spec names what is wrong: targets for answer conditions, an unknown stage", () => {
    assert.throws(() => parseExperimentSpec({ problems: { set: "builtin" }, conditions: ["empty"], out: "x" }, "s.yaml"), /targets: name at least one target/);
    assert.throws(
      () =>
        parseExperimentSpec(
          { problems: { set: "builtin" }, conditions: [{ kind: "relay", initiators: ["a"], continuers: ["b"], stages: ["start"] }], out: "x" },
          "s.yaml",
        ),
      /conditions\[0\]\.stages\[0\]/,
    );
  });
});
