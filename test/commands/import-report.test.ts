import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync, appendFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { readResults } from "../../src/results/index.js";
import { needsShared } from "../support/shared.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const OUTPUTS = "../shared/data/genex/medcalc/outputs";

function concord(...args: string[]) {
  const r = spawnSync(process.execPath, ["test/concord-from-source.mjs", ...args], {
    cwd: ROOT,
    env: { ...process.env },
    encoding: "utf8",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const PAIRS = {
  OSS: "openai/gpt-oss-20b",
  DAPO: "BytedTsinghua-SIA/DAPO-Qwen-32B",
  QwQ: "Qwen/QwQ-32B",
  OpenT: "open-thoughts/OpenThinker-7B",
  NRR: "nvidia/Nemotron-Research-Reasoning-Qwen-1.5B",
};

// The table in ../shared/data/genex/README.md.
const EXPECTED = [
  { kind: "empty", variant: "full", label: "Empty", text: "full", paper: "0.302 ± 0.157", acc: [45, 38, 36, 18, 10] },
  { kind: "transfer", variant: "full", label: "Transfer\\(QwQ\\)", text: "full", paper: "0.870 ± 0.030", strict: "0.902 ± 0.019", acc: [40, 41, 41, 40, 40] },
  {
    kind: "transfer",
    variant: "without-answer",
    label: "Transfer\\(QwQ\\)",
    text: "w/o answer",
    paper: "0.638 ± 0.080",
    strict: "0.673 ± 0.091",
    acc: [39, 37, 38, 37, 34],
  },
  { kind: "ensemble", variant: "full", label: "Ensemble\\(QwQ\\+DAPO/OSS\\)", text: "full", paper: "0.883 ± 0.044", acc: [39, 40, 39, 39, 40] },
  { kind: "ensemble", variant: "without-answer", label: "Ensemble\\(QwQ\\+DAPO/OSS\\)", text: "w/o answer", paper: "0.657 ± 0.141", acc: [41, 40, 41, 37, 39] },
];

describe("import genex + report on the published outputs", { skip: needsShared("data/genex/medcalc/outputs") }, () => {
  const out = mkdtempSync(join(tmpdir(), "concord-import-"));
  let imported: ReturnType<typeof concord>;
  before(() => {
    imported = concord("import", "genex", OUTPUTS, "--out", out);
  });

  test("imports every line of the 25 files", () => {
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /^Imported 2500 records from 25 files into /);
    assert.doesNotMatch(imported.stderr, /concord:/);
  });

  test("report prints exactly the README's numbers", () => {
    const r = concord("report", out);
    assert.equal(r.code, 0, r.stderr);
    for (const e of EXPECTED) {
      const cons = new RegExp(`^${e.label}\\s+${e.text}\\s+${e.paper}${e.strict ? `\\s+${e.strict}` : ""}\\s`, "m");
      assert.match(r.stdout, cons);
      const acc = new RegExp(`^${e.label}\\s+${e.text}\\s+${e.acc.join("\\s+")}$`, "m");
      assert.match(r.stdout, acc);
    }
    assert.match(r.stdout, /variant\s+OSS\s+DAPO\s+QwQ\s+OpenT\s+NRR$/m);
    for (const line of r.stdout.split("\n")) assert.ok([...line].length <= 80, `wider than 80: ${line}`);
  });

  test("report says how the without-answer chains were made, and which published cells need files that are not here", () => {
    const r = concord("report", out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^  Transfer\(QwQ\): o4-mini, authors' request, used as is \(100\)$/m);
    // Only QwQ's self-transfer files are shared: Default (greedy) has one target of five.
    assert.match(
      r.stdout,
      /^  Default greedy \[self-transfer\], w\/o answer: answers from QwQ only\n    needs <T>_thoughts_to_<T>_zero_shot_without_answer\.jsonl\n    for T = OSS, DAPO, OpenT, NRR$/m,
    );
    assert.match(r.stdout, /^  Default \(sampled\): no records$/m);
    assert.doesNotMatch((r.stdout.split("cannot give")[1] ?? "").split("\n\n")[0]!, /Transfer|Ensemble|Empty/);
    const json = JSON.parse(concord("report", out, "--json").stdout) as { uncomputablePaperCells: Array<{ label: string; missing: string[] }> };
    assert.deepEqual(
      json.uncomputablePaperCells.map((c) => [c.label, c.missing.length]),
      [
        ["Default greedy [self-transfer]", 4],
        ["Default greedy [self-transfer]", 4],
        ["Default (sampled)", 5],
      ],
    );
  });

  test("report --json gives the same data", () => {
    const r = concord("report", out, "--json");
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout) as {
      conditions: Array<{
        condition: { kind: string; variant: string; source?: string; generators?: string[]; evaluators?: string[] };
        paper: { consistency: { mean: number; std: number; n: number } };
        strict: { consistency: { mean: number; std: number } };
        accuracy: Array<{ target: string; accuracy: number }>;
      }>;
    };
    // The five published conditions, and Default (greedy) full / w/o answer from the self-transfer files.
    assert.equal(json.conditions.length, 7);
    for (const e of EXPECTED) {
      const c = json.conditions.find((x) => x.condition.kind === e.kind && x.condition.variant === e.variant)!;
      assert.ok(c, `${e.kind}/${e.variant}`);
      const ms = (m: { mean: number; std: number }) => `${m.mean.toFixed(3)} ± ${m.std.toFixed(3)}`;
      assert.equal(ms(c.paper.consistency), e.paper);
      assert.equal(c.paper.consistency.n, 10);
      if (e.strict) assert.equal(ms(c.strict.consistency), e.strict);
      const acc = Object.values(PAIRS).map((id) => Math.round(c.accuracy.find((a) => a.target === id)!.accuracy * 100));
      assert.deepEqual(acc, e.acc);
    }
    const t = json.conditions.find((x) => x.condition.kind === "transfer")!;
    assert.equal(t.condition.source, "Qwen/QwQ-32B");
    const en = json.conditions.find((x) => x.condition.kind === "ensemble")!;
    assert.deepEqual([en.condition.generators, en.condition.evaluators], [["qwq", "dapo"], ["oss"]]);
  });

  test("the folder holds summary.csv and report.md", () => {
    assert.match(readFileSync(join(out, "report.md"), "utf8"), /\| Transfer\(QwQ\) \| full \| 0\.870 ± 0\.030 \| 0\.902 ± 0\.019 \|/);
    assert.match(readFileSync(join(out, "summary.csv"), "utf8"), /consistency_mean/);
  });

  test("importing again adds nothing (resume by key)", () => {
    const again = concord("import", "genex", OUTPUTS, "--out", out, "--json");
    assert.equal(again.code, 0, again.stderr);
    const s = JSON.parse(again.stdout);
    assert.equal(s.written, 0);
    assert.equal(s.alreadyPresent, 2500);
  });
});

describe("bad input", { skip: needsShared("data/genex/medcalc/outputs") }, () => {
  test("truncated line, missing field and unknown name: named, others imported, exit 1", async () => {
    const src = mkdtempSync(join(tmpdir(), "concord-genex-bad-"));
    const out = join(src, "results");
    const transferName = "Qwen_QwQ-32B_thoughts_to_openai_gpt-oss-20b_zero_shot_full.jsonl";
    const transferLines = readFileSync(join(ROOT, OUTPUTS, transferName), "utf8")
      .split("\n")
      .slice(0, 4);
    writeFileSync(join(src, transferName), transferLines.slice(0, 3).join("\n") + "\n" + transferLines[3].slice(0, 200));
    const emptyName = "Qwen_QwQ-32B_zero_shot_empty.jsonl";
    const emptyLines = readFileSync(join(ROOT, OUTPUTS, emptyName), "utf8")
      .split("\n")
      .slice(0, 3)
      .map((l) => JSON.parse(l));
    delete emptyLines[1]["LLM Answer"];
    writeFileSync(join(src, emptyName), emptyLines.map((x) => JSON.stringify(x)).join("\n") + "\n");
    writeFileSync(join(src, "Qwen_QwQ-32B_zero_shot_mystery.jsonl"), "{}\n");

    const r = concord("import", "genex", src, "--out", out);
    assert.equal(r.code, 1);
    const lines = r.stderr.split("\n").filter((l) => l.startsWith("concord:"));
    // Files are read in name order.
    assert.deepEqual(
      lines.map((l) => l.replace(src + "/", "")),
      [
        `concord: ${transferName}:4: truncated last line (incomplete JSON)`,
        `concord: ${emptyName}:2: missing field "LLM Answer"`,
        "concord: skipped Qwen_QwQ-32B_zero_shot_mystery.jsonl: not a genex output file name",
      ],
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /); // no stack trace
    const { records } = await readResults(out);
    assert.equal(records.length, 5); // 3 transfer + 2 empty lines
  });

  test("report names a bad line, still prints, exits 1", () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-report-bad-"));
    mkdirSync(dir, { recursive: true });
    const rec = (target: string, answer: string) => ({
      schema: 1,
      condition: { kind: "empty", variant: "full" },
      target,
      problemId: "1",
      dataset: "d",
      reference: { kind: "exact", value: "x" },
      answerRaw: answer,
      answer,
      correct: false,
      meta: {},
    });
    writeFileSync(join(dir, "results.jsonl"), JSON.stringify(rec("a/A", "1")) + "\n" + '{"schema": 1}\n' + JSON.stringify(rec("b/B", "1")) + "\n");
    appendFileSync(join(dir, "results.jsonl"), '{"schema": 1, "cond');
    const r = concord("report", dir);
    assert.equal(r.code, 1);
    const errs = r.stderr.trim().split("\n");
    assert.equal(errs.length, 2);
    assert.match(errs[0], /results\.jsonl:2: field condition: .*skipped$/);
    assert.match(errs[1], /results\.jsonl:4: torn last line/);
    assert.match(r.stdout, /^Empty\s+full\s+1\.000 ± 0\.000/m);
  });

  test("a folder without genex files is one line naming what was expected; nothing is written", () => {
    const src = mkdtempSync(join(tmpdir(), "concord-genex-none-"));
    writeFileSync(join(src, "notes.jsonl"), "{}\n");
    const out = join(src, "x2");
    const r = concord("import", "genex", src, "--out", out);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `concord: no genex output files found in ${src} (expected names like Qwen_QwQ-32B_zero_shot_empty.jsonl or Qwen_QwQ-32B_thoughts_to_openai_gpt-oss-20b_zero_shot_full.jsonl)\n`,
    );
    assert.equal(r.stdout, "");
    assert.equal(existsSync(out), false);
  });

  test("report of a folder that is not a results folder is one line; a badly damaged file shows 10 lines and a count", () => {
    const notResults = mkdtempSync(join(tmpdir(), "concord-not-results-"));
    for (let i = 0; i < 5; i++) writeFileSync(join(notResults, `data${i}.jsonl`), '{"question": "q", "answer": "a"}\n'.repeat(100));
    const r = concord("report", notResults);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `concord: ${notResults}: not a results folder (no results.jsonl)\n`);

    const damaged = mkdtempSync(join(tmpdir(), "concord-damaged-"));
    const good = {
      schema: 1,
      condition: { kind: "empty", variant: "full" },
      target: "a/A",
      problemId: "1",
      dataset: "d",
      reference: { kind: "exact", value: "x" },
      answerRaw: "x",
      answer: "x",
      correct: true,
      meta: {},
    };
    writeFileSync(join(damaged, "results.jsonl"), JSON.stringify(good) + "\n" + "not json\n".repeat(40));
    const d = concord("report", damaged);
    assert.equal(d.code, 1);
    const lines = d.stderr.trim().split("\n");
    assert.equal(lines.length, 11);
    assert.match(lines[0], /results\.jsonl:2: not valid JSON, skipped$/);
    assert.equal(lines[10], "concord: ... and 30 more bad lines");
    assert.match(d.stdout, /^Empty\s+full/m);
  });

  test("import --out naming a file is one line", () => {
    const file = join(mkdtempSync(join(tmpdir(), "concord-out-file-")), "taken");
    writeFileSync(file, "x\n");
    const r = concord("import", "genex", OUTPUTS, "--out", file);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `concord: --out: ${file}: not a folder (a results folder holds results.jsonl)\n`);
  });

  test("a missing folder is one line, exit 1", () => {
    const r = concord("import", "genex", "/nonexistent/folder", "--out", join(tmpdir(), "x"));
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), "concord: /nonexistent/folder: cannot read this folder");
    const rep = concord("report", "/nonexistent/results");
    assert.equal(rep.code, 1);
    assert.equal(rep.stderr.trim(), "concord: /nonexistent/results: no such results folder");
  });
});
