import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createAutosaver,
  exportChainText,
  exportSessionMarkdown,
  listSessions,
  loadSession,
  resolveSessionsDir,
  sessionFileData,
  sessionPath,
  toSessionFile,
  writeSession,
} from "../../src/state/sessions.js";
import type { SessionSnapshot } from "../../src/state/store.js";
import { demoProblem } from "../doubles/scripted-driver.js";

const snap = (n: number): SessionSnapshot => ({
  info: { id: "test-t-1-x", createdAt: "2026-01-01T00:00:00.000Z" },
  problem: demoProblem,
  roles: { generators: ["alpha"], evaluators: ["judge"], targets: ["t1", "t2"] },
  chain: {
    finished: false,
    sentences: Array.from({ length: n }, (_, i) => ({
      text: `Sentence ${i + 1} | with a pipe.`,
      author: i % 2 ? "human" : "alpha",
      decision: i % 2 ? ("human-written" as const) : ("evaluator" as const),
      candidates:
        i % 2
          ? []
          : [
              {
                id: "alpha#0",
                generator: "alpha",
                sampleIndex: 0,
                text: `Sentence ${i + 1} | with a pipe.`,
                raw: "r",
                scores: [{ evaluator: "judge", meanNll: 1, perplexity: 2.72 }],
                meanPerplexity: 2.72,
                endOfThought: false,
              },
            ],
      evaluatorPick: i % 2 ? undefined : "alpha#0",
      acceptedId: i % 2 ? undefined : "alpha#0",
      at: "2026-01-01T00:00:00.000Z",
    })),
  },
  targets: {
    answers: [{ target: "t1", chainLength: 1, raw: "42", grade: { answer: "42", correct: true } }],
    consistency: [
      { chainLength: 1, pairs: { "t1|t2": true }, consistency: 1, accuracy: 0.5, split: { consistentCorrect: 0, consistentWrong: 1, inconsistent: 0 } },
    ],
  },
});

const tmp = () => mkdtempSync(join(tmpdir(), "concord-sessions-"));

describe("sessions", () => {
  test("directory: flag, then env, then setting, then ./sessions", () => {
    assert.equal(resolveSessionsDir({ dir: "a", env: { CONCORD_SESSIONS_DIR: "/e" }, setting: "/s", cwd: "/w" }), "/w/a");
    assert.equal(resolveSessionsDir({ env: { CONCORD_SESSIONS_DIR: "/e" }, setting: "/s", cwd: "/w" }), "/e");
    assert.equal(resolveSessionsDir({ env: {}, setting: "/s", cwd: "/w" }), "/s");
    assert.equal(resolveSessionsDir({ env: {}, cwd: "/w" }), "/w/sessions");
  });

  test("write then load gives the same session back", async () => {
    const dir = tmp();
    const file = sessionPath(dir, "test-t-1-x");
    const s = toSessionFile(snap(3), new Date("2026-01-02T00:00:00Z"));
    await writeSession(file, s);
    const { tree, ...rest } = await loadSession(file);
    const { tree: written, ...expected } = s;
    assert.deepEqual(rest, JSON.parse(JSON.stringify(expected)));
    assert.deepEqual(tree, written);
    assert.deepEqual(readdirSync(dir), ["test-t-1-x.json"], "no temp file is left behind");
  });

  test("a bad session is refused and the good file on disk is kept", async () => {
    const dir = tmp();
    const file = sessionPath(dir, "x");
    const good = toSessionFile(snap(2));
    await writeSession(file, good);
    const bad = { ...good, chain: { ...good.chain, sentences: [{ ...good.chain.sentences[0], author: 7 }] } };
    await assert.rejects(writeSession(file, bad as never), /field chain\.sentences\.0\.author/);
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), JSON.parse(JSON.stringify(sessionFileData(good))));
  });

  test("truncated, fuzzed and other-schema files give one line naming the file and place", async () => {
    const dir = tmp();
    const file = join(dir, "s.json");
    const text = JSON.stringify(sessionFileData(toSessionFile(snap(2))), null, 2);
    writeFileSync(file, text.slice(0, Math.floor(text.length / 2)));
    await assert.rejects(loadSession(file), (e: Error) => e.message.startsWith(file) && /line \d+ column \d+/.test(e.message) && !e.message.includes("\n"));
    writeFileSync(file, text.replace('"schema": 2', '"schema": 4'));
    await assert.rejects(loadSession(file), (e: Error) => e.message.startsWith(`${file}: schema 4 is not a Concord session`));
    writeFileSync(file, text.replace('"finished": false', '"finished": "no"'));
    await assert.rejects(loadSession(file), /field chain\.finished: /);
    // Random byte damage never throws anything but a one-line error naming the file.
    for (let i = 0; i < 50; i++) {
      const bytes = Buffer.from(text);
      for (let k = 0; k < 3; k++) bytes[(i * 7919 + k * 104729) % bytes.length] = (i * 31 + k * 17) % 256;
      writeFileSync(file, bytes);
      try {
        await loadSession(file);
      } catch (e) {
        assert.ok((e as Error).message.startsWith(file) && !(e as Error).message.includes("\n"), (e as Error).message);
      }
    }
  });

  test("autosave writes in order and ends with the newest state; list shows good and bad files", async () => {
    const dir = tmp();
    const saver = createAutosaver(dir);
    const writes = [1, 2, 3, 4, 5].map((n) => saver.save(snap(n)));
    await Promise.all(writes);
    await saver.idle();
    const loaded = await loadSession(sessionPath(dir, "test-t-1-x"));
    assert.equal(loaded.chain.sentences.length, 5);
    writeFileSync(join(dir, "broken.json"), "{");
    const list = await listSessions(dir);
    assert.equal(list.length, 2);
    assert.equal(list.find((e) => e.id === "test-t-1-x")?.sentences, 5);
    assert.match(list.find((e) => e.id === "broken")!.error!, /broken\.json: file ends early/);
  });

  test("export: chain as plain text, session as Markdown", () => {
    const s = toSessionFile(snap(2));
    assert.equal(exportChainText(s.chain), "Sentence 1 | with a pipe. Sentence 2 | with a pipe.\n");
    const md = exportSessionMarkdown(s);
    assert.match(md, /^# Session test-t-1-x/);
    assert.match(md, /### 2\. human \(human-written\)/);
    assert.match(md, /\| alpha#0 \| Sentence 1 \\\| with a pipe\. \| 2\.72 \| 2\.72 \| pick, accepted \|/);
    assert.match(md, /\| 1 \| 1\.00 \| 0\.50 \| 0\.00 \| 1\.00 \| 0\.00 \|/);
  });
});

test("only Concord's own temporaries are removed: a dead writer's, or an old one; never the person's files", async () => {
  const { mkdtemp, writeFile, utimes, readdir } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { spawnSync } = await import("node:child_process");
  const { removeStaleTemps } = await import("../../src/state/sessions.js");
  const dir = await mkdtemp(join(tmpdir(), "concord-temps-"));
  // A PID that has surely exited: a child that has been waited for.
  const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
  const keep = ["s1.json", "s1.json.1", "s1.json.20261205", "s2.json.deadbeef", "notes.json.1a2b3c4d"];
  for (const n of keep) await writeFile(join(dir, n), "mine");
  await writeFile(join(dir, `.s1.json.concord-${dead}-0123abcd.tmp`), "{partial");
  await writeFile(join(dir, `.s1.json.concord-${process.pid}-89abcdef.tmp`), "{a save running now");
  await writeFile(join(dir, `.s3.json.concord-${process.pid}-00000000.tmp`), "{old");
  const old = new Date(Date.now() - 2 * 3_600_000);
  for (const n of keep) await utimes(join(dir, n), old, old);
  await utimes(join(dir, `.s3.json.concord-${process.pid}-00000000.tmp`), old, old);
  assert.equal(await removeStaleTemps(dir), 2);
  assert.deepEqual((await readdir(dir)).sort(), [`.s1.json.concord-${process.pid}-89abcdef.tmp`, ...keep].sort());
});
