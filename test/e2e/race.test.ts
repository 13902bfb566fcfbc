// End to end in a real terminal (tmux): pick a problem, watch candidates arrive from the real
// tiny model, override the pick, accept, see the targets change, quit, resume with nothing lost.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { anyModelFile } from "../support/models.js";
import { raceLanes as lanes, tmuxDriver } from "../support/tmux.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const model = anyModelFile();
const hasTmux = spawnSync("tmux", ["-V"]).status === 0;
const name = `concord-e2e-${process.pid}`;

const { tmux, keys, sleep, waitFor } = tmuxDriver(name, { pollMs: 250 });

function start(dir: string) {
  // The real program, as a user starts it (from the sources, no build needed).
  const cmd = `cd '${root}' && CONCORD_MODEL='${model}' CONCORD_SESSIONS_DIR='${dir}/sessions' CONCORD_CONFIG_DIR='${dir}/config' node test/concord-from-source.mjs; echo "EXITED $?"; sleep 60`;
  tmux("new-session", "-d", "-s", name, "-x", "100", "-y", "30", cmd);
}

const awaitingChoice = (s: string) => /your call/.test(s) && lanes(s).some((l) => l.pick);

test(
  "race end to end in tmux",
  { skip: hasTmux ? (existsSync(model) ? false : `model missing: ${model}`) : "tmux is not installed", timeout: 240_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-e2e-"));
    try {
      start(dir);
      await waitFor("the race on demo-1", (s) => /demo\/demo-1/.test(s));
      // Pick another problem on the Problems screen.
      keys("1");
      await waitFor("the problems screen", (s) => /── datasets/.test(s) && /demo-2/.test(s));
      keys("Enter"); // datasets -> problem list
      await sleep(300);
      keys("j");
      await sleep(300);
      keys("Enter");
      let s = await waitFor("candidates for demo-2", (x) => /demo\/demo-2/.test(x) && awaitingChoice(x));
      const ls = lanes(s);
      assert.ok(ls.length >= 2, `several candidates race: ${JSON.stringify(ls)}`);
      // The scores came in and the evaluator picked, but the cursor stayed where it was: the first lane.
      assert.ok(ls[0].selected, `the pick is a mark, the selection did not jump to it: ${JSON.stringify(ls)}`);
      // Lanes are in one stable order (by sample), whatever order they finished in.
      assert.deepEqual(
        ls.map((l) => l.id),
        [...ls.map((l) => l.id)].sort((a, b) => Number(a.split("#")[1]) - Number(b.split("#")[1])),
      );
      // Override: select a candidate that is not the pick and accept it.
      let other = ls[0];
      if (other.pick) {
        other = ls[1];
        keys("j");
        await waitFor("the selection to move", (x) => lanes(x).find((l) => l.selected)?.id === other.id, 5000);
      }
      keys("Enter");
      s = await waitFor("the overridden sentence in the chain", (x) => /chain: 1 sentence /.test(x));
      assert.ok(s.includes("✎"), `the human choice is marked; screen:\n${s}`);
      const firstWords = other.text.slice(0, 12);
      // Compared without whitespace: the chain wraps at the terminal's width.
      const squeeze = (x: string) => x.replace(/\s+/g, "");
      assert.ok(squeeze(s.split("── step")[0]).includes(squeeze(firstWords)), `chain shows the overridden candidate "${firstWords}"; screen:\n${s}`);
      const t1 = await waitFor("the targets to answer for 1 sentence", (x) => /targets \(\d+\) · chain 1\/1/.test(x));
      // Accept the evaluator's pick for step 2.
      await waitFor("step 2 candidates", (x) => /step 2 your call/.test(x) && awaitingChoice(x));
      keys("a");
      await waitFor("2 sentences", (x) => /chain: 2 sentences/.test(x));
      const t2 = await waitFor("the targets to answer for 2 sentences", (x) => /targets \(\d+\) · chain 2\/2/.test(x));
      assert.notEqual(t1.match(/targets .*/)![0], t2.match(/targets .*/)![0], "the targets line changed");
      keys("q");
      await waitFor("exit", (x) => /EXITED 0/.test(x), 15_000);
      tmux("kill-session", "-t", name);

      const files = readdirSync(join(dir, "sessions"));
      assert.equal(files.length, 1, `one session saved: ${files}`);
      const saved = JSON.parse(readFileSync(join(dir, "sessions", files[0]), "utf8"));
      assert.equal(saved.schema, 2);
      assert.equal(saved.problem.id, "demo-2");
      assert.deepEqual(
        saved.chain.sentences.map((x: { decision: string }) => x.decision),
        ["human-pick", "evaluator"],
      );
      assert.ok(saved.targets.answers.length >= 2);

      // Start again and resume from the saved sessions list.
      start(dir);
      await waitFor("the interface again", (x) => /demo\/demo-1/.test(x));
      keys("1");
      await waitFor("the problems screen", (x) => /saved sessions/.test(x));
      // Saved sessions come after the demo set and the shared datasets found beside the repository.
      const shared = ["medcalc-bench/test_data.csv", "gsm8k/test.jsonl"].filter((f) => existsSync(resolve(root, "..", "shared", "data", f))).length;
      for (let i = 0; i <= shared; i++) {
        keys("j");
        await sleep(300);
      }
      // Each saved session is listed with its date, problem, length and models, not by its file name.
      const listed = await waitFor("the sessions list", (x) => /demo\/demo-2 · 2 sent\. ·/.test(x));
      const month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][new Date(saved.updatedAt).getMonth()];
      assert.match(listed, new RegExp(`${month} \\d+ \\d\\d:\\d\\d demo/demo-2 · 2 sent\\. · ${saved.roles.generators[0]}`), listed);
      assert.match(listed, new RegExp(`generators ${saved.roles.generators.join(", ")}`), "the preview names every model");
      assert.match(listed, new RegExp(`targets ${saved.roles.targets[0]}`), listed);
      keys("Enter");
      await sleep(300);
      keys("Enter");
      s = await waitFor("the resumed chain", (x) => /demo\/demo-2/.test(x) && /chain: 2 sentences/.test(x) && /resumed|step 3/.test(x));
      const chainArea = squeeze(s.split("── step")[0]);
      for (const sent of saved.chain.sentences as Array<{ text: string }>) {
        const words = squeeze(sent.text).slice(0, 10);
        assert.ok(chainArea.includes(words), `resumed chain has "${words}"`);
      }
      assert.match(s, /targets \(\d+\) · chain 2\/2/, "target history is back");
      keys("q");
      await waitFor("exit", (x) => /EXITED 0/.test(x), 15_000);
    } finally {
      spawnSync("tmux", ["kill-session", "-t", name]);
    }
  },
);
