// End to end in a real terminal (tmux): a recording imported from the paper's folder of 100
// traces, replayed with --problem; the Problems screen lists every problem the recording holds,
// and Enter on another one replays that problem's recorded race in the same session (#12.9).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { tmuxDriver } from "../support/tmux.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const folder = "../shared/data/genex/medcalc/ensemble_qwq_dapo_eval_oss";
const hasTmux = spawnSync("tmux", ["-V"]).status === 0;
const skip = !hasTmux ? "tmux is not installed" : !existsSync(resolve(root, folder)) ? `traces missing: ${folder}` : false;
const name = `concord-e2e-recording-${process.pid}`;
const { tmux, keys, waitFor } = tmuxDriver(name, { pollMs: 200 });

test("replay --problem opens that problem; the Problems screen lists the recording's problems and opens each", { skip, timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "concord-e2e-recording-"));
  const out = join(dir, "all.jsonl");
  const r = spawnSync(process.execPath, ["test/concord-from-source.mjs", "import", "trace", folder, "--out", out], { cwd: root, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr + r.stdout, /100 problems/);
  const cmd = `cd '${root}' && CONCORD_SESSIONS_DIR='${dir}/sessions' CONCORD_CONFIG_DIR='${dir}/config' node test/concord-from-source.mjs replay '${out}' --problem 7; echo "EXITED $?"; sleep 60`;
  tmux("new-session", "-d", "-s", name, "-x", "110", "-y", "30", cmd);
  try {
    let s = await waitFor("the replayed problem", (x) => /medcalc-bench\/\d+ +gen Qwen\/QwQ-32B/.test(x) || /EXITED/.test(x), 120_000);
    assert.doesNotMatch(s, /EXITED/, s);
    const opened = /medcalc-bench\/(\d+)/.exec(s)![1]!;
    keys("1");
    s = await waitFor("the recording's problems", (x) => /recording all\.jsonl/.test(x) && /problems 1\/100/.test(x), 20_000);
    assert.match(s, new RegExp(`^\\S*\\s+${opened} +(?!trace )\\S`, "m"), `the replayed row ${opened} is listed by its own title\n${s}`);
    assert.match(s, /\d+ +trace 0, held in this record/, s);
    assert.match(s, /↓ \d+ more/);
    // Another one: Enter replays its recorded race here, with its own question and candidates.
    keys("Tab");
    keys("j");
    s = await waitFor("the second row selected", (x) => /problems 2\/100/.test(x), 10_000);
    const second = /recording\/(\d+) · trace \d+, held/.exec(s)?.[1];
    assert.ok(second, `the selected row is a held problem\n${s}`);
    keys("Enter");
    s = await waitFor(
      "the second problem's recorded race",
      (x) => new RegExp(`medcalc-bench/(?!${opened}\\b)\\d+ +gen Qwen/QwQ-32B`).test(x) && /step 1 .*★ pick/.test(x) && /★ +\S+#\d .* +\d+\s*$/m.test(x),
      60_000,
    );
    assert.match(s, new RegExp(`medcalc-bench/${second}\\b`), s);
    assert.doesNotMatch(s, /not in the recording/, s);
    keys("q");
    await waitFor("exit", (x) => /EXITED 0/.test(x), 15_000);
  } finally {
    spawnSync("tmux", ["kill-session", "-t", name]);
  }
});
