import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { oneLineText, parseFields, parseLimit, truncateToWidth } from "../../src/commands/problems.js";
import { needsShared } from "../support/shared.js";

const ROOT = join(import.meta.dirname, "..", "..");
const FIX = "test/fixtures/problems";
const SHARED = "../shared/data";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function concord(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["test/concord-from-source.mjs", ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const lines = (text: string) => text.split("\n").filter((l) => l !== "");

describe("concord problems", { concurrency: 2 }, () => {
  test("builtin: the demo set, exit 0", async () => {
    const r = await concord("problems", "builtin");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    const out = lines(r.stdout);
    assert.equal(out.length, 5);
    assert.match(out[0], /^demo-1\s+number\s+7\s+Tom has 3 apples/);
    const viaSet = await concord("problems", "--set", "demo", "--json");
    assert.equal(viaSet.code, 0);
    assert.deepEqual(
      lines(viaSet.stdout).map((l) => JSON.parse(l).id),
      ["demo-1", "demo-2", "demo-3", "demo-4", "demo-5"],
    );
  });

  test("MedCalc-Bench CSV as JSON Lines with a limit", { skip: needsShared("data") }, async () => {
    const r = await concord("problems", `${SHARED}/medcalc-bench/test_data.csv`, "--json", "--limit", "3");
    assert.equal(r.code, 0, r.stderr);
    const out = lines(r.stdout).map((l) => JSON.parse(l));
    assert.deepEqual(
      out.map((p) => p.id),
      ["1", "2", "3"],
    );
    assert.deepEqual(out[0].reference, { kind: "decimal", value: "25.238", lower: 23.9761, upper: 26.4999 });
    assert.equal(out[0].messages.length, 2);
  });

  test("GSM8K: every problem listed, one line each", { skip: needsShared("data") }, async () => {
    const r = await concord("problems", `${SHARED}/gsm8k/test.jsonl`);
    assert.equal(r.code, 0, r.stderr);
    const out = lines(r.stdout);
    assert.equal(out.length, 1319);
    assert.match(out[0], /^0\s+number\s+18\s+Janet’s ducks/);
  });

  test("Instruction Induction folder", { skip: needsShared("data") }, async () => {
    const r = await concord("problems", `${SHARED}/instruction-induction`, "-n", "2");
    assert.equal(r.code, 0, r.stderr);
    const out = lines(r.stdout);
    assert.equal(out.length, 2);
    assert.match(out[0], /^active_to_passive-1\s+free\s+output the passive form of the input \(\+7 more\)/);
  });

  test("bad rows: one line each on stderr, good rows on stdout, exit 1", async () => {
    const r = await concord("problems", `${FIX}/medcalc-bad-rows.csv`);
    assert.equal(r.code, 1);
    const out = lines(r.stdout);
    assert.deepEqual(
      out.map((l) => l.split(/\s+/)[0]),
      ["1", "5", "8", "9"],
    );
    // Escape sequences from the file never reach the terminal.
    assert.ok(!r.stdout.includes("\u001b"));
    assert.match(out[3], /What is the score\?$/);
    const err = lines(r.stderr);
    assert.equal(err.length, 7);
    assert.equal(err[0], 'concord: medcalc-bad-rows.csv row 2 (line 3): field "Ground Truth Answer" is empty');
    assert.equal(err[6], "concord: 6 bad rows skipped, 4 problems listed");
    assert.ok(!r.stderr.includes("    at "), "no stack trace");
  });

  test("unusable files: one clear line, exit 1, no stack", async () => {
    const cases: Array<[string[], RegExp]> = [
      [[`${FIX}/medcalc-missing-column.csv`], /^concord: medcalc-missing-column\.csv: missing column "Question"/],
      [[`${FIX}/latin1.csv`], /^concord: latin1\.csv line 4: text is not valid UTF-8/],
      [[`${FIX}/no-such-file.csv`], /no-such-file\.csv: no such file or folder$/],
    ];
    const runs = await Promise.all(cases.map(([args]) => concord("problems", ...args)));
    runs.forEach((r, i) => {
      assert.equal(r.code, 1, cases[i][0].join(" "));
      assert.equal(r.stdout, "");
      assert.equal(lines(r.stderr).length, 1, r.stderr);
      assert.match(r.stderr.trim(), cases[i][1]);
    });
  });

  test("generic files with --fields and --kind", async () => {
    const r = await concord("problems", `${FIX}/generic.jsonl`, "--fields", "id=key,question=ask,answer=ok", "--kind", "free", "--json");
    assert.equal(r.code, 1);
    const out = lines(r.stdout).map((l) => JSON.parse(l));
    assert.deepEqual(
      out.map((p) => [p.id, p.reference.kind]),
      [
        ["a", "free"],
        ["b", "free"],
      ],
    );
    assert.match(r.stderr, /generic\.jsonl line 3: field "key" repeats id a/);
  });

  test("--fields or --kind on a file read as a known dataset is a usage error, not silently ignored", { skip: needsShared("data") }, async () => {
    const [gsm, medcalc, builtin, forced] = await Promise.all([
      concord("problems", `${SHARED}/gsm8k/test.jsonl`, "--fields", "question=foo"),
      concord("problems", `${SHARED}/medcalc-bench/test_data.csv`, "--kind", "exact", "--limit", "1"),
      concord("problems", "builtin", "--fields", "answer=x"),
      // Asked to read it as generic JSONL, the mapping applies (and "foo" is in no row).
      concord("problems", `${SHARED}/gsm8k/test.jsonl`, "--format", "jsonl", "--fields", "question=foo", "--limit", "1"),
    ]);
    assert.equal(gsm.code, 2);
    assert.equal(gsm.stdout, "");
    assert.equal(
      gsm.stderr,
      `concord: --fields applies only to generic JSONL/CSV; ${SHARED}/gsm8k/test.jsonl is read as gsm8k (add --format jsonl or --format csv to map its fields yourself)\n`,
    );
    assert.equal(medcalc.code, 2);
    assert.match(medcalc.stderr, /^concord: --kind applies only to generic JSONL\/CSV; .* is read as medcalc /);
    assert.equal(builtin.code, 2);
    assert.match(builtin.stderr, /is read as builtin/);
    assert.notEqual(forced.code, 0);
    assert.match(forced.stderr, /"foo"/);
  });

  test("bad flags are usage errors; --help documents the JSON output", async () => {
    const [bad, help] = await Promise.all([concord("problems", "builtin", "--limit", "zero"), concord("problems", "--help")]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /expected a whole number/);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /JSON Lines: one full problem object/);
    assert.match(help.stdout, /"medcalc", "gsm8k", "induction",\s+"jsonl", "csv"/);
  });
});

describe("option parsers", () => {
  test("--fields takes ROLE=NAME pairs", () => {
    assert.deepEqual(parseFields("question=prompt, answer=target,id=uid"), { question: "prompt", answer: "target", id: "uid" });
    assert.throws(() => parseFields("nonsense"), /expected ROLE=NAME pairs/);
    assert.throws(() => parseFields("colour=red"), /ROLE one of question, answer, id, system/);
  });
  test("--limit takes a whole number of 1 or more", () => {
    assert.equal(parseLimit("12"), 12);
    for (const bad of ["0", "-1", "1.5", "ten", ""]) assert.throws(() => parseLimit(bad), /expected a whole number/);
  });
});

describe("terminal text helpers", () => {
  test("truncation counts display width", () => {
    assert.equal(truncateToWidth("hello world", 20), "hello world");
    assert.equal(truncateToWidth("hello world", 6), "hello…");
    assert.equal(truncateToWidth("日本語テキスト", 7), "日本語…");
  });
  test("escape sequences and line breaks are flattened", () => {
    assert.equal(oneLineText("a\u001b[31mred\u001b[0m\nnext\u0007line"), "ared next line");
  });
});
