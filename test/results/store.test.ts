import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync, appendFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  appendResult,
  appendResults,
  buildReport,
  conditionKey,
  readResults,
  resultKey,
  writeSummary,
  RESULTS_FILE,
  type ResultRecord,
} from "../../src/results/index.js";

function rec(over: Partial<ResultRecord> = {}): ResultRecord {
  return {
    schema: 1,
    condition: { kind: "transfer", source: "Qwen/QwQ-32B", variant: "full" },
    target: "openai/gpt-oss-20b",
    problemId: "353",
    dataset: "medcalc-bench",
    reference: { kind: "integer", value: "5" },
    answerRaw: "4",
    answer: "4",
    correct: false,
    meta: {},
    ...over,
  };
}

const tmp = () => mkdtempSync(join(tmpdir(), "concord-results-"));

describe("append and read", () => {
  test("records round-trip, one line each", async () => {
    const dir = tmp();
    await appendResult(dir, rec());
    await appendResults(dir, [rec({ problemId: "1" }), rec({ problemId: "2", answer: null, answerRaw: null, answerMissing: "absent" })]);
    const text = readFileSync(join(dir, RESULTS_FILE), "utf8");
    assert.equal(text.split("\n").length, 4); // three lines and the final newline
    const { records, issues } = await readResults(dir);
    assert.deepEqual(issues, []);
    assert.deepEqual(
      records.map((r) => r.problemId),
      ["353", "1", "2"],
    );
    assert.equal(records[2].answerMissing, "absent");
  });

  test("an invalid record is refused before it reaches the file", async () => {
    const dir = tmp();
    await assert.rejects(appendResult(dir, { ...rec(), target: "" } as ResultRecord));
    assert.equal(existsSync(join(dir, RESULTS_FILE)) ? readFileSync(join(dir, RESULTS_FILE), "utf8") : "", "");
  });

  test("a torn last line is named and skipped; the next append starts on a new line", async () => {
    const dir = tmp();
    await appendResults(dir, [rec({ problemId: "1" }), rec({ problemId: "2" })]);
    const full = JSON.stringify(rec({ problemId: "3" }));
    appendFileSync(join(dir, RESULTS_FILE), full.slice(0, 40)); // a crash mid-write
    let read = await readResults(dir);
    assert.equal(read.records.length, 2);
    assert.equal(read.issues.length, 1);
    assert.equal(read.issues[0].torn, true);
    assert.equal(read.issues[0].line, 3);
    assert.match(read.issues[0].file, /results\.jsonl$/);

    await appendResult(dir, rec({ problemId: "4" }));
    read = await readResults(dir);
    assert.deepEqual(
      read.records.map((r) => r.problemId),
      ["1", "2", "4"],
    );
    assert.equal(read.issues.length, 1);
    assert.equal(read.issues[0].torn, false); // no longer last: now just a bad line
    assert.equal(read.issues[0].line, 3);
  });

  test("a bad record names its file, line and field", async () => {
    const dir = tmp();
    const bad = { ...rec(), condition: { kind: "sideways", variant: "full" } };
    writeFileSync(join(dir, RESULTS_FILE), JSON.stringify(rec()) + "\n" + JSON.stringify(bad) + "\n" + JSON.stringify(rec({ problemId: "9" })) + "\n");
    const { records, issues } = await readResults(dir);
    assert.equal(records.length, 2);
    assert.equal(issues.length, 1);
    assert.equal(issues[0].line, 2);
    assert.match(issues[0].message, /condition\.kind/);
    assert.doesNotMatch(issues[0].message, /\n/);
  });

  test("a missing folder is a clear error", async () => {
    await assert.rejects(readResults(join(tmp(), "nope")), /no such results folder/);
  });

  test("only results.jsonl is read: other JSON Lines files in the folder are not results", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "problems.jsonl"), '{"question": "2+2?", "answer": "4"}\n'.repeat(50));
    await assert.rejects(readResults(dir), (e: unknown) => {
      assert.equal((e as Error).message, `${dir}: not a results folder (no results.jsonl)`);
      return true;
    });
    assert.deepEqual(await readResults(dir, { missingOk: true }), { records: [], issues: [] });
    await appendResult(dir, rec());
    const read = await readResults(dir);
    assert.equal(read.records.length, 1);
    assert.deepEqual(read.issues, [], "problems.jsonl was not read");
    const file = join(dir, RESULTS_FILE);
    await assert.rejects(readResults(file), /results\.jsonl: not a folder \(a results folder holds results\.jsonl\)$/);
    await assert.rejects(readResults(file, { missingOk: true }), /not a folder/);
  });
});

describe("keys", () => {
  test("resultKey separates condition, target and problem", () => {
    const a = rec();
    const b: ResultRecord = { ...a, answer: "7", correct: true };
    assert.equal(resultKey(a), resultKey(b));
    assert.notEqual(resultKey(a), resultKey({ ...a, target: "Qwen/QwQ-32B" }));
    assert.notEqual(resultKey(a), resultKey({ ...a, problemId: "354" }));
    assert.notEqual(resultKey(a), resultKey({ ...a, condition: { ...a.condition, variant: "without-answer" } }));
    assert.notEqual(resultKey(a), resultKey({ ...a, condition: { ...a.condition, source: "openai/gpt-oss-20b" } }));
  });
  test("conditionKey includes generators, evaluators and tag", () => {
    assert.equal(
      conditionKey({ kind: "ensemble", generators: ["qwq", "dapo"], evaluators: ["oss"], tag: "alternate", variant: "full" }),
      "ensemble|gen=qwq+dapo|eval=oss|tag=alternate|full",
    );
  });
});

describe("writeSummary", () => {
  test("writes summary.csv and report.md", async () => {
    const dir = tmp();
    const recs = [rec({ target: "A", answer: "1", correct: true }), rec({ target: "B", answer: "1", correct: true })];
    await writeSummary(dir, buildReport(recs));
    const csv = readFileSync(join(dir, "summary.csv"), "utf8");
    assert.match(csv, /^condition_key,condition,variant,reading,metric,target_a,target_b,value,n\n/);
    assert.match(csv, /paper,consistency_mean,,,1,1\n/);
    const md = readFileSync(join(dir, "report.md"), "utf8");
    assert.match(md, /\| Transfer\(QwQ\) \| full \| 1\.000 ± 0\.000 \| 1\.000 ± 0\.000 \| 1 \| 0 \|/);
  });
});

describe("slim reads", () => {
  test("a record's chain is cut from its bytes: every other field parses as written, whatever the chain holds (property)", async () => {
    const fc = (await import("fast-check")).default;
    const { withoutChain } = await import("../../src/results/store.js");
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: "grapheme" }), fc.constantFrom('a","cot":"b', "\\", '\\"', 'x\\\\"', '{"cot":"', "\n\u2028")),
        fc.dictionary(fc.constantFrom("cot", "note", "x"), fc.string()),
        (cot, meta) => {
          const full = rec({ cot, meta });
          const line = Buffer.from(JSON.stringify(full));
          const cut = JSON.parse(withoutChain(line).toString("utf8"));
          const { cot: _dropped, ...rest } = full;
          assert.deepEqual(cut, JSON.parse(JSON.stringify(rest)));
        },
      ),
      { numRuns: 300 },
    );
  });

  test("a chain nested deeper than the record, or a line that is not whole, is left as it is", async () => {
    const { withoutChain } = await import("../../src/results/store.js");
    const nested = Buffer.from('{"a":{"b":1,"cot":"kept"},"c":2}');
    assert.equal(withoutChain(nested).toString(), nested.toString());
    const torn = Buffer.from('{"schema":1,"cot":"abc');
    assert.equal(withoutChain(torn).toString(), torn.toString());
  });

  test("readResults slim returns records without chains and the same issues", () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-slim-"));
    return (async () => {
      await appendResults(dir, [rec({ cot: 'a "quoted" chain, with ,"cot":" inside' }), rec({ problemId: "354", cot: "b" })]);
      appendFileSync(join(dir, RESULTS_FILE), '{"schema":1,"cot":"torn');
      const slim = await readResults(dir, { slim: true });
      const full = await readResults(dir);
      assert.deepEqual(
        slim.records,
        full.records.map(({ cot: _c, ...r }) => r),
      );
      assert.equal(full.records[0]!.cot, 'a "quoted" chain, with ,"cot":" inside');
      assert.deepEqual(slim.issues, full.issues);
      assert.equal(slim.issues.length, 1);
    })();
  });
});
