// A full disk under the model-side writers: the response cache, the exchange recorder and the
// genex recording writer. write(2) is made to come back short (as on a nearly full disk) and, on
// a real small tmpfs when this machine lets the tests mount one, the disk is really full. No
// writer may leave a cut file while saying it succeeded, and every earlier byte is kept.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fs, { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { execFileSync, spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CachedBackend } from "../../src/backends/cache.js";
import { Recorder, RecordingBackend } from "../../src/backends/recorder.js";
import { loadRecording } from "../../src/backends/replay.js";
import { writeRecordingFile, type RecordingConversion } from "../../src/backends/genex/recording.js";
import { collect, type CompletionRequest } from "../../src/backends/types.js";
import { WriteError } from "../../src/fsutil/write.js";
import { DeterministicTextBackend } from "../doubles/deterministic-backend.js";
import { oneLineProblem, mountTmpfs, TMPFS_SKIP, withShortWrites } from "../fixtures/faults/harness.js";

const tmp = (p: string) => mkdtempSync(join(tmpdir(), `concord-writers-${p}-`));
const prompt = (content: string) => ({ kind: "chat" as const, messages: [{ role: "user" as const, content }] });
const greedy = (content: string): CompletionRequest => ({ prompt: prompt(content), maxTokens: 8, temperature: 0 });

/** Every file under `dir`, recursively, with its bytes. */
function snapshot(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(p, readFileSync(p));
    }
  };
  walk(dir);
  return out;
}
const temps = (files: Iterable<string>) => [...files].filter((f) => /\.concord-\d+-[0-9a-f]{8}\.tmp$/.test(f));

function assertNamed(err: unknown, file: string): void {
  assert.ok(err instanceof WriteError, `not a WriteError: ${String(err)}`);
  assert.equal(oneLineProblem(err.message), null, err.message);
  assert.ok(err.message.includes(file), `does not name ${file}: ${err.message}`);
  assert.match(err.message, /disk full|ENOSPC/);
  assert.match(err.message, /kept|nothing was written/);
}

describe("the response cache on a full disk", () => {
  test("a short write leaves no entry and no temporary; the answer still arrives; the old entries stay", async () => {
    const dir = tmp("cache");
    try {
      const inner = new DeterministicTextBackend();
      const cached = new CachedBackend(inner, { dir, model: "m" });
      const first = await collect(cached.stream(greedy("first")));
      // Entries reach the disk in batches (the cache's log): flushed, the first one is there.
      await cached.flush();
      const before = snapshot(dir);
      assert.ok(before.size >= 1);

      const second = await withShortWrites(40, async () => {
        const answer = await collect(cached.stream(greedy("second")));
        await cached.flush();
        return answer;
      });
      assert.ok(second.text.length > 0, "the request the cache was meant to speed up still answers");
      assert.equal(cached.stats().unwritten, 1);
      const after = snapshot(dir);
      assert.deepEqual(temps(after.keys()), []);
      assert.deepEqual([...after.keys()], [...before.keys()], "no new (cut) file was left");
      for (const [f, b] of before) assert.ok(after.get(f)!.equals(b), `${f} changed: the cut append was not taken back`);

      // A later run reads nothing corrupt: the first answer is a hit, the second is asked again.
      await cached.close();
      const again = new CachedBackend(inner, { dir, model: "m" });
      assert.deepEqual(await collect(again.stream(greedy("first"))), first);
      await collect(again.stream(greedy("second")));
      assert.deepEqual([again.stats().hits, again.stats().misses, again.stats().corrupt], [1, 1, 0]);
      // Its entry goes out now, not on a timer inside the next test's injected short writes.
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the recorder on a full disk", () => {
  test("a short write cuts the line back, stops the recording and names the file; earlier lines stay whole", async () => {
    const dir = tmp("rec");
    try {
      const file = join(dir, "run.jsonl");
      const recorder = new Recorder(file, { source: "test" });
      const backend = new RecordingBackend(new DeterministicTextBackend(), recorder);
      await collect(backend.stream(greedy("one")));
      await collect(backend.stream(greedy("two")));
      await recorder.flush();
      const before = readFileSync(file);
      assert.equal(before.toString().trim().split("\n").length, 3, "header and two exchanges");

      // The model answers; the line recording it does not fit.
      await withShortWrites(50, () => collect(backend.stream(greedy("three".repeat(200)))));
      // Later exchanges are not written after the gap, even with room again.
      await collect(backend.stream(greedy("four")));
      const err = await backend.close().then(
        () => undefined,
        (e: unknown) => e,
      );
      assertNamed(err, file);
      assert.ok(readFileSync(file).equals(before), "the recording is exactly what it was before the failed line");
      const loaded = await loadRecording(file);
      assert.equal(loaded.exchanges.length, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the header itself does not fit: nothing is left behind, and the failure names the file", async () => {
    const dir = tmp("rec-head");
    try {
      const file = join(dir, "new.jsonl");
      const backend = new RecordingBackend(new DeterministicTextBackend(), new Recorder(file));
      await withShortWrites(10, () => collect(backend.stream(greedy("one"))));
      const err = await backend.close().then(
        () => undefined,
        (e: unknown) => e,
      );
      assertNamed(err, file);
      assert.equal(statSync(file).size, 0, "no cut header line");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function conversion(n: number, pad: number): RecordingConversion {
  return {
    header: { schema: 1, kind: "concord-recording", created: "2026-12-06T00:00:00.000Z", source: "genex" },
    exchanges: Array.from({ length: n }, (_, i) => ({
      type: "probe" as const,
      backend: `g${i}`,
      error: "x".repeat(pad),
    })),
  };
}

describe("the genex recording writer on a full disk", () => {
  test("a short write keeps the previous recording whole and says so, naming it", async () => {
    const dir = tmp("genex");
    try {
      const file = join(dir, "trace.jsonl");
      await writeRecordingFile(file, conversion(3, 10));
      const before = readFileSync(file);
      const err = await withShortWrites(1000, () => writeRecordingFile(file, conversion(50, 500))).then(
        () => undefined,
        (e: unknown) => e,
      );
      assertNamed(err, file);
      assert.ok(readFileSync(file).equals(before));
      assert.deepEqual(temps(snapshot(dir).keys()), []);
      // A new file that does not fit is not left cut either.
      const fresh = join(dir, "fresh.jsonl");
      const err2 = await withShortWrites(1000, () => writeRecordingFile(fresh, conversion(50, 500))).then(
        () => undefined,
        (e: unknown) => e,
      );
      assertNamed(err2, fresh);
      assert.equal(existsSync(fresh), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test("a real full tmpfs: cache, recorder and genex writer keep every earlier byte", { skip: TMPFS_SKIP, timeout: 60_000 }, async () => {
  const fsys = mountTmpfs(128)!;
  try {
    const dir = fsys.dir;
    const cacheDir = join(dir, "cache");
    const recFile = join(dir, "rec.jsonl");
    const genexFile = join(dir, "genex.jsonl");
    const inner = new DeterministicTextBackend();
    const cached = new CachedBackend(inner, { dir: cacheDir, model: "m" });
    const recorder = new Recorder(recFile);
    const recording = new RecordingBackend(cached, recorder);
    await collect(recording.stream(greedy("first")));
    await cached.flush();
    await recorder.flush();
    await writeRecordingFile(genexFile, conversion(3, 10));
    // Fill the disk: one big file until ENOSPC.
    const fd = fs.openSync(join(dir, "filler"), "w");
    try {
      for (;;) if (fs.writeSync(fd, Buffer.alloc(4096, 1)) < 4096) break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
    } finally {
      fs.closeSync(fd);
    }
    const before = snapshot(dir);
    before.delete(join(dir, "filler"));
    // Entries go out in batches; a batch of many (more than the last page's free bytes) cannot fit.
    for (let i = 0; i < 40; i++) {
      const answer = await collect(recording.stream(greedy(`long prompt ${i} `.repeat(50))));
      assert.ok(answer.text.length > 0);
    }
    await cached.flush();
    assert.ok(cached.stats().unwritten >= 1, "the cache counted what it could not write");
    assertNamed(
      await recorder.flush().then(
        () => undefined,
        (e: unknown) => e,
      ),
      recFile,
    );
    assertNamed(
      await writeRecordingFile(genexFile, conversion(50, 500)).then(
        () => undefined,
        (e: unknown) => e,
      ),
      genexFile,
    );
    const after = snapshot(dir);
    after.delete(join(dir, "filler"));
    assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
    // Appends that fitted in the last page stay; every earlier byte is as it was, and what was
    // added is whole lines.
    for (const [f, b] of before) {
      const now = after.get(f)!;
      assert.ok(now.subarray(0, b.length).equals(b), `${f}: an earlier byte changed`);
      if (now.length > b.length) assert.equal(now.at(-1), 0x0a, `${f}: a cut line was left`);
    }
  } finally {
    fsys.unmount();
  }
});

const ROOT = new URL("../..", import.meta.url).pathname;
const MODEL = join(ROOT, "..", "shared", "models", "stories260K.gguf");
const HAVE_TMUX = (() => {
  try {
    execFileSync("tmux", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

test(
  "two interfaces on one session (`concord --session`, two real processes): the second is told at open, in one line naming the holder",
  { skip: !(HAVE_TMUX && existsSync(MODEL)) && "needs tmux and ../shared/models", timeout: 120_000 },
  async (t) => {
    const { writeSession } = await import("../../src/state/sessions.js");
    const { tmuxDriver } = await import("../support/tmux.js");
    const { builtinProblems } = await import("../../src/problems/builtin.js");
    const dir = tmp("two-open");
    const file = join(dir, "s.json");
    await writeSession(file, {
      schema: 1,
      id: "two",
      createdAt: "2026-12-06T00:00:00.000Z",
      updatedAt: "2026-12-06T00:00:00.000Z",
      problem: builtinProblems()[0],
      roles: { generators: ["local"], evaluators: ["local"], targets: [] },
      chain: { sentences: [{ text: "Kept.", author: "local", decision: "evaluator", candidates: [], at: "2026-12-06T00:00:00.000Z" }], finished: false },
      targets: { answers: [], consistency: [] },
    });
    const names = [`concord-two-a-${process.pid}`, `concord-two-b-${process.pid}`];
    const launch = (name: string) =>
      execFileSync("tmux", [
        "new-session",
        "-d",
        "-s",
        name,
        "-x",
        "250",
        "-y",
        "30",
        `cd '${ROOT}' && CONCORD_MODEL='${MODEL}' CONCORD_MODELS= CONCORD_CONFIG_DIR='${dir}/config-${name}' NO_COLOR=1 node test/concord-from-source.mjs --session '${file}'; echo "EXITED $?"; sleep 60`,
      ]);
    t.after(() => {
      for (const n of names) spawnSync("tmux", ["kill-session", "-t", n]);
      rmSync(dir, { recursive: true, force: true });
    });
    const a = tmuxDriver(names[0]);
    const b = tmuxDriver(names[1]);
    launch(names[0]);
    await a.waitFor("the first interface on the session", (s) => s.includes("Kept."));
    assert.ok(existsSync(`${file}.lock`), "the first interface holds the lock from the moment it opened the session");
    launch(names[1]);
    const screen = await b.waitFor("the second to exit", (s) => /EXITED \d+/.test(s));
    const said = screen.split("\n").filter((l) => /^concord: /.test(l));
    assert.equal(said.length, 1, screen);
    assert.match(said[0], /s\.json is in use by pid \d+ on .*\(the interface, since .*\); refusing a second writer/);
    assert.match(screen, /EXITED 2/);
    // The first may have saved meanwhile (its race runs); the lock is still its own and the chain it resumed is whole.
    const holder = Number(/in use by pid (\d+)/.exec(said[0])![1]);
    assert.equal(JSON.parse(readFileSync(`${file}.lock`, "utf8")).pid, holder);
    assert.equal(JSON.parse(readFileSync(file, "utf8")).chain.sentences[0].text, "Kept.");
    assert.ok(a.screen().includes("Kept."), "the first interface is still running");
  },
);

test("a saved session opened from the Problems screen's list is refused at open while another live process holds it", async (t) => {
  const { writeSession, createAutosaver } = await import("../../src/state/sessions.js");
  const { sessionsPort } = await import("../../src/app/ports/screen-ports.js");
  const { LockedError } = await import("../../src/fsutil/lock.js");
  const { builtinProblems } = await import("../../src/problems/builtin.js");
  const { hostname } = await import("node:os");
  const { spawn } = await import("node:child_process");
  const dir = tmp("open-list");
  const file = join(dir, "s.json");
  await writeSession(file, {
    schema: 1,
    id: "s",
    createdAt: "2026-12-06T00:00:00.000Z",
    updatedAt: "2026-12-06T00:00:00.000Z",
    problem: builtinProblems()[0],
    roles: { generators: ["g"], evaluators: ["e"], targets: [] },
    chain: { sentences: [], finished: false },
    targets: { answers: [], consistency: [] },
  });
  // Another live process holds the session (its lock file, as that process wrote it).
  const other = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
  t.after(() => {
    other.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  fs.writeFileSync(`${file}.lock`, JSON.stringify({ pid: other.pid, host: hostname(), startedAt: "2026-12-06T05:00:00.000Z", what: "the interface" }) + "\n");
  const saver = createAutosaver(dir);
  const port = sessionsPort(dir, (f) => saver.claim(f));
  const err = await port.load(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof LockedError, String(err));
  assert.equal(oneLineProblem(err.message), null);
  assert.match(err.message, new RegExp(`is in use by pid ${other.pid} on .*\\(the interface, since 2026-12-06 05:00:00 UTC\\)`));
  // Once that process is gone, the same open takes the session.
  other.kill("SIGKILL");
  await new Promise((r) => other.once("exit", r));
  const session = await port.load(file);
  assert.equal(session.id, "s");
  assert.ok(JSON.parse(readFileSync(`${file}.lock`, "utf8")).pid === process.pid, "this process holds it now");
  saver.release();
  assert.equal(existsSync(`${file}.lock`), false);
});

test(
  "a read-only folder reads as read-only, naming the folder, from `concord run`, `import genex` and `models add`",
  { skip: (TMPFS_SKIP || !existsSync(MODEL)) && "needs a tmpfs (root) and ../shared/models", timeout: 120_000 },
  (t) => {
    const ro = tmp("ro");
    const work = tmp("ro-work");
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k,ro", "tmpfs", ro]);
    t.after(() => {
      execFileSync("umount", [ro]);
      rmSync(ro, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    });
    const spec = join(work, "exp.yaml");
    fs.writeFileSync(spec, ["name: ro", "problems: { set: builtin }", "conditions: [empty]", "targets: [a]", `out: ${join(ro, "results")}`].join("\n"));
    const genex = join(work, "genex");
    fs.mkdirSync(genex);
    fs.writeFileSync(
      join(genex, "Qwen_QwQ-32B_zero_shot_empty.jsonl"),
      JSON.stringify({ "Row Number": 1, "LLM Name": "Qwen/QwQ-32B", "LLM Answer": "1", Result: "Correct" }) + "\n",
    );
    const env = { ...process.env, CONCORD_MODEL: MODEL, CONCORD_MODELS: "", NO_COLOR: "1", CONCORD_CONFIG_DIR: join(ro, "cfg") };
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [join(ROOT, "test", "concord-from-source.mjs"), ...args], { cwd: ROOT, env, encoding: "utf8", timeout: 100_000 });
    const runs: Array<[string, ReturnType<typeof cli>, string]> = [
      ["concord run", cli("run", spec), join(ro, "results")],
      [
        "concord import genex",
        cli("import", "genex", genex, "--out", join(ro, "imported"), "--dataset", "../shared/data/medcalc-bench/test_data.csv"),
        join(ro, "imported"),
      ],
      ["concord models add", cli("models", "add", "m", "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "--model", "x"), join(ro, "cfg")],
    ];
    for (const [what, r, folder] of runs) {
      const lines = r.stderr
        .trim()
        .split("\n")
        // The plan line ("N records to write: M model calls") comes before any work; the error is the rest.
        .filter((l) => l.startsWith("concord: ") && !/ to write: \d+ model calls/.test(l));
      assert.notEqual(r.status, 0, what);
      assert.equal(lines.length, 1, `${what}: ${r.stderr}`);
      assert.ok(lines[0].includes(folder), `${what} names ${folder}: ${lines[0]}`);
      assert.match(lines[0], new RegExp(`read-only file system \\(EROFS\\) under ${ro.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`), what);
      assert.doesNotMatch(lines[0], /no such|ENOENT|cannot be read/, what);
    }
  },
);
