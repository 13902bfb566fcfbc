// Crash safety of session autosave: an ensemble session on the embedded model, autosaving after
// every sentence, is killed with SIGKILL at random moments 25 times and restarted from its file.
// After every kill the file must load (never corrupt), hold at least every sentence whose save
// was acknowledged, and keep everything the previous run had (resume never loses a sentence).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSession } from "../../src/state/sessions.js";
import { seeded, sleep, watch, type Watched } from "../fixtures/faults/harness.js";
import { anyModelFile } from "../support/models.js";
import { bundledScript } from "../support/bundled.js";

const MODEL_FILE = anyModelFile();
const KILLS = 25;

const dir = mkdtempSync(join(tmpdir(), "concord-crash-session-"));
after(() => rmSync(dir, { recursive: true, force: true }));

// The child is started about 27 times: bundled once, it starts without compiling TypeScript.
const CHILD = bundledScript("test/fixtures/faults/session-child.ts");

async function startChild(file: string): Promise<Watched> {
  return watch(spawn(process.execPath, [await CHILD, file, MODEL_FILE], { stdio: ["pipe", "pipe", "pipe"] }));
}

describe("crash safety: session autosave", () => {
  test(
    `${KILLS} SIGKILLs during an autosaving ensemble session: the file always loads and keeps every acknowledged sentence`,
    { timeout: 150_000 },
    async (t) => {
      const file = join(dir, "crash-session.json");
      const rnd = seeded(2024);
      let prev: Array<{ text: string; at: string }> = [];
      let lost = 0;
      let corrupt = 0;
      let killedDuringSave = 0;
      const acks: number[] = [];
      // Two runs warm up ahead (imports, model load) so a restart costs no start-up time.
      const warm = [await startChild(file), await startChild(file)];
      for (let kill = 0; kill < KILLS; kill++) {
        const cur = warm.shift()!;
        assert.ok(await cur.waitLine(/^ready$/, 30_000), `child ${kill} got ready: ${cur.lines.join(" | ")}`);
        cur.child.stdin!.write("go\n");
        if (kill + warm.length + 1 < KILLS) warm.push(await startChild(file));
        const first = await cur.waitLine(/^saved \d+/, 30_000);
        assert.ok(first, `child ${kill} saved something: ${cur.lines.slice(-5).join(" | ")}`);
        await sleep(20 + Math.floor(rnd() * 600));
        cur.child.kill("SIGKILL");
        const { signal } = await cur.exited;
        assert.equal(signal, "SIGKILL", `child ${kill} was killed, not ended: ${cur.lines.slice(-5).join(" | ")}`);
        const acked = Math.max(0, ...cur.lines.filter((l) => l.startsWith("saved ")).map((l) => Number(l.slice(6))));
        acks.push(acked);
        assert.ok(existsSync(file));
        let s;
        try {
          s = await loadSession(file);
        } catch (err) {
          corrupt++;
          assert.fail(`kill ${kill}: the session file does not load: ${(err as Error).message}`);
        }
        const sentences = s.chain.sentences;
        if (sentences.length < acked) lost++;
        assert.ok(sentences.length >= acked, `kill ${kill}: ${sentences.length} sentences on disk, ${acked} acknowledged`);
        for (let i = 0; i < prev.length; i++) {
          if (sentences[i]?.text !== prev[i].text || sentences[i]?.at !== prev[i].at) {
            lost++;
            assert.fail(`kill ${kill}: sentence ${i} changed or vanished after resume`);
          }
        }
        if (sentences.length > acked) killedDuringSave++;
        prev = sentences.map((x) => ({ text: x.text, at: x.at }));
      }
      for (const w of warm) w.child.kill("SIGKILL");
      await Promise.all(warm.map((w) => w.exited));
      const leftovers = readdirSync(dir).filter((n) => n !== "crash-session.json");
      t.diagnostic(
        `session kills: ${KILLS}; sentences at the end: ${prev.length}; acknowledged per run: ${acks.join(",")}; corrupt: ${corrupt}; lost: ${lost}; runs whose last save landed unacknowledged: ${killedDuringSave}; temp files left by killed saves: ${leftovers.length}`,
      );
      if (process.env.FAULTS_TABLE)
        console.log(`session: kills ${KILLS}, final sentences ${prev.length}, corrupt ${corrupt}, lost ${lost}, temp files left ${leftovers.length}`);
      assert.equal(corrupt + lost, 0);
      assert.ok(prev.length > KILLS, "the session made progress across restarts");
    },
  );
});
