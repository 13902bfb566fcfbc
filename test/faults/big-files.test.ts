// Big records files are read as streams: `concord import genex` on a genex output file of about
// 100 MB, resuming into the results folder it made, and the Results screen opening that folder,
// each in a process whose heap (80 MB) is smaller than the file: reading a file whole holds at
// least its text. bench/big-results.ts runs the report on 2 GB.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs, { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { readResults } from "../../src/results/store.js";
import { needsShared } from "../support/shared.js";

const CSV = "../shared/data/medcalc-bench/test_data.csv";

const ROOT = new URL("../..", import.meta.url).pathname;
/** A heap well under the file's size: a reader that held the file whole could not finish. */
const HEAP_MB = 80;

/** `concord <args>` in a child process whose JavaScript heap is capped at HEAP_MB. */
function concord(args: string[]) {
  return spawnSync(process.execPath, [`--max-old-space-size=${HEAP_MB}`, join(ROOT, "test", "concord-from-source.mjs"), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
    timeout: 240_000,
  });
}

test(
  "a 100 MB genex file is imported, resumed and shown on the Results screen in bounded memory",
  { skip: needsShared("data/medcalc-bench/test_data.csv"), timeout: 300_000 },
  async () => {
    const root = mkdtempSync(join(tmpdir(), "concord-big-"));
    try {
      const folder = join(root, "outputs");
      fs.mkdirSync(folder);
      const file = join(folder, "Qwen_QwQ-32B_thoughts_to_openai_gpt-oss-20b_zero_shot_full.jsonl");
      const thinking = "Let me work through the patient's values one at a time. ".repeat(1800); // ~100 KB
      const n = 1000;
      const fd = fs.openSync(file, "w");
      for (let i = 1; i <= n; i++) {
        const row = {
          "Row Number": i,
          "LLM Model": "Qwen/QwQ-32B",
          "LLM Answer": String(i % 7),
          "LLM Raw Thinking": thinking,
          "Target Model": "openai/gpt-oss-20b",
          "Target Answer": String(i % 5),
          Result: "Correct",
          "Target Result": i % 3 ? "Correct" : "Incorrect",
        };
        fs.writeSync(fd, JSON.stringify(row) + "\n");
      }
      fs.writeSync(fd, '{"Row Number": 1, "LLM Na'); // a torn last line
      fs.closeSync(fd);
      const size = statSync(file).size;
      assert.ok(size > 95e6, `the genex file is ${size} bytes`);
      const out = join(root, "results", "genex");

      const first = concord(["import", "genex", folder, "--out", out, "--dataset", CSV]);
      assert.equal(first.status, 1, `a bad line makes the exit status 1:\n${first.stderr.slice(-2000)}`);
      assert.match(first.stdout, new RegExp(`^Imported ${n} records from 1 files into .*; 1 bad lines\\n$`));
      assert.match(first.stderr, /zero_shot_full\.jsonl:1001: truncated last line/);
      assert.doesNotMatch(first.stderr, /heap|allocation failed/i);
      const results = join(out, "results.jsonl");
      assert.ok(statSync(results).size > size * 0.9, "every chain was kept in the results");

      // Resumed: nothing is written twice, and the folder is read as a stream to know that.
      const again = concord(["import", "genex", folder, "--out", out, "--dataset", CSV]);
      assert.match(again.stdout, new RegExp(`^Imported 0 records from 1 files into .* \\(${n} already there\\)`), again.stderr.slice(-2000));
      assert.equal((await readResults(out, { slim: true })).records.length, n);

      // The Results screen's port opens the folder without its chains, under the same heap.
      const script = [
        `const { resultsPort } = await import(${JSON.stringify(join(ROOT, "src/app/ports/screen-ports.ts"))});`,
        `const f = await resultsPort(${JSON.stringify(join(root, "results"))}).read(${JSON.stringify(out)});`,
        `const c = f.report.conditions;`,
        `console.log(JSON.stringify({ conditions: c.length, items: f.items(c[0].key).length, issues: f.issues.length }));`,
      ].join("\n");
      const screen = spawnSync(process.execPath, [`--max-old-space-size=${HEAP_MB}`, "--import", "tsx", "--input-type=module", "-e", script], {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 240_000,
      });
      assert.equal(screen.status, 0, screen.stderr.slice(-2000));
      assert.deepEqual(JSON.parse(screen.stdout), { conditions: 1, items: n, issues: 0 });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
);
