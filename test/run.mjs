// Runs every test file under test/ with Node's own test runner (Node 20 has no glob in --test).
// One file at a time: the end-to-end and interface tests time real keypresses and frames, and
// a model-heavy file running beside them on a 2-core machine makes those timings noisy.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...find(path));
    else if (/\.test\.tsx?$/.test(name)) out.push(path);
  }
  return out;
}

const only = process.argv.slice(2);
const files = only.length ? only : find("test").sort();
// Tests never read or write the user's settings, response cache or models folder: each run
// gets fresh ones, so results cannot depend on what an earlier run left behind.
const scratch = mkdtempSync(join(tmpdir(), "concord-test-"));
const env = {
  ...process.env,
  CONCORD_CACHE_DIR: process.env.CONCORD_CACHE_DIR ?? join(scratch, "cache"),
  CONCORD_CONFIG_DIR: process.env.CONCORD_CONFIG_DIR ?? join(scratch, "config"),
  CONCORD_MODELS_DIR: process.env.CONCORD_MODELS_DIR ?? join(scratch, "models"),
};
const result = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=1", "--test-reporter=spec", ...files], { stdio: "inherit", env });
rmSync(scratch, { recursive: true, force: true });
process.exit(result.status ?? 1);
