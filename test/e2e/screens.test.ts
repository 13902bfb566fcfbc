// End to end in a real terminal (tmux), the Problems screen as a person uses it: the 1,047
// MedCalc-Bench rows titled by calculator and note, G/g through the whole list, a filter kept
// while visiting another dataset, a paste (with a line break) that stays text in the filter
// prompt, and the frame folding into a 60x18 terminal.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, existsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { tmuxDriver } from "../support/tmux.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const model = resolve(root, "..", "shared", "models", "stories260K.gguf");
const medcalc = resolve(root, "..", "shared", "data", "medcalc-bench", "test_data.csv");
const hasTmux = spawnSync("tmux", ["-V"]).status === 0;
const name = `concord-e2e-screens-${process.pid}`;

const { tmux, keys, sleep, waitFor } = tmuxDriver(name, {});

const skip = !hasTmux ? "tmux is not installed" : !existsSync(model) || !existsSync(medcalc) ? "needs ../shared (model and MedCalc-Bench)" : false;

test("problems screen end to end in tmux: titles, G/g, a kept filter, a paste, 60x18", { skip, timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "concord-e2e-screens-"));
  const cmd = `cd '${root}' && CONCORD_MODEL='${model}' CONCORD_SESSIONS_DIR='${dir}/sessions' CONCORD_CONFIG_DIR='${dir}/config' node test/concord-from-source.mjs; echo "EXITED $?"; sleep 60`;
  tmux("new-session", "-d", "-s", name, "-x", "100", "-y", "30", cmd);
  try {
    await waitFor("the race on demo-1", (s) => /demo\/demo-1/.test(s));
    keys("1");
    await waitFor("the problems screen", (s) => /── datasets/.test(s) && /medcalc-bench/.test(s));
    keys("j");
    let s = await waitFor("all 1,047 MedCalc-Bench rows", (x) => /problems 1\/1047 /.test(x), 120_000);
    assert.match(s, / 1 +Creatinine Clearance/, s);
    assert.doesNotMatch(s, /\d+ +Here is the patient/, "no row is titled by the prompt's first words");
    keys("Tab");
    await sleep(200);
    keys("G");
    await waitFor("the last row", (x) => /problems 1047\/1047/.test(x), 10_000);
    keys("g");
    await waitFor("the first row", (x) => /problems 1\/1047 /.test(x), 10_000);

    // A filter, two rows down; another dataset; back: both as they were.
    keys("/");
    await waitFor("the filter prompt", (x) => /^filter:/m.test(x), 5_000);
    keys("-l", "Child-Pugh");
    keys("Enter");
    s = await waitFor("the filtered list", (x) => /problems 1\/\d+ \/Child-Pugh/.test(x), 10_000);
    keys("j");
    keys("j");
    await waitFor("the third match", (x) => /problems 3\/\d+ \/Child-Pugh/.test(x), 10_000);
    keys("Tab");
    await sleep(200);
    keys("k");
    await waitFor("the demo set", (x) => /problems 1\/\d+ /.test(x) && /demo-1/.test(x), 10_000);
    keys("j");
    await waitFor("medcalc again, as left", (x) => /problems 3\/\d+ \/Child-Pugh/.test(x), 10_000);

    // A paste into the filter prompt: its line break and the "q" after it stay text.
    keys("Tab");
    keys("/");
    await waitFor("the filter prompt, old filter selected", (x) => /filter: Child-Pugh/.test(x), 5_000);
    tmux("set-buffer", "-b", name, "HAS-BLED\nq");
    tmux("paste-buffer", "-p", "-b", name, "-t", name);
    s = await waitFor("the pasted text in the prompt", (x) => /filter: HAS-BLED q/.test(x), 5_000);
    assert.doesNotMatch(s, /EXITED/, "the pasted q did not quit");
    keys("C-u");
    keys("-l", "HAS-BLED");
    keys("Enter");
    await waitFor("the new filter", (x) => /\/HAS-BLED/.test(x) && !/Child-Pugh/.test(x.split("\n")[1] ?? ""), 10_000);

    // The smallest supported terminal: everything folds, the tab bar and status line stay.
    tmux("resize-window", "-t", name, "-x", "60", "-y", "18");
    s = await waitFor(
      "the 60x18 frame",
      (x) => x.split("\n")[0]!.startsWith("Concord") && /problems \d+\/\d+/.test(x) && x.split("\n")[0]!.length <= 60,
      10_000,
    );
    const lines = s.replace(/\n+$/, "").split("\n");
    assert.ok(lines.length <= 18, `${lines.length} rows at 60x18:\n${s}`);
    assert.match(lines[0]!, /^Concord/, "the tab bar is on top");
    assert.match(s, /↓ \d+ more/, "the list folds with a count of what is below");
    keys("q");
    await waitFor("exit", (x) => /EXITED 0/.test(x), 15_000);
  } finally {
    spawnSync("tmux", ["kill-session", "-t", name]);
  }
});

test("`concord --models <file>` opens the interface on that file's models, as the README documents", { skip, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "concord-e2e-models-"));
  const file = join(dir, "models.yaml");
  writeFileSync(
    file,
    `models:\n  tinygen: { backend: local, model: stories, path: ${model} }\n  tinyjudge: { backend: local, model: stories, path: ${model} }\nroles:\n  generators: [tinygen]\n  evaluators: [tinyjudge]\n  targets: []\n`,
  );
  const cmd = `cd '${root}' && CONCORD_SESSIONS_DIR='${dir}/sessions' CONCORD_CONFIG_DIR='${dir}/config' node test/concord-from-source.mjs --models '${file}'; echo "EXITED $?"; sleep 60`;
  tmux("new-session", "-d", "-s", name, "-x", "100", "-y", "30", cmd);
  try {
    const s = await waitFor("candidates from the file's generator", (x) => /tinygen#\d/.test(x) || /EXITED/.test(x), 90_000);
    assert.doesNotMatch(s, /EXITED|unknown option/, s);
    keys("5");
    await waitFor("the models list", (x) => /tinygen/.test(x) && /tinyjudge/.test(x), 10_000);
    keys("q");
    await waitFor("exit", (x) => /EXITED 0/.test(x), 15_000);
  } finally {
    spawnSync("tmux", ["kill-session", "-t", name]);
  }
});
