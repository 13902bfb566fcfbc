// End to end in a real terminal (tmux): three generators (nine lanes) in a 70x20 terminal, then
// 60x18. The frame never grows past the terminal: lanes fold into "+N more", the selected lane
// stays in view wherever it is moved, and the targets and status rows stay on screen, while the
// step streams and after.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import stringWidth from "string-width";
import { anyModelFile } from "../support/models.js";
import { tmuxDriver } from "../support/tmux.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const model = anyModelFile();
const hasTmux = spawnSync("tmux", ["-V"]).status === 0;
const name = `concord-e2e-fold-${process.pid}`;
const { tmux, keys, waitFor } = tmuxDriver(name, { pollMs: 100 });

/** The lane rows on screen: [selected, id]. */
const lanes = (s: string) =>
  s
    .split("\n")
    .map((l) => /^([▸ ])[★ ][✓ ] (gen-[abc]#\d)\b/.exec(l))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => ({ selected: m[1] === "▸", id: m[2]! }));

function assertFits(s: string, columns: number, rows: number, what: string, folded = true) {
  // capture-pane gives exactly the terminal's rows: a frame taller than the terminal scrolls, so
  // the tab bar leaves the top row; one wider wraps, so no line is longer than the terminal.
  const lines = s.replace(/\n$/, "").split("\n");
  assert.ok(lines.length <= rows, `${what}: ${lines.length} rows\n${s}`);
  assert.match(lines[0]!, /^Concord /, `${what}: the tab bar stays on the top row\n${s}`);
  for (const l of lines) assert.ok(stringWidth(l) <= columns, `${what}: ${l}`);
  assert.match(s, /── targets \(2\)/, `${what}: the targets row stays\n${s}`);
  // While a step starts, lanes appear as their streams begin: fewer than nine may exist yet.
  const more = Number(/\+(\d+) more/.exec(s)?.[1] ?? 0);
  if (folded) assert.ok(more > 0, `${what}: the lanes fold with a count\n${s}`);
  const shown = lanes(s);
  assert.ok(shown.length >= 1 && shown.length + more <= 9 && shown.length < 9, `${what}: ${shown.length} lanes drawn, ${more} folded\n${s}`);
  assert.equal(new Set(shown.map((l) => l.id)).size, shown.length, `${what}: no lane drawn twice (no stale fragments)\n${s}`);
}

test(
  "nine lanes at 70x20 and 60x18 in tmux: lanes fold, the selected one stays in view, the frame never overflows (#12.23)",
  {
    skip: hasTmux ? false : "tmux is not installed",
    timeout: 240_000,
  },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-e2e-fold-"));
    const local = `{ backend: local, model: tiny, path: '${model}' }`;
    const file = join(dir, "models.yaml");
    writeFileSync(
      file,
      `models:\n${["gen-a", "gen-b", "gen-c", "judge", "tgt-1", "tgt-2"].map((n) => `  ${n}: ${local}\n`).join("")}` +
        `roles:\n  generators: [gen-a, gen-b, gen-c]\n  evaluators: [judge]\n  targets: [tgt-1, tgt-2]\n`,
    );
    const cmd = `cd '${root}' && CONCORD_SESSIONS_DIR='${dir}/sessions' CONCORD_CONFIG_DIR='${dir}/config' node test/concord-from-source.mjs --models '${file}'; echo "EXITED $?"; sleep 60`;
    tmux("new-session", "-d", "-s", name, "-x", "70", "-y", "20", cmd);
    try {
      // While the first step streams: every frame read fits.
      let s = await waitFor("lanes streaming", (x) => lanes(x).length > 0 || /EXITED/.test(x), 90_000);
      assert.doesNotMatch(s, /EXITED/, s);
      assertFits(s, 70, 20, "70x20 while streaming", false);
      s = await waitFor("the scored step", (x) => /step 1 your call/.test(x) && /\+\d+ more/.test(x), 90_000);
      assertFits(s, 70, 20, "70x20 scored");
      assert.equal(lanes(s)[0]!.selected, true, "the first lane starts selected");

      // Down to the ninth lane and back up: the selected lane is always one of those drawn.
      for (let i = 1; i <= 8; i++) {
        keys("j");
        s = await waitFor(`lane ${i + 1} selected`, (x) => new RegExp(`^selected gen-${"abc"[Math.floor(i / 3)]}#${i % 3}\\b`, "m").test(x), 10_000);
        assertFits(s, 70, 20, `70x20, lane ${i + 1}`);
        assert.equal(lanes(s).find((l) => l.selected)?.id, `gen-${"abc"[Math.floor(i / 3)]}#${i % 3}`, s);
      }

      tmux("resize-window", "-t", name, "-x", "60", "-y", "18");
      s = await waitFor("the 60x18 frame", (x) => x.split("\n").every((l) => stringWidth(l) <= 60) && /^Concord /.test(x) && lanes(x).length > 0, 10_000);
      assertFits(s, 60, 18, "60x18");
      assert.equal(lanes(s).find((l) => l.selected)?.id, "gen-c#2", `the selected lane survives the resize\n${s}`);
      keys("k");
      s = await waitFor("lane 8 selected", (x) => /^selected gen-c#1\b/m.test(x), 10_000);
      assertFits(s, 60, 18, "60x18 after moving up");

      // A new step at the smallest size: streaming lanes fold as well.
      keys("r");
      s = await waitFor("step 1 again", (x) => /step 1 generating/.test(x) && lanes(x).length > 0, 60_000);
      assertFits(s, 60, 18, "60x18 while regenerating", false);
      keys("q");
      await waitFor("exit", (x) => /EXITED 0/.test(x), 15_000);
    } finally {
      spawnSync("tmux", ["kill-session", "-t", name]);
    }
  },
);
