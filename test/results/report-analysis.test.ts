// The report's additions on the paper's own output files: the notebook's split checked against
// the notebook's code, Default (greedy) from self-transfer, the target filter, bootstrap
// intervals and the paired comparison.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const OUTPUTS = join(ROOT, "..", "shared", "data", "genex", "medcalc", "outputs");
const CODE = join(ROOT, "..", "shared", "reference", "genex-code");
const skip = existsSync(OUTPUTS) ? false : "needs ../shared/data/genex";
const havePython = spawnSync("python3", ["-c", "import numpy"]).status === 0 && existsSync(CODE);

function concord(...args: string[]) {
  const r = spawnSync(process.execPath, ["test/concord-from-source.mjs", ...args], { cwd: ROOT, env: { ...process.env }, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir = "";
interface JsonCondition {
  key: string;
  label: string;
  variant: string;
  condition: { kind: string; tag?: string };
  targets: { id: string; label: string }[];
  accuracy: { target: string; accuracy: number }[];
  notebook: Record<string, { mean: number } | null>;
  intervals?: Record<string, { value: number; low: number; high: number } | null>;
}
let conditions: JsonCondition[] = [];

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), "concord-report-"));
  assert.equal(concord("import", "genex", OUTPUTS, "--out", dir).code, 0);
  const r = concord("report", dir, "--json");
  assert.equal(r.code, 0, r.stderr);
  conditions = JSON.parse(r.stdout).conditions;
});

test(
  "the notebook's agreement split equals what check_consistency_detailed computes on the same files",
  { skip: skip || (!havePython && "needs python3") },
  () => {
    const py = spawnSync("python3", [join(ROOT, "test", "oracle", "notebook_split.py"), CODE, OUTPUTS], { encoding: "utf8" });
    assert.equal(py.status, 0, py.stderr);
    const notebook = JSON.parse(py.stdout) as Record<string, Record<string, number>>;
    const byName: Record<string, string> = {
      Empty: "empty|full",
      "Transfer CoT QwQ full text": "transfer|source=Qwen/QwQ-32B|full",
      "Transfer CoT QwQ without ans": "transfer|source=Qwen/QwQ-32B|without-answer",
      "Ensemble CoT QwQ + DAPO/OSS full text": "ensemble|gen=qwq+dapo|eval=oss|full",
      "Ensemble CoT QwQ + DAPO/OSS without ans": "ensemble|gen=qwq+dapo|eval=oss|without-answer",
    };
    assert.deepEqual(Object.keys(notebook).sort(), Object.keys(byName).sort());
    for (const [name, key] of Object.entries(byName)) {
      const c = conditions.find((x) => x.key === key);
      assert.ok(c, `no condition ${key} (have ${conditions.map((x) => x.key).join("; ")})`);
      for (const cat of ["consistent_correct", "consistent_wrong", "consistent_mixed", "inconsistent"]) {
        const want = notebook[name][cat];
        const got: { mean: number } | null = c.notebook[cat];
        if (want === undefined) assert.equal(got, null, `${name} ${cat}`);
        else assert.ok(got && Math.abs(got.mean - want) < 1e-12, `${name} ${cat}: ${got?.mean} != ${want}`);
      }
    }
  },
);

test("Default (greedy) rows come from the self-transfer records (source = target)", { skip }, () => {
  const rows = conditions.filter((c) => c.condition.kind === "default-greedy");
  assert.deepEqual(rows.map((c) => c.variant).sort(), ["full", "without-answer"]);
  for (const r of rows) {
    assert.equal(r.condition.tag, "self-transfer");
    // The shared files hold one self-transfer (QwQ to QwQ): its accuracy is QwQ's in those files.
    assert.deepEqual(
      r.targets.map((t) => t.label),
      ["QwQ"],
    );
  }
  assert.equal(rows.find((r) => r.variant === "without-answer")!.accuracy[0].accuracy, 0.38);
});

test("bootstrap intervals hold their point value and are the same on every run", { skip }, () => {
  for (const c of conditions) {
    for (const i of Object.values(c.intervals ?? {})) {
      if (!i) continue;
      assert.ok(i.low <= i.value && i.value <= i.high && i.high - i.low < 0.3, `${c.key}: ${JSON.stringify(i)}`);
    }
  }
  const again = JSON.parse(concord("report", dir, "--json").stdout).conditions as JsonCondition[];
  assert.deepEqual(
    again.map((c) => c.intervals),
    conditions.map((c) => c.intervals),
  );
});

test("--targets keeps the named targets (ids, labels or the paper preset) and names an unknown one", { skip }, () => {
  const two = JSON.parse(concord("report", dir, "--json", "--no-intervals", "--targets", "QwQ,openai/gpt-oss-20b").stdout).conditions as JsonCondition[];
  const empty = two.find((c) => c.key === "empty|full")!;
  assert.deepEqual(empty.targets.map((t) => t.label).sort(), ["OSS", "QwQ"]);
  const paper = JSON.parse(concord("report", dir, "--json", "--no-intervals", "--targets", "paper").stdout).conditions as JsonCondition[];
  assert.equal(paper.find((c) => c.key === "empty|full")!.targets.length, 5);
  const bad = concord("report", dir, "--targets", "Llama");
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /no target "Llama"/);
});

test("--compare: removing the answer from QwQ's transferred chain lowers consistency, paired over items", { skip }, () => {
  const r = concord("report", dir, "--no-intervals", "--compare", "Transfer(QwQ), full", "Transfer(QwQ), w/o answer");
  assert.equal(r.code, 0, r.stderr);
  const line = r.stdout.split("\n").find((l) => l.trim().startsWith("consistency"))!;
  assert.match(line, /-0\.\d{3}\s+95% CI \[-0\.\d{3}, -0\.\d{3}\]\s+p < 0\.001/);
  const json = JSON.parse(
    concord("report", dir, "--json", "--no-intervals", "--compare", "transfer|source=Qwen/QwQ-32B|full", "transfer|source=Qwen/QwQ-32B|without-answer").stdout,
  );
  // Items where both readings kept at least one pair (strict skips crashed answers).
  assert.ok(json.comparison.results[0].items >= 90 && json.comparison.results[1].items === 100, JSON.stringify(json.comparison.results));
  assert.equal(concord("report", dir, "--compare", "Nothing", "Empty").code, 1);
});
