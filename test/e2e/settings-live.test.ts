// End to end in a real terminal (tmux), offline: Concord opens on its demo model and says how to
// use a real one; a person adds a local GGUF on the Models screen (typed relative to where
// Concord runs), gives it the generator and evaluator roles, and the next race runs on it,
// without a restart. The settings file holds the path absolute.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { STORIES_FILE } from "../support/models.js";
import { tmuxDriver } from "../support/tmux.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const hasTmux = spawnSync("tmux", ["-V"]).status === 0;
const name = `concord-e2e-settings-${process.pid}`;
const { tmux, keys, sleep, waitFor } = tmuxDriver(name, { pollMs: 150 });
const skip = !hasTmux ? "tmux is not installed" : !existsSync(STORIES_FILE) ? "needs ../shared (stories260K)" : false;

test("offline: a local GGUF added on the Models screen races at once, no restart (#12.21, #12.22)", { skip, timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "concord-e2e-settings-"));
  // Nothing listens on port 9: the model host is unreachable, as offline.
  const env = `CONCORD_HF_ENDPOINT=http://127.0.0.1:9 CONCORD_MODELS_DIR='${dir}/models' CONCORD_SESSIONS_DIR='${dir}/sessions' CONCORD_CONFIG_DIR='${dir}/config'`;
  const cmd = `cd '${root}' && env -u CONCORD_MODEL -u CONCORD_MODELS ${env} node test/concord-from-source.mjs; echo "EXITED $?"; sleep 60`;
  tmux("new-session", "-d", "-s", name, "-x", "100", "-y", "30", cmd);
  try {
    let s = await waitFor("the demo model's notice", (x) => /no network: for a real model set CONCORD_MODEL=<file\.gguf>/.test(x), 60_000);
    await waitFor("the demo race", (x) => /demo\/demo-1/.test(x) && /#\d/.test(x), 60_000);

    keys("5");
    await waitFor("the models screen", (x) => /^ ▸  demo /m.test(x), 10_000);
    keys("a");
    await waitFor("the form", (x) => /^name +\(empty\)/m.test(x) && /^backend +openai/m.test(x), 5_000);
    // The form starts on its first row, the name.
    keys("Enter");
    await waitFor("the name prompt", (x) => /^name:/m.test(x), 5_000);
    keys("C-u");
    keys("-l", "mine");
    keys("Enter");
    await waitFor("the name", (x) => /^name +mine/m.test(x), 5_000);
    keys("j");
    keys("Enter"); // openai -> local
    await waitFor("the local form", (x) => /^backend +local/m.test(x) && /^GGUF path +\(empty\)/m.test(x), 5_000);
    keys("j");
    keys("Enter");
    await waitFor("the file prompt", (x) => /^GGUF path:/m.test(x), 5_000);
    const typed = relative(root, STORIES_FILE);
    assert.ok(!typed.startsWith("/"), typed);
    keys("C-u");
    keys("-l", typed);
    keys("Enter");
    await waitFor("the path in the form", (x) => new RegExp(`^GGUF path +${typed.replace(/[.]/g, "\\.")}`, "m").test(x), 5_000);
    // Down past the last field to [ save ].
    for (let i = 0; i < 8; i++) keys("j");
    await sleep(300);
    keys("Enter");
    s = await waitFor("the profile added", (x) => /added model "mine"/.test(x), 10_000);

    // Generator and evaluator: the next race runs on it.
    keys("G");
    await waitFor("mine selected", (x) => /^ ▸  mine /m.test(x), 5_000);
    keys("Enter");
    await waitFor("mine a generator", (x) => /^ ▸  mine +✓ +· +·/m.test(x), 5_000);
    keys("Tab");
    await waitFor("the evaluator column", (x) => /\[eval\]/.test(x), 5_000);
    keys("Enter");
    // The settings now name a race: the models are opened again, the demo model leaves the list.
    await waitFor("mine a generator and evaluator", (x) => /^ ▸  mine +✓ +✓ +·/m.test(x) && !/^ +demo /m.test(x), 5_000);
    const saved = JSON.parse(readFileSync(join(dir, "config", "config.json"), "utf8")) as { profiles?: Array<{ name: string; path?: string }> };
    const mine = saved.profiles?.find((p) => p.name === "mine");
    assert.equal(mine?.path, STORIES_FILE, "the relative path is stored absolute");

    keys("1");
    await waitFor("the problems screen", (x) => /── datasets/.test(x) && /demo-2/.test(x), 10_000);
    keys("Enter");
    await sleep(300);
    keys("j");
    await sleep(300);
    keys("Enter");
    s = await waitFor("a race on the new model", (x) => /demo\/demo-2/.test(x) && /mine#\d/.test(x) && /your call/.test(x), 90_000);
    assert.match(s, /gen mine · eval mine/, s);
    assert.doesNotMatch(s, /no network: for a real model/, "the demo model's notice is gone with the demo model");
    keys("q");
    await waitFor("exit", (x) => /EXITED 0/.test(x), 15_000);
  } finally {
    spawnSync("tmux", ["kill-session", "-t", name]);
  }
});
