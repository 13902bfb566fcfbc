import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { builtinProblems, detectFormat, loadAllProblems, loadProblems, RowError, sampleProblems, selectByIds } from "../../src/problems/index.js";
import { gradeAnswer } from "../../src/core/answers.js";
import { UserError } from "../../src/errors.js";
import { needsShared } from "../support/shared.js";

const ROOT = join(import.meta.dirname, "..", "..");
const SHARED = join(ROOT, "..", "shared", "data");
const FIX = join(ROOT, "test", "fixtures", "problems");
const MEDCALC = join(SHARED, "medcalc-bench", "test_data.csv");
const GSM8K = join(SHARED, "gsm8k", "test.jsonl");
const INDUCTION = join(SHARED, "instruction-induction");

describe("format recognition", () => {
  test("real datasets and fixtures", { skip: needsShared("data") }, async () => {
    assert.equal(await detectFormat(MEDCALC), "medcalc");
    assert.equal(await detectFormat(GSM8K), "gsm8k");
    assert.equal(await detectFormat(INDUCTION), "induction");
    assert.equal(await detectFormat(join(INDUCTION, "induction_input", "sum.json")), "induction");
    assert.equal(await detectFormat("builtin"), "builtin");
    assert.equal(await detectFormat("demo"), "builtin");
    assert.equal(await detectFormat(join(FIX, "generic.csv")), "csv");
    assert.equal(await detectFormat(join(FIX, "generic.jsonl")), "jsonl");
    assert.equal(await detectFormat(join(FIX, "bom-crlf.csv")), "medcalc");
  });
  test("unusable files are one-line UserErrors", async () => {
    await assert.rejects(detectFormat(join(FIX, "empty.csv")), { name: "UserError", message: "empty.csv: the file is empty" });
    await assert.rejects(detectFormat(join(FIX, "blank.jsonl")), /blank\.jsonl: the file is empty/);
    await assert.rejects(detectFormat(join(FIX, "nope.csv")), /nope\.csv: no such file or folder/);
    await assert.rejects(detectFormat(join(FIX, "binary.bin")), /binary\.bin: text is not valid UTF-8/);
    await assert.rejects(detectFormat(FIX), /not an Instruction Induction dataset/);
  });
});

describe("MedCalc-Bench", () => {
  test("all 1,047 rows load with the paper's prompt, kinds and limits", { skip: needsShared("data") }, async () => {
    const { problems, errors } = await loadAllProblems(MEDCALC);
    assert.equal(errors.length, 0);
    assert.equal(problems.length, 1047);
    const first = problems[0];
    assert.equal(first.id, "1");
    assert.equal(first.source, "medcalc-bench");
    assert.equal(first.messages[0].role, "system");
    assert.match(first.messages[0].content, /only contain a JSON dict formatted as \{"step_by_step_thinking"/);
    assert.match(first.messages[1].content, /^Here is the patient note:\nAn 87-year-old man/);
    assert.match(first.messages[1].content, /\n\nHere is the task:\nWhat is the patient's Creatinine Clearance/);
    assert.deepEqual(first.reference, { kind: "decimal", value: "25.238", lower: 23.9761, upper: 26.4999 });
    assert.equal(first.meta.calculatorId, 2);
    assert.equal(first.meta.outputType, "decimal");
    assert.equal(first.meta.noteId, "pmc-7671985-1");
    const kinds = new Map<string, number>();
    for (const p of problems) kinds.set(p.reference.kind, (kinds.get(p.reference.kind) ?? 0) + 1);
    assert.equal(kinds.get("date"), 40);
    assert.equal(kinds.get("weeks_days"), 20);
    // Every loaded reference grades its own ground truth as correct, through the JSON answer format.
    for (const p of problems) assert.ok(gradeAnswer(JSON.stringify({ answer: p.reference.value }), p.reference).correct, p.id);
  });

  test("bad rows are reported one line each; the good rows still load", async () => {
    const { problems, errors } = await loadAllProblems(join(FIX, "medcalc-bad-rows.csv"));
    assert.deepEqual(
      problems.map((p) => p.id),
      ["1", "5", "8", "9"],
    );
    assert.deepEqual(
      errors.map((e) => e.message),
      [
        'medcalc-bad-rows.csv row 2 (line 3): field "Ground Truth Answer" is empty',
        "medcalc-bad-rows.csv row 3 (line 4): has 8 fields, expected 14 like the header",
        'medcalc-bad-rows.csv row 4 (line 5): field "Ground Truth Answer" is not a date (MM/DD/YYYY): "13/45/2020"',
        errors[3].message,
        'medcalc-bad-rows.csv row 7 (line 8): field "Lower Limit" is empty (decimal calculators need limits)',
        'medcalc-bad-rows.csv row 9 (line 11): field "Row Number" repeats id 8',
      ],
    );
    assert.match(errors[3].message, /^medcalc-bad-rows\.csv row 6 \(line 7\): a quote appears inside an unquoted field/);
    assert.equal(errors[0].field, "Ground Truth Answer");
    assert.equal(errors[0].row, 2);
    for (const e of errors) assert.ok(!e.message.includes("\n"));
    const weeks = problems.find((p) => p.id === "5")!;
    assert.equal(weeks.reference.kind, "weeks_days");
  });

  test("missing column, BOM + CRLF, invalid UTF-8 part-way, unclosed quote", async () => {
    await assert.rejects(loadAllProblems(join(FIX, "medcalc-missing-column.csv")), {
      name: "UserError",
      message: /missing column "Question"/,
    });
    await assert.rejects(loadAllProblems(join(FIX, "medcalc-missing-column.csv"), { format: "medcalc" }), /missing column "Question"/);
    const bom = await loadAllProblems(join(FIX, "bom-crlf.csv"));
    assert.equal(bom.problems.length, 1);
    assert.equal(bom.problems[0].id, "1");
    assert.equal(bom.problems[0].messages[1].content.includes("\r"), false);
    await assert.rejects(loadAllProblems(join(FIX, "latin1.csv")), /latin1\.csv line 4: text is not valid UTF-8/);
    const unclosed = await loadAllProblems(join(FIX, "unclosed-quote.csv"));
    assert.deepEqual(
      unclosed.problems.map((p) => p.id),
      ["1"],
    );
    assert.equal(unclosed.errors.length, 1);
    assert.match(unclosed.errors[0].message, /^unclosed-quote\.csv row 2 \(line 3\): a quoted field/);
  });

  test("with neither onError nor errors the first bad row is thrown", async () => {
    const it = loadProblems(join(FIX, "medcalc-bad-rows.csv"));
    assert.equal((await it.next()).value?.id, "1");
    await assert.rejects(it.next(), (err: unknown) => err instanceof RowError && err.row === 2);
  });

  test("onError receives each bad row as it is found", async () => {
    const seen: string[] = [];
    let count = 0;
    for await (const p of loadProblems(join(FIX, "medcalc-bad-rows.csv"), { onError: (e) => seen.push(`${e.row}:${e.field ?? ""}`) })) {
      assert.ok(p.id);
      count++;
    }
    assert.equal(count, 4);
    assert.deepEqual(seen, ["2:Ground Truth Answer", "3:", "4:Ground Truth Answer", "6:", "7:Lower Limit", "9:Row Number"]);
  });
});

describe("GSM8K", () => {
  test("all 1,319 problems; id is the 0-based line index", { skip: needsShared("data") }, async () => {
    const { problems, errors } = await loadAllProblems(GSM8K);
    assert.equal(errors.length, 0);
    assert.equal(problems.length, 1319);
    assert.equal(problems[0].id, "0");
    assert.equal(problems[0].reference.kind, "number");
    assert.equal(problems[0].reference.value, "18");
    assert.equal(problems[1318].id, "1318");
    assert.match(problems[0].messages[1].content, /^Janet’s ducks/);
  });
  test("bad lines: invalid JSON, missing field, no ####, not an object", async () => {
    const { problems, errors } = await loadAllProblems(join(FIX, "gsm8k-bad.jsonl"));
    assert.deepEqual(
      problems.map((p) => [p.id, p.reference.value]),
      [
        ["0", "3"],
        ["6", "1250"],
      ],
    );
    assert.deepEqual(
      errors.map((e) => e.message.replace(/\(Expected.*\)$/, "(...)")),
      [
        "gsm8k-bad.jsonl line 2: is not valid JSON (...)",
        'gsm8k-bad.jsonl line 3: field "answer" is missing',
        'gsm8k-bad.jsonl line 5: field "answer" has no number after "####"',
        "gsm8k-bad.jsonl line 6: is not a JSON object",
      ],
    );
  });
  test("streams: problems arrive before the file ends", { skip: process.platform === "win32" }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-fifo-"));
    const fifo = join(dir, "live.jsonl");
    execFileSync("mkfifo", [fifo]);
    const writer = createWriteStream(fifo);
    try {
      for (let i = 0; i < 3; i++) writer.write(JSON.stringify({ question: `Q${i}?`, answer: `#### ${i}` }) + "\n");
      const got: string[] = [];
      // The writer stays open: a loader that read the whole file first would never return.
      for await (const p of loadProblems(fifo, { format: "gsm8k", errors: [] })) {
        got.push(p.reference.value);
        if (got.length === 3) break;
      }
      assert.deepEqual(got, ["0", "1", "2"]);
    } finally {
      writer.end();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Instruction Induction", () => {
  test("one problem per induction input, annotations as accepted answers", { skip: needsShared("data") }, async () => {
    const { problems, errors } = await loadAllProblems(INDUCTION);
    assert.equal(errors.length, 0);
    assert.equal(problems.length, 24 * 100);
    const p = problems.find((x) => x.id === "antonyms-1")!;
    assert.equal(p.source, "instruction-induction:antonyms");
    assert.equal(p.reference.kind, "free");
    assert.ok(p.reference.alternatives!.includes("output the opposite of"));
    assert.match(p.messages[0].content, /Input: informed\nOutput: uninformed/);
    assert.ok(gradeAnswer("Write an antonym of the following word:", p.reference).correct);
  });
  test("a single task file finds its annotations; bad tasks are reported", { skip: needsShared("data") }, async () => {
    const one = await loadAllProblems(join(INDUCTION, "induction_input", "sum.json"));
    assert.equal(one.problems.length, 100);
    const fix = await loadAllProblems(join(FIX, "induction"));
    assert.deepEqual(
      fix.problems.map((p) => p.id),
      ["opposites-1"],
    );
    assert.deepEqual(fix.problems[0].reference.alternatives, ["Write the opposite of the word.", "Give the antonym."]);
    assert.equal(fix.errors.length, 2);
    assert.match(fix.errors[0].message, /^opposites\.json: field "examples\.2\.input" is missing or empty$/);
    assert.match(fix.errors[1].message, /^orphan\.json: has no annotations file/);
  });
});

describe("generic JSONL and CSV", () => {
  test("CSV with guessed fields", async () => {
    const { problems, errors } = await loadAllProblems(join(FIX, "generic.csv"));
    assert.deepEqual(
      problems.map((p) => [p.id, p.reference.kind, p.reference.value]),
      [
        ["q1", "exact", "Paris"],
        ["q2", "number", "4"],
      ],
    );
    assert.deepEqual(
      errors.map((e) => e.message),
      ['generic.csv row 3 (line 4): field "prompt" is empty'],
    );
  });
  test("JSONL needs a mapping when names cannot be guessed; lists become alternatives", async () => {
    await assert.rejects(loadAllProblems(join(FIX, "generic.jsonl")), /no question field found .*"key", "ask", "ok"/);
    await assert.rejects(loadAllProblems(join(FIX, "generic.jsonl"), { fields: { question: "ask", answer: "missing" } }), /missing answer field "missing"/);
    const { problems, errors } = await loadAllProblems(join(FIX, "generic.jsonl"), { fields: { id: "key", question: "ask", answer: "ok", kind: "free" } });
    assert.deepEqual(
      problems.map((p) => p.id),
      ["a", "b"],
    );
    assert.deepEqual(problems[0].reference, { kind: "free", value: "red", alternatives: ["red", "blue", "yellow"] });
    assert.ok(gradeAnswer("Blue", problems[0].reference).correct);
    assert.deepEqual(
      errors.map((e) => e.message),
      ['generic.jsonl line 3: field "key" repeats id a'],
    );
  });
  test("a file read as the wrong format stops after 20 bad rows", { skip: needsShared("data") }, async () => {
    const errors: RowError[] = [];
    await assert.rejects(
      async () => {
        for await (const p of loadProblems(MEDCALC, { format: "gsm8k", errors })) assert.fail(`unexpected problem ${p.id}`);
      },
      { name: "UserError", message: /^test_data\.csv: the first 20 rows are all bad; is it really gsm8k/ },
    );
    assert.equal(errors.length, 20);
  });

  test("an explicit format overrides recognition", { skip: needsShared("data") }, async () => {
    const { problems } = await loadAllProblems(GSM8K, { format: "jsonl" });
    assert.equal(problems.length, 1319);
    assert.equal(problems[0].source, "test.jsonl");
    assert.equal(problems[0].reference.kind, "exact");
  });
});

describe("demo set and sampling", () => {
  test("the built-in set: five short problems that grade their own answers", () => {
    const demo = builtinProblems();
    assert.equal(demo.length, 5);
    assert.equal(demo[0].id, "demo-1");
    for (const p of demo) {
      assert.ok(p.messages.at(-1)!.content.length < 200);
      assert.ok(gradeAnswer(`Answer: ${p.reference.value}`, p.reference).correct, p.id);
      assert.ok(!gradeAnswer(`Answer: ${Number(p.reference.value) + 1}`, p.reference).correct, p.id);
    }
  });
  test("sampling is deterministic, without replacement, and seed-dependent", () => {
    const items = Array.from({ length: 1000 }, (_, i) => ({ id: String(i) }));
    const a = sampleProblems(items, 100, 42);
    const b = sampleProblems(items, 100, 42);
    const c = sampleProblems(items, 100, 7);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.equal(new Set(a.map((x) => x.id)).size, 100);
    assert.equal(sampleProblems(items, 5000, 1).length, 1000);
    assert.deepEqual(sampleProblems(items, 0, 1), []);
    assert.equal(items.length, 1000);
    assert.equal(items[0].id, "0");
  });
  test("selectByIds keeps the requested order and lists missing ids", () => {
    const items = builtinProblems();
    const { found, missing } = selectByIds(items, ["demo-3", "demo-1", "demo-9"]);
    assert.deepEqual(
      found.map((p) => p.id),
      ["demo-3", "demo-1"],
    );
    assert.deepEqual(missing, ["demo-9"]);
  });
  test("UserError is what unusable files raise", async () => {
    await assert.rejects(loadAllProblems(join(FIX, "empty.csv"), { format: "csv" }), (e: unknown) => e instanceof UserError);
  });
});
