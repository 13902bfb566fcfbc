// Crash safety of `concord run`: an experiment of builtin problems on the embedded model is
// killed with SIGKILL at random moments 25 times and run again. After every kill: each answer
// the run reported as written is on disk, whole and unchanged, no answer is there twice, every
// file parses, and a run that finishes has every answer exactly once.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseResultsText } from "../../src/results/store.js";
import { resultKey } from "../../src/results/schema.js";
import { seeded, sleep, watch, type Watched } from "../fixtures/faults/harness.js";
import { anyModelFile } from "../support/models.js";

const MODEL_FILE = anyModelFile();
const KILLS = 25;
// 5 builtin problems x 4 conditions x 5 targets.
const TOTAL = 100;

const root = mkdtempSync(join(tmpdir(), "concord-crash-exp-"));
after(() => rmSync(root, { recursive: true, force: true }));

const spec = (out: string) => `name: crash
problems: {set: builtin}
conditions: [empty, default-greedy, default-sampled, {kind: transfer, source: src}]
targets: [t1, t2, t3, t4, t5]
cot: {maxTokens: 48, seed: 1}
answerTokens: 16
out: ${out}
`;

let fifoCount = 0;
/** `concord run` on a named pipe as its spec: it starts up, then waits until the spec is written. */
function startRun(): { w: Watched; fifo: string } {
  const fifo = join(root, `spec-${fifoCount++}.yaml`);
  assert.equal(spawnSync("mkfifo", [fifo]).status, 0, "mkfifo");
  const child = spawn(process.execPath, ["test/concord-from-source.mjs", "run", fifo], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CONCORD_MODEL: MODEL_FILE, CONCORD_MODELS: "", CONCORD_CONFIG_DIR: join(root, "config"), CONCORD_NO_CACHE: "1" },
  });
  return { w: watch(child), fifo };
}

// concord.lock: the lock of a killed run, taken over by the next run (its PID is gone).
const KNOWN = new Set(["results.jsonl", "cots.ndjson", "summary.csv", "report.md", "concord.lock"]);

describe("crash safety: concord run", () => {
  test(`${KILLS} SIGKILLs during experiment runs: every reported answer intact, none twice, every file parses`, { timeout: 170_000 }, async (t) => {
    const rnd = seeded(7);
    let out = "";
    let outs = 0;
    const seen = new Map<string, string>(); // resultKey -> the exact line
    let completed = 0;
    let kills = 0;
    let lost = 0;
    let dupes = 0;
    let corrupt = 0;
    const stray = new Set<string>();
    let killedBeforeFirstAnswer = 0;
    const newOut = () => {
      out = join(root, `out-${outs++}`);
      mkdirSync(out);
      seen.clear();
    };
    newOut();

    const check = (when: string, reported: number, before: number) => {
      const path = join(out, "results.jsonl");
      const text = existsSync(path) ? readFileSync(path, "utf8") : "";
      const { records, issues } = parseResultsText(text, path);
      const bad = issues.filter((i) => !i.torn);
      corrupt += bad.length;
      assert.deepEqual(bad, [], `${when}: results.jsonl has damaged lines`);
      const keys = records.map(resultKey);
      const unique = new Set(keys);
      dupes += keys.length - unique.size;
      assert.equal(unique.size, keys.length, `${when}: an answer is written twice`);
      const lines = new Map(
        text
          .split("\n")
          .filter((l) => l.trim())
          .map((l) => {
            try {
              return [resultKey(JSON.parse(l)), l] as [string, string];
            } catch {
              return ["", l] as [string, string];
            }
          }),
      );
      for (const [k, line] of seen) {
        if (lines.get(k) !== line) lost++;
        assert.equal(lines.get(k), line, `${when}: an answer written earlier changed or vanished`);
      }
      // Each "done/total" line is an answer (or a failure) reported after its write completed.
      if (records.length < before + reported) lost += before + reported - records.length;
      assert.ok(records.length >= before + reported, `${when}: ${records.length} answers on disk, ${before} before this run + ${reported} reported`);
      for (const [k, l] of lines) if (k) seen.set(k, l);
      const cots = existsSync(join(out, "cots.ndjson")) ? readFileSync(join(out, "cots.ndjson"), "utf8") : "";
      const cotLines = cots.split("\n");
      const last = cotLines.pop();
      for (const l of cotLines) JSON.parse(l);
      if (last) {
        // A torn last chain is allowed (it is made again); anything else must parse.
        try {
          JSON.parse(last);
        } catch {
          /* torn */
        }
      }
      for (const name of ["summary.csv", "report.md"]) {
        const p = join(out, name);
        if (existsSync(p)) assert.ok(readFileSync(p, "utf8").trim().length > 0, `${when}: ${name} is empty`);
      }
      return records.length;
    };

    const warm = [startRun(), startRun()];
    let onDisk = 0;
    while (kills < KILLS) {
      const cur = warm.shift()!;
      warm.push(startRun());
      // Writing the spec lets the warmed-up run go on.
      await writeFile(cur.fifo, spec(out));
      const started = Date.now();
      // The label may carry the calls sent and the models' load after " · " and " | ".
      let reported = () => cur.w.lines.filter((l) => /^\d+\/\d+ /.test(l) && !/ starting(?: · |$)| already in /.test(l)).length;
      if (rnd() < 0.15) {
        // Some kills land while it loads the model and reads what is there.
        await sleep(Math.floor(rnd() * 1500));
      } else {
        await cur.w.waitLine(/^\d+\/\d+ (?!starting(?: · |$))(?!\d+ answers already in )/, 60_000);
        await sleep(Math.floor(rnd() * 700));
      }
      const alive = cur.w.child.exitCode === null && cur.w.child.signalCode === null;
      if (alive) {
        cur.w.child.kill("SIGKILL");
        kills++;
      }
      const { code, signal } = await cur.w.exited;
      if (alive && reported() === 0) killedBeforeFirstAnswer++;
      const when = `${alive ? `kill ${kills}` : "clean exit"} after ${Date.now() - started} ms (${out})`;
      onDisk = check(when, reported(), onDisk);
      for (const n of readdirSync(out)) if (!KNOWN.has(n)) stray.add(join(out, n));
      if (!alive) {
        assert.equal(code, 0, `a run that was not killed ended with ${code} ${signal}: ${cur.w.lines.slice(-4).join(" | ")}`);
        if (onDisk === TOTAL) {
          // A finished run: every answer exactly once, summary written; start a fresh experiment.
          assert.ok(existsSync(join(out, "summary.csv")) && existsSync(join(out, "report.md")));
          completed++;
          newOut();
          onDisk = 0;
        }
      }
    }
    for (const w of warm) w.w.child.kill("SIGKILL");
    await Promise.all(warm.map((w) => w.w.exited));
    const summary = `experiment kills: ${kills}; runs finished: ${completed}; answers lost: ${lost}; written twice: ${dupes}; damaged lines: ${corrupt}; kills before the first answer: ${killedBeforeFirstAnswer}; stray files (temporary files of interrupted summary writes): ${stray.size} ${[...stray].map((f) => f.replace(root, "")).join(" ")}`;
    t.diagnostic(summary);
    if (process.env.FAULTS_TABLE) console.log(summary);
    assert.equal(lost + dupes + corrupt, 0);
  });
});
