// Token alternatives end to end in a real terminal (tmux) on the embedded model: the selected
// candidate's tokens with the likeliest others at each position, a cursor over positions and
// alternatives, and the saved session keeping the alternatives on its candidates.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadSession } from "../../src/state/sessions.js";
import { STORIES_FILE } from "../support/models.js";
import { raceLanes as lanes, tmuxDriver } from "../support/tmux.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const hasTmux = spawnSync("tmux", ["-V"]).status === 0;
const name = `concord-tokens-${process.pid}`;
const { tmux, keys, waitFor } = tmuxDriver(name, { pollMs: 200 });

/** Rows of the token view: [cursor, position, probability]. */
function positions(s: string) {
  return s
    .split("\n")
    .map((l) => /^([▸ ]) *(\d+) .*? +(\d+(?:\.\d)?)% │ /.exec(l))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => ({ cursor: m[1] === "▸", position: Number(m[2]), p: Number(m[3]) }));
}

test(
  "token alternatives end to end in tmux",
  { skip: hasTmux ? (existsSync(STORIES_FILE) ? false : `model missing: ${STORIES_FILE}`) : "tmux is not installed", timeout: 240_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-tokens-e2e-"));
    const cmd = `cd '${root}' && CONCORD_MODEL='${STORIES_FILE}' CONCORD_SESSIONS_DIR='${dir}/sessions' CONCORD_CONFIG_DIR='${dir}/config' node test/concord-from-source.mjs; echo "EXITED $?"; sleep 60`;
    try {
      tmux("new-session", "-d", "-s", name, "-x", "110", "-y", "32", cmd);
      const before = lanes(await waitFor("step 1 to wait for a decision", (s) => /step 1 your call/.test(s) && lanes(s).some((l) => l.pick)));
      // The longest candidate is selected (the model may have written one of a token or two).
      const longest = before.reduce((best, l, i) => (l.text.length > before[best]!.text.length ? i : best), 0);
      const selectedAt = before.findIndex((l) => l.selected);
      for (let i = selectedAt; i !== longest; i += Math.sign(longest - selectedAt)) keys(longest > selectedAt ? "j" : "k");
      await waitFor("the longest candidate selected", (x) => lanes(x)[longest]?.selected === true);
      // y: the per-token shading; y again: the alternatives.
      keys("y");
      await waitFor("the why line", (x) => /why: per-token NLL/.test(x));
      keys("y");
      let s = await waitFor("the token view", (x) => /── tokens of \S+#\d+ \(local\): \d+ positions/.test(x));
      let rows = positions(s);
      assert.ok(rows.length >= 2, s);
      assert.deepEqual(rows[0], { ...rows[0], cursor: true, position: 1 });
      assert.ok(
        rows.every((r) => r.p >= 0 && r.p <= 100),
        "probabilities in percent",
      );
      assert.match(s, /at 1: /);
      // Down a position, then the next alternative there: the branch line shows it.
      keys("j");
      s = await waitFor("the cursor at 2", (x) => /at 2: /.test(x));
      rows = positions(s);
      assert.equal(rows.find((r) => r.cursor)?.position, 2);
      const firstAlt = /at 2: (.*)$/m.exec(s)![1]!;
      keys("Tab");
      s = await waitFor("another alternative", (x) => /at 2: /.test(x) && /at 2: (.*)$/m.exec(x)![1] !== firstAlt);
      assert.match(s, /enter: local goes on from here/);
      // Branch there: the generator goes on, and the result joins the race, scored.
      keys("Enter");
      // Joined and scored: accepting before its score arrives would save it unscored.
      const addedOf = (x: string) => lanes(x).find((l) => !before.some((b) => b.id === l.id));
      s = await waitFor("the branch in the race, scored", (x) => /step 1 your call/.test(x) && /\d/.test(addedOf(x)?.score ?? ""), 60_000);
      const added = addedOf(s)!;
      assert.equal(lanes(s).length, before.length + 1, s);
      keys("a");
      await waitFor("the sentence accepted", (x) => /chain: 1 sentence/.test(x));
      keys("q");
      await waitFor("exit", (x) => /EXITED 0/.test(x), 15_000);
      tmux("kill-session", "-t", name);
      const files = readdirSync(join(dir, "sessions")).filter((f) => f.endsWith(".json"));
      assert.equal(files.length, 1);
      const saved = await loadSession(join(dir, "sessions", files[0]!));
      const candidates = saved.chain.sentences[0]!.candidates;
      assert.ok(candidates.length > 0);
      const branched = candidates.find((c) => c.id === added.id)!;
      assert.ok(branched?.branch, "the branch carries where it was taken");
      assert.equal(branched.branch!.position, 1);
      const from = candidates.find((c) => c.id === branched.branch!.from)!;
      assert.ok(
        branched.text.trim().startsWith((from.tokens![0]!.token + branched.branch!.token).trim()),
        `${JSON.stringify(branched.text)} starts with the branch prefix ${JSON.stringify(from.tokens![0]!.token + branched.branch!.token)}`,
      );
      assert.ok(branched.scores.length > 0 && Number.isFinite(branched.meanPerplexity), "scored like the others");
      for (const c of candidates.filter((x) => !x.error)) {
        assert.ok(c.tokens?.length, `${c.id} has tokens`);
        assert.ok(
          c.tokens!.every((t) => t.top && t.top.length >= 1 && t.top.length <= 5),
          `${c.id} keeps up to 5 alternatives per token`,
        );
      }
    } finally {
      spawnSync("tmux", ["kill-session", "-t", name]);
    }
  },
);
