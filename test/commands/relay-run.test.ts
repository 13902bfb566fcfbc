// A relay experiment as a user runs it, on the real embedded model: the call count is said
// first, a SIGKILL mid-run loses and duplicates nothing, a rerun into a fresh folder is served
// by the response cache with 0 model calls, and `concord report` reads the folder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readRelayRecords, relayRecordKey } from "../../src/results/relay-store.js";
import { anyModelFile } from "../support/models.js";

const ROOT = new URL("../..", import.meta.url).pathname;
const BIN = join(ROOT, "test", "concord-from-source.mjs");
const dir = mkdtempSync(join(tmpdir(), "concord-relay-run-"));
const env = {
  ...process.env,
  CONCORD_MODEL: anyModelFile(),
  CONCORD_MODELS: "",
  CONCORD_CONFIG_DIR: mkdtempSync(join(tmpdir(), "concord-cfg-")),
  CONCORD_CACHE_DIR: join(dir, "cache"),
  CONCORD_NO_CACHE: "",
};

function writeSpec(out: string): string {
  const file = join(dir, `${out}.yaml`);
  writeFileSync(
    file,
    [
      "name: relay-kill",
      "problems: { set: builtin }",
      "conditions:",
      "  - { kind: relay, initiators: [init], continuers: [a, b], rule: quantile, samples: 2, maxTokens: 40, answerTokens: 12 }",
      "concurrency: { global: 2, perModel: 1 }",
      `out: ${out}`,
    ].join("\n"),
  );
  return file;
}

const lines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean).length : 0);
// Per problem: the initiator, two continuers alone, 2 continuers x 3 stages x 2 samples.
const expected = 5 * (1 + 2 + 12);

test("relay experiment: killed and resumed exactly once each, then served by the cache, then reported", { timeout: 120_000 }, async () => {
  const spec = writeSpec("first");
  const file = join(dir, "first", "relay.jsonl");
  const child = spawn(process.execPath, [BIN, "run", spec], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  const t0 = Date.now();
  while (lines(file) < 10 && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 20));
  child.kill("SIGKILL");
  await exited;
  assert.match(stderr, new RegExp(`^concord: experiment relay-kill: ${expected} records to write: ${2 * expected} model calls`, "m"));
  const before = lines(file);
  assert.ok(before >= 10 && before < expected, `killed after ${before} records; stderr: ${stderr.slice(-300)}`);

  const again = spawnSync(process.execPath, [BIN, "run", spec, "--json"], { env, encoding: "utf8", timeout: 60_000 });
  assert.equal(again.status, 0, again.stderr);
  const summary = JSON.parse(again.stdout.trim().split("\n").at(-1)!) as { total: number; written: number; skipped: number };
  assert.equal(summary.total, expected);
  assert.equal(summary.written + summary.skipped, expected);
  const { records } = await readRelayRecords(join(dir, "first"));
  assert.equal(records.length, expected);
  assert.equal(new Set(records.map(relayRecordKey)).size, expected);

  // The same experiment into a fresh folder: every chain and answer comes from the cache.
  const cached = spawnSync(process.execPath, [BIN, "run", writeSpec("second"), "--json"], { env, encoding: "utf8", timeout: 60_000 });
  assert.equal(cached.status, 0, cached.stderr);
  const s2 = JSON.parse(cached.stdout.trim().split("\n").at(-1)!) as { written: number; calls: number };
  assert.equal(s2.written, expected);
  assert.equal(s2.calls, 0);

  const report = spawnSync(process.execPath, [BIN, "report", join(dir, "second"), "--json"], { env, encoding: "utf8", timeout: 60_000 });
  assert.equal(report.status, 0, report.stderr);
  const relay = (JSON.parse(report.stdout) as { relay: { cells: unknown[]; records: number } }).relay;
  assert.equal(relay.records, expected);
  assert.equal(relay.cells.length, 2 * 3);
});
