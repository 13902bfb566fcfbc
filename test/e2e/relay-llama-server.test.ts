// A relay experiment and a sentence-importance run against the real llama-server (llama.cpp,
// ../shared/tools) serving the real 1 MB model: both complete, name the calls before making
// them, and run again from the response cache with 0 model calls.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { llamaServerMissing, startLlamaServer, type LlamaServer } from "./llama-server.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = join(root, "test", "concord-from-source.mjs");
const missing = llamaServerMissing();
const dir = mkdtempSync(join(tmpdir(), "concord-relay-llama-"));
const env = {
  ...process.env,
  CONCORD_MODEL: "",
  CONCORD_MODELS: "",
  CONCORD_NO_CACHE: "",
  CONCORD_CONFIG_DIR: join(dir, "config"),
  CONCORD_CACHE_DIR: join(dir, "cache"),
};

let server: LlamaServer | undefined;
before(async () => {
  if (!missing) server = await startLlamaServer();
});
after(async () => {
  await server?.stop();
});

const concord = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env, encoding: "utf8", timeout: 180_000 });

describe("relay and importance on the real llama-server", { skip: missing, timeout: 600_000 }, () => {
  test("a relay experiment completes and reruns from the cache with 0 calls; so does an importance run", () => {
    const url = `${server!.url}/v1`;
    writeFileSync(
      join(dir, "models.yaml"),
      [
        "models:",
        `  init: { backend: openai, baseURL: "${url}", model: auto, family: stories }`,
        `  cont: { backend: openai, baseURL: "${url}", model: auto, family: other }`,
        "roles:",
        "  targets: [cont]",
      ].join("\n"),
    );
    const spec = (out: string) => {
      const file = join(dir, `${out}.yaml`);
      writeFileSync(
        file,
        [
          "name: relay-llama",
          "models: models.yaml",
          "problems: { set: builtin, ids: [demo-1, demo-2] }",
          "conditions:",
          "  - { kind: relay, initiators: [init], continuers: [cont], rule: quantile, samples: 2, maxTokens: 40, answerTokens: 12 }",
          "concurrency: { global: 4, perModel: 4 }",
          `out: ${out}`,
        ].join("\n"),
      );
      return file;
    };
    // Per problem: initiator, continuer alone, 3 stages x 2 samples.
    const expected = 2 * 8;
    const first = concord(["run", spec("first"), "--json"]);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stderr, new RegExp(`experiment relay-llama: ${expected} records to write: ${2 * expected} model calls`));
    const s1 = JSON.parse(first.stdout.trim().split("\n").at(-1)!) as { written: number; calls: number; errors: number };
    assert.equal(s1.written, expected);
    assert.ok(s1.calls > 0);
    const second = concord(["run", spec("second"), "--json"]);
    assert.equal(second.status, 0, second.stderr);
    const s2 = JSON.parse(second.stdout.trim().split("\n").at(-1)!) as { written: number; calls: number };
    assert.equal(s2.written, expected);
    assert.equal(s2.calls, 0);
    const report = concord(["report", join(dir, "second"), "--json"]);
    assert.equal(report.status, 0, report.stderr);
    assert.equal((JSON.parse(report.stdout) as { relay: { families: Array<{ family: string }> } }).relay.families[0]!.family, "cross");

    writeFileSync(join(dir, "chain.txt"), "Tom has 3 apples. He buys 4 more. So he has 7.");
    const imp = (out: string) =>
      concord([
        "importance",
        "chain.txt",
        "--set",
        "builtin",
        "--problem",
        "demo-1",
        "--samples",
        "2",
        "--models",
        "models.yaml",
        "--max-tokens",
        "16",
        "--answer-tokens",
        "8",
        "--out",
        out,
        "--json",
      ]);
    const i1 = imp("a.jsonl");
    assert.equal(i1.status, 0, i1.stderr);
    assert.match(i1.stderr, /importance of 3 sentences \(chain file\) for 1 target, 2 samples each: 16 model calls/);
    assert.equal((JSON.parse(i1.stdout) as { "sentence-importance": { rows: unknown[] } })["sentence-importance"].rows.length, 3);
    const i2 = imp("b.jsonl");
    assert.equal(i2.status, 0, i2.stderr);
    assert.equal((JSON.parse(i2.stdout) as { calls: number }).calls, 0);
  });
});
