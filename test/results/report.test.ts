import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { buildReport, paperText, renderText, renderCsv, reportJson, type ResultRecord, type Condition } from "../../src/results/index.js";

const T = ["openai/gpt-oss-20b", "Qwen/QwQ-32B", "x/Custom\u001b[31mModel"];

function rec(
  condition: Condition,
  target: string,
  problemId: string,
  answer: string | null,
  correct: boolean,
  extra: Partial<ResultRecord> = {},
): ResultRecord {
  return {
    schema: 1,
    condition,
    target,
    problemId,
    dataset: "d",
    reference: { kind: "exact", value: "a" },
    answerRaw: answer,
    answer,
    correct,
    meta: {},
    ...extra,
  };
}

const transferFull: Condition = { kind: "transfer", source: "Qwen/QwQ-32B", variant: "full" };
const transferWa: Condition = { kind: "transfer", source: "Qwen/QwQ-32B", variant: "without-answer" };
const empty: Condition = { kind: "empty", variant: "full" };
const absent = { answerRaw: null, answerMissing: "absent" as const };

// Transfer full, targets OSS and QwQ over 2 items: item 1 same wrong answer; item 2 both absent.
const records: ResultRecord[] = [
  rec(transferWa, T[0], "1", "1", true),
  rec(transferWa, T[1], "1", "2", false),
  rec(transferFull, T[0], "1", "7", false),
  rec(transferFull, T[1], "1", "7", false),
  rec(transferFull, T[0], "2", null, false, absent),
  rec(transferFull, T[1], "2", null, false, absent),
  rec(empty, T[2], "1", "a", true),
  rec(empty, T[0], "1", "b", true),
  // a later record for the same condition+target+problem replaces the earlier one
  rec(empty, T[0], "1", "a", false),
];

describe("buildReport", () => {
  const report = buildReport(records);
  test("conditions are ordered by kind, then full before without answer", () => {
    // QwQ's answers from its own transferred chain are also the paper's Default (greedy) rows.
    assert.deepEqual(
      report.conditions.map((c) => `${c.label}/${c.variant}`),
      [
        "Empty/full",
        "Default greedy [self-transfer]/full",
        "Default greedy [self-transfer]/without-answer",
        "Transfer(QwQ)/full",
        "Transfer(QwQ)/without-answer",
      ],
    );
    const selfRows = report.conditions.filter((c) => c.condition.kind === "default-greedy");
    assert.ok(selfRows.every((c) => c.targets.length === 1 && c.targets[0].id === "Qwen/QwQ-32B"));
  });
  test("paper reading counts two absent answers as agreeing; strict skips them", () => {
    const c = report.conditions.find((x) => x.label === "Transfer(QwQ)" && x.variant === "full")!;
    assert.equal(c.paper.consistency!.mean, 1); // item 1 same answer, item 2 "" == ""
    assert.equal(c.paper.pairs[0].kept, 2);
    assert.equal(c.strict.consistency!.mean, 1);
    assert.equal(c.strict.pairs[0].kept, 1);
    assert.equal(c.missing, 2);
    assert.equal(c.items, 2);
  });
  test("targets follow the paper's order; the last record wins", () => {
    const c = report.conditions[0];
    assert.deepEqual(
      c.targets.map((t) => t.id),
      [T[0], T[2]],
    );
    assert.deepEqual(
      c.accuracy.map((a) => a.correct),
      [0, 1],
    );
    assert.equal(c.records, 2);
    assert.equal(c.paper.consistency!.mean, 1); // "a" == "a"
    assert.equal(c.paper.split!.consistentWrong, 1);
  });
  test('paperText: crash text for crashes, null (read as "") for absent', () => {
    assert.equal(paperText(rec(empty, "a", "1", null, false, { answerRaw: "name 'N' is not defined", answerMissing: "crashed" })), "name 'N' is not defined");
    assert.equal(paperText(rec(empty, "a", "1", null, false, absent)), null);
    assert.equal(paperText(rec(empty, "a", "1", "3", false)), "3");
  });
});

describe("rendering", () => {
  const report = buildReport(records);
  const text = renderText(report);
  test("text fits 80 columns and carries no control characters", () => {
    for (const line of text.split("\n")) assert.ok([...line].length <= 80, `too wide: ${line}`);
    assert.doesNotMatch(text, /\u001b/);
  });
  test("text shows 3-decimal consistency and integer percentages", () => {
    assert.match(text, /Transfer\(QwQ\)\s+full\s+1\.000 ± 0\.000\s+1\.000 ± 0\.000\s+2/);
    assert.match(text, /Transfer\(QwQ\)\s+w\/o answer\s+0\.000 ± 0\.000/);
    assert.match(text, /Transfer\(QwQ\)\s+w\/o answer\s+100\s+0/);
  });
  test("JSON carries the same numbers", () => {
    const json = reportJson(report) as { conditions: Array<{ label: string; variant: string; paper: { consistency: { mean: number } } }> };
    assert.equal(json.conditions.find((c) => c.label === "Transfer(QwQ)" && c.variant === "full")!.paper.consistency.mean, 1);
    assert.equal(JSON.parse(JSON.stringify(json)).conditions.length, 5);
  });
  test("CSV has one row per pair and reading", () => {
    const csv = renderCsv(report);
    assert.equal(csv.split("\n").filter((l) => l.includes("pair_consistency")).length, 6);
  });
  test("an empty report says so", () => {
    assert.equal(renderText(buildReport([])), "No results.\n");
  });
});
