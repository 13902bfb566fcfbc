// End to end in a real terminal (tmux): a session raced on one pair of models, then resumed
// (1) with a models file that configures other roles but still holds the session's own models:
// the session races on its own models, nothing to say; (2) on one other file (CONCORD_MODEL):
// the Race says what differs, and the old targets' answers stay out of the new panel (#12.15).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { anyModelFile } from "../support/models.js";
import { tmuxDriver } from "../support/tmux.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const model = anyModelFile();
const hasTmux = spawnSync("tmux", ["-V"]).status === 0;
const name = `concord-e2e-resume-${process.pid}`;
const { tmux, keys, waitFor } = tmuxDriver(name, { pollMs: 150 });

test(
  "a resumed session races on its own models when they are there, else says what differs (#12.15)",
  {
    skip: hasTmux ? false : "tmux is not installed",
    timeout: 300_000,
  },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-e2e-resume-"));
    const local = `{ backend: local, model: tiny, path: '${model}' }`;
    const profiles = `models:\n${["gen-a", "judge-a", "tgt-a", "tgt-b", "other"].map((n) => `  ${n}: ${local}\n`).join("")}`;
    const first = join(dir, "first.yaml");
    writeFileSync(first, `${profiles}roles:\n  generators: [gen-a]\n  evaluators: [judge-a]\n  targets: [tgt-a, tgt-b]\n`);
    const second = join(dir, "second.yaml");
    writeFileSync(second, `${profiles}roles:\n  generators: [other]\n  evaluators: [other]\n  targets: [other]\n`);
    const run = (args: string, extraEnv = "") =>
      tmux(
        "new-session",
        "-d",
        "-s",
        name,
        "-x",
        "110",
        "-y",
        "32",
        `cd '${root}' && env -u CONCORD_MODEL ${extraEnv} CONCORD_SESSIONS_DIR='${dir}/sessions' CONCORD_CONFIG_DIR='${dir}/config' node test/concord-from-source.mjs ${args}; echo "EXITED $?"; sleep 60`,
      );
    const quit = async () => {
      keys("q");
      await waitFor("exit", (x) => /EXITED 0/.test(x), 15_000);
      spawnSync("tmux", ["kill-session", "-t", name]);
    };
    try {
      run(`--models '${first}'`);
      await waitFor("the first race", (x) => /gen-a#\d/.test(x) && /your call/.test(x), 90_000);
      keys("a");
      await waitFor("one sentence and the targets' answers", (x) => /chain: 1 sentence /.test(x) && /targets \(2\) · chain 1\/1/.test(x), 90_000);
      await quit();
      const file = join(
        dir,
        "sessions",
        readdirSync(join(dir, "sessions")).find((f) => f.endsWith(".json"))!,
      );
      const saved = JSON.parse(readFileSync(file, "utf8")) as { roles: { targets: string[] }; targets: { answers: Array<{ target: string }> } };
      assert.deepEqual(saved.roles.targets, ["tgt-a", "tgt-b"]);

      // Other roles configured, the session's own models still there: it races on them.
      run(`--models '${second}' --session '${file}'`);
      let s = await waitFor("the resumed race", (x) => /chain: 1 sentence /.test(x) && /step 2 your call/.test(x), 90_000);
      assert.match(s, /gen gen-a · eval judge-a/, s);
      assert.match(s, /gen-a#\d/, s);
      assert.doesNotMatch(s, /other#\d|resumed on other models/, s);
      await quit();

      // One other file in every role: the Race says what differs; the old answers are not the new targets'.
      run(`--session '${file}'`, `CONCORD_MODEL='${model}'`);
      s = await waitFor(
        "the resumed race on other models",
        (x) => /resumed on other models/.test(x) && /local#\d/.test(x) && /── targets \(3\)/.test(x),
        90_000,
      );
      assert.match(s, /generators gen-a → local/, s);
      // The whole line can be read: it takes a second row rather than being cut.
      assert.match(s.replace(/\s+/g, " "), /targets tgt-a,tgt-b → local,local·seed1,local·seed2/, s);
      // The panel (beside the chain) lists the new targets only, none of them answered yet.
      assert.match(s, /targets \(3\)/, s);
      const col = s
        .split("\n")
        .find((l) => l.includes("── targets"))!
        .indexOf("── targets");
      const panel = s
        .split("\n")
        .map((l) => l.slice(col))
        .join("\n");
      assert.doesNotMatch(panel, /tgt-a|tgt-b/, `the old targets are not in the new panel\n${s}`);
      await quit();
      const after = JSON.parse(readFileSync(file, "utf8")) as { targets: { answers: Array<{ target: string }> } };
      assert.ok(
        after.targets.answers.some((a) => a.target === "tgt-a"),
        "the old targets' answers are still in the session",
      );
    } finally {
      spawnSync("tmux", ["kill-session", "-t", name]);
    }
  },
);
