// `concord run` as a user runs it, on the real embedded model: killed with SIGKILL mid-run and
// restarted, it ends with every record exactly once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readResults } from "../../src/results/store.js";
import { resultKey } from "../../src/results/schema.js";
import { anyModelFile } from "../support/models.js";

const ROOT = new URL("../..", import.meta.url).pathname;
const BIN = join(ROOT, "test", "concord-from-source.mjs");
const env = {
  ...process.env,
  CONCORD_MODEL: anyModelFile(),
  CONCORD_MODELS: "",
  CONCORD_CONFIG_DIR: mkdtempSync(join(tmpdir(), "concord-cfg-")),
};

function writeSpec(dir: string): string {
  const file = join(dir, "exp.yaml");
  writeFileSync(
    file,
    [
      "name: kill-test",
      "problems: { set: builtin }",
      "conditions:",
      "  - empty",
      "  - { kind: transfer, source: src, variants: [full, without-answer] }",
      "  - { kind: ensemble, generators: [src, a], evaluators: [b], k: 2, maxSentences: 2 }",
      "targets: [a, b, c]",
      "sanitizer: rules",
      "cot: { maxTokens: 60 }",
      "answerTokens: 24",
      "concurrency: { global: 2, perModel: 1 }",
      "out: results",
    ].join("\n"),
  );
  return file;
}

const lines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean).length : 0);

test("SIGKILL mid-run, then run again: no record lost, none duplicated", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "concord-run-"));
  const spec = writeSpec(dir);
  const results = join(dir, "results", "results.jsonl");
  const expected = 5 * 4 * 3; // 5 builtin problems x 4 condition variants x 3 targets

  const child = spawn(process.execPath, [BIN, "run", spec], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  const t0 = Date.now();
  while (lines(results) < 8 && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 20));
  child.kill("SIGKILL");
  await exited;
  const before = lines(results);
  assert.ok(before >= 8 && before < expected, `killed after ${before} records; stderr: ${stderr.slice(-300)}`);

  const again = spawnSync(process.execPath, [BIN, "run", spec, "--json"], { env, encoding: "utf8", timeout: 45_000 });
  assert.equal(again.status, 0, again.stderr);
  const summary = JSON.parse(again.stdout.trim().split("\n").at(-1)!);
  assert.equal(summary.total, expected);
  const { records } = await readResults(join(dir, "results"));
  assert.equal(records.length, expected);
  assert.equal(new Set(records.map(resultKey)).size, expected);
  // Only records the killed run had not finished were written by the second run (a torn line
  // left by the kill is not a record).
  assert.equal(summary.written + summary.skipped, expected);
  assert.ok(summary.skipped >= before - 1);
  assert.ok(existsSync(join(dir, "results", "report.md")));
});

test("a bad spec is one line naming the file and field, exit code 1", () => {
  const dir = mkdtempSync(join(tmpdir(), "concord-run-"));
  const file = join(dir, "bad.yaml");
  writeFileSync(file, "problems: { set: builtin }\nconditions: [{ kind: transfer }]\ntargets: [a]\nout: o\n");
  const r = spawnSync(process.execPath, [BIN, "run", file], { env, encoding: "utf8" });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^concord: .*bad\.yaml: conditions\[0\]\.source: /);
  assert.equal(r.stderr.trim().split("\n").length, 1);
});

test("Ctrl-C (SIGINT) stops cleanly: exit 130, every line a whole record", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "concord-run-"));
  const spec = writeSpec(dir);
  const results = join(dir, "results", "results.jsonl");
  const child = spawn(process.execPath, [BIN, "run", spec], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const code = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  const t0 = Date.now();
  while (lines(results) < 4 && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 20));
  child.kill("SIGINT");
  assert.equal(await code, 130, stderr.slice(-300));
  assert.match(stderr, /stopping/);
  const text = readFileSync(results, "utf8");
  assert.ok(text.endsWith("\n"));
  const { records, issues } = await readResults(join(dir, "results"));
  assert.equal(issues.length, 0);
  assert.equal(records.length, text.split("\n").filter(Boolean).length);
});

test("bad experiment inputs are one line before any model is loaded: curated chains, out: a file", { timeout: 30_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "concord-run-inputs-"));
  // A model file that does not exist: reaching it would be a different error.
  const noModel = { ...env, CONCORD_MODEL: join(dir, "absent.gguf") };
  writeFileSync(join(dir, "chains.jsonl"), JSON.stringify({ problemId: "demo-1", cot: "3 + 4 = 7." }) + "\n");
  const spec = (cots: string, out: string) => {
    const file = join(dir, `exp-${cots.replace(/\W/g, "")}-${out.replace(/\W/g, "")}.yaml`);
    writeFileSync(
      file,
      `problems: { set: builtin, ids: [demo-1, demo-2] }\nconditions:\n  - { kind: transfer, source: curated, cots: ${cots} }\ntargets: [a]\nout: ${out}\n`,
    );
    return file;
  };
  const run = (file: string) => spawnSync(process.execPath, [BIN, "run", file], { env: noModel, encoding: "utf8", timeout: 20_000 });

  const missing = run(spec("nope.jsonl", "results"));
  assert.equal(missing.status, 1);
  assert.equal(missing.stderr, `concord: ${join(dir, "nope.jsonl")}: no such file or folder (transfer cots)\n`);

  const partial = run(spec("chains.jsonl", "results"));
  assert.equal(partial.status, 1);
  assert.equal(partial.stderr, `concord: ${join(dir, "chains.jsonl")}: no chain for problem "demo-2" (transfer cots of source "curated")\n`);

  writeFileSync(join(dir, "taken"), "a file, not a folder\n");
  const outFile = run(spec("chains.jsonl", "taken"));
  assert.equal(outFile.status, 1);
  assert.equal(outFile.stderr, `concord: ${join(dir, "taken")}: exists and is not a folder (out: names the results folder to write)\n`);
});
