// The relay report from records with known outcomes: accuracy per stage x pair and its
// differences to both baselines, families, the departure histogram, score aggregates, and
// `concord report` on a folder holding only relay.jsonl (text and --json).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildRelayReport, renderRelayReport } from "../../src/results/relay-report.js";
import type { RelayRecord } from "../../src/results/relay-store.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

const base = { schema: 1 as const, dataset: "gsm8k", reference: { kind: "number" as const, value: "7" }, answerRaw: "", meta: {} };
const rec = (r: Partial<RelayRecord> & Pick<RelayRecord, "role" | "problemId" | "correct">): RelayRecord => ({
  ...base,
  sentences: ["a.", "b.", "c.", "d."],
  answer: r.correct ? "7" : "8",
  ...r,
});

/** Four problems: the initiator is right on all, the continuer alone on one; the hybrid from early
 * is right on two (departing in its first or last sentence on the others), from late on all four. */
function records(): RelayRecord[] {
  const out: RelayRecord[] = [];
  for (let i = 1; i <= 4; i++) {
    const problemId = `p${i}`;
    out.push(
      rec({
        role: "initiator",
        problemId,
        correct: true,
        initiator: "qwen-a",
        initiatorFamily: "qwen",
        stepScores: [1, 1],
        scoreAggregate: { min: 1, mean: 1, last: 1 },
        scorer: "judge:j",
      }),
    );
    out.push(
      rec({
        role: "continuer-alone",
        problemId,
        correct: i === 1,
        continuer: "llama-b",
        continuerFamily: "llama",
        scoreAggregate: { min: 0, mean: 0.5, last: 0 },
        scorer: "judge:j",
      }),
    );
    const early = i <= 2;
    out.push(
      rec({
        role: "hybrid",
        problemId,
        correct: early,
        initiator: "qwen-a",
        initiatorFamily: "qwen",
        continuer: "llama-b",
        continuerFamily: "llama",
        stage: "early",
        sample: 0,
        handover: 1,
        comparison: early ? "agrees" : "differs",
        departure: early ? null : { sentence: i === 3 ? 1 : 3, position: i === 3 ? 0 : 2 / 3, answer: "8" },
        scoreAggregate: { min: 0.5, mean: 0.75, last: 0.5 },
        scorer: "judge:j",
      }),
    );
    out.push(
      rec({
        role: "hybrid",
        problemId,
        correct: true,
        initiator: "qwen-a",
        initiatorFamily: "qwen",
        continuer: "qwen-c",
        continuerFamily: "qwen",
        stage: "late",
        sample: 0,
        comparison: "agrees",
        departure: null,
      }),
    );
  }
  return out;
}

describe("relay report", () => {
  test("accuracy per stage x pair, differences to both baselines, families, departures, aggregates", () => {
    const r = buildRelayReport(records());
    assert.equal(r.problems, 4);
    const early = r.cells.find((c) => c.stage === "early")!;
    assert.equal(early.family, "cross");
    assert.equal(early.accuracy!.value, 0.5);
    assert.ok(early.accuracy!.low <= 0.5 && early.accuracy!.high >= 0.5);
    assert.equal(early.initiatorAccuracy, 1);
    assert.equal(early.continuerAloneAccuracy, 0.25);
    assert.equal(early.vsInitiator!.value, -0.5);
    assert.equal(early.vsContinuerAlone!.value, 0.25);
    assert.equal(early.broken, 2);
    assert.equal(early.agreesWithInitiator, 0.5);
    const late = r.cells.find((c) => c.stage === "late")!;
    assert.equal(late.family, "same");
    assert.deepEqual(late.accuracy, { value: 1, low: 1, high: 1 });
    // No continuer-alone records for qwen-c: that difference cannot be given.
    assert.equal(late.vsContinuerAlone, null);
    assert.deepEqual(
      r.families.map((f) => `${f.family}/${f.stage}=${f.accuracy!.value}`),
      ["cross/early=0.5", "same/late=1"],
    );
    assert.equal(r.departures.differing, 2);
    assert.equal(r.departures.located, 2);
    assert.equal(r.departures.histogram[0], 1);
    assert.equal(r.departures.histogram[6], 1);
    assert.equal(
      r.departures.histogram.reduce((a, b) => a + b, 0),
      2,
    );
    assert.equal(r.scores.scorer, "judge:j");
    const hybrid = r.scores.rows.find((x) => x.chains === "hybrid")!;
    assert.equal(hybrid.scored, 4);
    assert.equal(hybrid.mean!.value, 0.75);
    assert.equal(r.scores.rows.find((x) => x.chains === "initiator")!.min!.value, 1);
    const text = renderRelayReport(r);
    assert.match(text, /qwen-a\s+llama-b\s+early\s+cross\s+4\s+50\.0% \[/);
    assert.match(text, /-50\.0 \[/);
  });

  test("concord report on a relay folder: text, and --json with every figure; a bad line is named", () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-relay-report-"));
    writeFileSync(
      join(dir, "relay.jsonl"),
      records()
        .map((r) => JSON.stringify(r))
        .join("\n") + "\n",
    );
    const run = (...args: string[]) => spawnSync(process.execPath, ["test/concord-from-source.mjs", "report", dir, ...args], { cwd: ROOT, encoding: "utf8" });
    const text = run();
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /Same versus cross family/);
    assert.match(text.stdout, /Where continuers depart .*2 located of 2 differing/);
    const json = run("--json");
    assert.equal(json.status, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as {
      relay: { cells: Array<{ stage: string; vsInitiator: { value: number } }>; departures: { histogram: number[] } };
    };
    assert.equal(parsed.relay.cells.find((c) => c.stage === "early")!.vsInitiator.value, -0.5);
    assert.equal(parsed.relay.departures.histogram.length, 10);
    writeFileSync(
      join(dir, "relay.jsonl"),
      records()
        .map((r) => JSON.stringify(r))
        .join("\n") + "\n{not json\n",
    );
    const bad = run();
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /relay\.jsonl:17: not valid JSON, skipped/);
  });
});
