// `concord importance` end to end on the embedded engine (the shared stories260K model): the
// call count is said before any call, --json carries the sentence-importance section, a rerun
// reads the samples back with 0 model calls; bad input is one line.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { needsShared, sharedPath } from "../support/shared.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const MODEL = "models/stories260K.gguf";

function concord(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [join(ROOT, "test/concord-from-source.mjs"), ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, CONCORD_MODEL: sharedPath(MODEL), CONCORD_NO_CACHE: "1" },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("concord importance", () => {
  test("counts the calls first, gives every figure as JSON, and a rerun makes none", { skip: needsShared(MODEL) }, () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-importance-cli-"));
    writeFileSync(join(dir, "chain.txt"), "Tom has 3 apples. He buys 4 more. So he has 7.");
    const args = [
      "importance",
      "chain.txt",
      "--set",
      "builtin",
      "--problem",
      "demo-1",
      "--samples",
      "2",
      "--max-tokens",
      "12",
      "--answer-tokens",
      "8",
      "--json",
    ];
    const first = concord(args, dir);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr.split("\n")[0]!, /^concord: importance of 3 sentences \(chain file\) for 1 target, 2 samples each: 16 model calls$/);
    const out = JSON.parse(first.stdout) as { calls: number; "sentence-importance": { rows: Array<{ byTarget: Record<string, { divergence: unknown }> }> } };
    assert.equal(out.calls, 16);
    assert.equal(out["sentence-importance"].rows.length, 3);
    assert.ok(out["sentence-importance"].rows[0]!.byTarget.local!.divergence);
    const again = concord(args, dir);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /8 samples already in .*: 0 model calls/);
    assert.equal((JSON.parse(again.stdout) as { calls: number }).calls, 0);
  });

  test("a chain file without --set, and a missing file, are one line each", () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-importance-cli-"));
    writeFileSync(join(dir, "chain.txt"), "One. Two.");
    const noSet = concord(["importance", "chain.txt", "--problem", "demo-1", "--yes"], dir);
    assert.equal(noSet.code, 1);
    assert.match(noSet.stderr, /^concord: chain\.txt: a chain file or trace holds no problem text: pass --set/m);
    const missing = concord(["importance", "nope.txt", "--problem", "demo-1"], dir);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim().split("\n").length, 1);
    assert.match(missing.stderr, /nope\.txt: no such file or folder/);
  });
});
