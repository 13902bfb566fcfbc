// The session tree end to end in a real terminal (tmux) on the embedded model: undo keeps the
// race and another candidate branches without a new race, the tree screen shows both branches
// and compares them, going to the root shows its kept race, and the saved file holds the tree.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { anyModelFile } from "../support/models.js";
import { raceLanes as lanes, tmuxDriver } from "../support/tmux.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const model = anyModelFile();
const hasTmux = spawnSync("tmux", ["-V"]).status === 0;
const name = `concord-tree-${process.pid}`;
const { tmux, keys, sleep, waitFor } = tmuxDriver(name, { pollMs: 200 });

const awaiting = (step: number) => (s: string) => new RegExp(`step ${step} your call`).test(s) && lanes(s).some((l) => l.pick);

test(
  "session tree end to end in tmux",
  { skip: hasTmux ? (existsSync(model) ? false : `model missing: ${model}`) : "tmux is not installed", timeout: 240_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-tree-e2e-"));
    const cmd = `cd '${root}' && CONCORD_MODEL='${model}' CONCORD_SESSIONS_DIR='${dir}/sessions' CONCORD_CONFIG_DIR='${dir}/config' node test/concord-from-source.mjs; echo "EXITED $?"; sleep 60`;
    try {
      tmux("new-session", "-d", "-s", name, "-x", "110", "-y", "32", cmd);
      await waitFor("step 1 to wait for a decision", awaiting(1));
      keys("a");
      const step2 = lanes(await waitFor("step 2 to wait for a decision", awaiting(2)));
      keys("a");
      await waitFor("2 sentences", (s) => /chain: 2 sentences/.test(s));

      // Undo: the race of sentence 2 comes back as it was, nothing raced again.
      keys("u");
      let s = await waitFor("the kept race", (x) => /its race is kept/.test(x) && /chain: 1 sentence /.test(x));
      assert.deepEqual(
        lanes(s).map((l) => [l.id, l.text]),
        step2.map((l) => [l.id, l.text]),
      );
      assert.match(s, /step 2 your call/);
      // Another candidate of it: a second branch at sentence 2.
      const pick = lanes(s).findIndex((l) => l.selected);
      const other = (pick + 1) % step2.length;
      keys("j");
      await sleep(200);
      keys("Enter");
      s = await waitFor("the branch", (x) => /chain: 2 sentences/.test(x) && /⑂ n3 · branch 2\/2/.test(x));

      // The tree: both branches, the person on the second.
      keys("b");
      s = await waitFor("the tree screen", (x) => /── tree: 3 sentences in 2 branches · you are at n3/.test(x));
      assert.match(s, /▸ *● n3 .*local✎/, "the cursor starts where the person is; a person chose it");
      assert.match(s, /⑂ n2 /);
      assert.ok(s.includes(step2[other]!.text.slice(0, 20)), "the chosen sentence is in the outline");
      // Mark this branch, move to its sibling, compare.
      keys("c");
      await sleep(200);
      keys("k");
      await waitFor("the cursor on n2", (x) => /▸ *⑂ n2 /.test(x));
      keys("c");
      s = await waitFor("the comparison", (x) => /── compare n3 \| n2: they part after sentence 1 \(at n1\)/.test(x));
      assert.match(s, /branch n3 · 1 sentence after/);
      assert.match(s, /branch n2 · 1 sentence after/);
      // Back to the outline, up to the root, and go there: its race is kept to choose from.
      keys("b");
      await waitFor("the outline", (x) => /── tree:/.test(x));
      keys("Left");
      await sleep(200);
      keys("Left");
      await waitFor("the cursor on the root", (x) => /▸ *\S n0 /.test(x));
      keys("Enter");
      s = await waitFor("the root's race", (x) => /at n0 \(0 sentences in\): its race is kept/.test(x) && /chain: 0 sentences/.test(x));
      assert.ok(lanes(s).length >= 2);
      keys("q");
      await waitFor("exit", (x) => /EXITED 0/.test(x), 15_000);
      tmux("kill-session", "-t", name);

      const files = readdirSync(join(dir, "sessions")).filter((f) => f.endsWith(".json"));
      assert.equal(files.length, 1);
      const file = join(dir, "sessions", files[0]!);
      const saved = JSON.parse(readFileSync(file, "utf8")) as { schema: number; tree: { current: string; nodes: unknown[] } };
      assert.equal(saved.schema, 2);
      assert.equal(saved.tree.nodes.length, 4);
      assert.equal(saved.tree.current, "n0");
      const r = spawnSync(process.execPath, ["test/concord-from-source.mjs", "export", file, "--branches", "--json"], { cwd: root, encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      const all = JSON.parse(r.stdout) as string[][];
      assert.equal(all.length, 2);
      assert.equal(all[0]![0], all[1]![0], "the branches share their first sentence");
      // The lane shows a line break inside a sentence as a space.
      const flat = (t: string) => t.replace(/\s+/g, " ").trim().slice(0, 20);
      assert.equal(flat(all[1]![1]!), flat(step2[other]!.text));
    } finally {
      spawnSync("tmux", ["kill-session", "-t", name]);
    }
  },
);
