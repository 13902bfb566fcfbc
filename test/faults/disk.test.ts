// Disk faults: a full disk under every writer (a real small tmpfs when this machine lets the
// tests mount one, and an injected short write everywhere), two real processes on one session
// file and on one results folder, a crashed lock holder, the person's own files beside
// Concord's temporaries, a big results file, a chain that outgrows its model's context inside
// `concord run`, and messages that must point the right way.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs, { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { spawn, spawnSync } from "node:child_process";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { appendVerified, WriteError, writeFileVerified, writeFileVerifiedSync } from "../../src/fsutil/write.js";
import { SettingsStore } from "../../src/config/settings.js";
import { appendResults, readResults, writeSummaryFiles, RESULTS_FILE } from "../../src/results/store.js";
import { resultKey, type ResultRecord } from "../../src/results/schema.js";
import { listSessions, writeSession, writeSessionExports, type SessionFile } from "../../src/state/sessions.js";
import type { SessionSnapshot } from "../../src/state/store.js";
import { builtinProblems } from "../../src/problems/builtin.js";
import { parseStructuredText } from "../../src/structured-text.js";
import { readThemeFile, themesDir } from "../../src/ui/theme.js";
import { oneLineProblem, watch, mountTmpfs, shortWrites, TMPFS_SKIP } from "../fixtures/faults/harness.js";

const ROOT = new URL("../..", import.meta.url).pathname;
const BIN = join(ROOT, "test", "concord-from-source.mjs");
const MODEL = join(ROOT, "..", "shared", "models", "stories260K.gguf");
const HAVE_MODEL = existsSync(MODEL);
const CLI_ENV = { ...process.env, CONCORD_MODEL: MODEL, CONCORD_MODELS: "", NO_COLOR: "1" };

/** Counted as the fault report counts them. */
const tally = { inputs: 0, lost: 0, crashes: 0, misleading: 0 };
const rows: string[] = [];
function record(what: string, ok: { lost?: boolean; crashed?: boolean; misleading?: boolean }) {
  tally.inputs++;
  if (ok.lost) tally.lost++;
  if (ok.crashed) tally.crashes++;
  if (ok.misleading) tally.misleading++;
  rows.push(`${what}: lost ${ok.lost ? 1 : 0}, crashed ${ok.crashed ? 1 : 0}, misleading ${ok.misleading ? 1 : 0}`);
}
after(() => {
  const line = `disk faults: ${tally.inputs} tried, ${tally.lost} lost, ${tally.crashes} crashed, ${tally.misleading} misleading`;
  if (process.env.FAULTS_TABLE) console.log([...rows, line].join("\n"));
});

const tmp = (p: string) => mkdtempSync(join(tmpdir(), `concord-disk-${p}-`));
const concordTemps = (dir: string) => readdirSync(dir).filter((n) => /\.concord-\d+-[0-9a-f]{8}\.tmp$/.test(n));

function sessionFile(sentences: number, pad = 0): SessionFile {
  return {
    schema: 1,
    id: "disk",
    createdAt: "2026-12-06T00:00:00.000Z",
    updatedAt: "2026-12-06T00:00:00.000Z",
    problem: builtinProblems()[0],
    roles: { generators: ["g"], evaluators: ["e"], targets: [] },
    chain: {
      sentences: Array.from({ length: sentences }, (_, i) => ({
        text: `Sentence ${i}. ${"x".repeat(pad)}`,
        author: "g",
        decision: "evaluator" as const,
        candidates: [],
        at: "2026-12-06T00:00:00.000Z",
      })),
      finished: false,
    },
    targets: { answers: [], consistency: [] },
  };
}
const snapshotOf = (s: SessionFile, file: string) =>
  ({ info: { id: s.id, file, createdAt: s.createdAt }, problem: s.problem, roles: s.roles, chain: s.chain, targets: s.targets }) as unknown as SessionSnapshot;

function resultRec(i: number, cot = "Think. Then answer."): ResultRecord {
  return {
    schema: 1,
    experiment: "disk",
    condition: { kind: "empty", variant: "full" },
    target: `t${i % 3}`,
    problemId: `p${i}`,
    dataset: "demo",
    reference: { kind: "number", value: String(i) },
    answerRaw: `The answer is ${i}.`,
    answer: String(i),
    correct: true,
    cot,
    meta: {},
  };
}

/** Fill the file system under `dir` completely, then free `leave` bytes. */
function fill(dir: string, leave: number): string {
  const filler = join(dir, "filler");
  const fd = fs.openSync(filler, "w");
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) if (fs.writeSync(fd, chunk) < chunk.length) break;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    fs.closeSync(fd);
  }
  fs.truncateSync(filler, Math.max(0, statSync(filler).size - leave));
  return filler;
}

function assertNamed(err: unknown, file: string): string {
  assert.ok(err instanceof WriteError, `not a WriteError: ${String(err)}`);
  const msg = (err as Error).message;
  assert.equal(oneLineProblem(msg), null, msg);
  assert.ok(msg.includes(file), `does not name ${file}: ${msg}`);
  assert.match(msg, /disk full|ENOSPC/);
  return msg;
}

describe("a full disk: every writer keeps the old file and says so", () => {
  test("real tmpfs: session, exports, summary, results batch, settings (and `models add`)", { skip: TMPFS_SKIP, timeout: 60_000 }, async () => {
    const fsys = mountTmpfs(256)!;
    try {
      const dir = fsys.dir;
      // Old versions first, while there is room.
      const session = join(dir, "s.json");
      await writeSession(session, sessionFile(3));
      const snap = snapshotOf(sessionFile(3), session);
      const exportsOld = await writeSessionExports(snap, dir);
      await writeSummaryFiles(dir, { csv: "a,b\n1,2\n", markdown: "# old\n" });
      await appendResults(dir, [resultRec(1), resultRec(2)]);
      const cfgDir = join(dir, "cfg");
      const settings = new SettingsStore({ cwd: cfgDir, env: {} });
      for (let i = 0; i < 40; i++) settings.saveProfile({ name: `m${i}`, backend: "openai", baseURL: "http://127.0.0.1:9/v1", model: `model-${i}` });
      const files = [session, exportsOld.text, exportsOld.markdown, join(dir, "summary.csv"), join(dir, "report.md"), join(dir, RESULTS_FILE), settings.path];
      const before = new Map(files.map((f) => [f, readFileSync(f)]));
      // 8 KiB left: each write below needs more, so write(2) comes back short, then ENOSPC.
      fill(dir, 8192);
      const big = 40_000;
      const attempts: Array<[string, () => Promise<unknown>]> = [
        [session, () => writeSession(session, sessionFile(30, big / 30))],
        [exportsOld.text, () => writeSessionExports(snapshotOf(sessionFile(30, big / 30), session), dir)],
        [join(dir, "summary.csv"), () => writeSummaryFiles(dir, { csv: "x".repeat(48_000), markdown: "# new\n" })],
        [join(dir, RESULTS_FILE), () => appendResults(dir, [resultRec(3, "c".repeat(big)), resultRec(4)])],
        [settings.path, async () => settings.saveProfile({ name: "big", backend: "openai", baseURL: `http://127.0.0.1:9/${"p".repeat(big)}`, model: "x" })],
      ];
      for (const [file, attempt] of attempts) {
        const err = await attempt().then(
          () => undefined,
          (e: unknown) => e,
        );
        const msg = assertNamed(err, file);
        assert.match(msg, /kept|not written/);
        const lost = files.some((f) => !readFileSync(f).equals(before.get(f)!));
        record(`tmpfs full: ${file.replace(dir, "")}`, { lost });
        assert.equal(lost, false, `a file changed after the failed write of ${file}`);
        assert.deepEqual(concordTemps(dir), []);
      }
      // The CLI as the person ran it: `models add` on a full disk.
      const r = spawnSync(
        process.execPath,
        [BIN, "models", "add", "big", "--backend", "openai", "--base-url", `http://127.0.0.1:9/${"p".repeat(big)}`, "--model", "x"],
        {
          env: { ...CLI_ENV, CONCORD_CONFIG_DIR: cfgDir },
          encoding: "utf8",
        },
      );
      const cliLines = r.stderr.trim().split("\n");
      const misleading = r.status === 0 || /added model/.test(r.stdout) || cliLines.length !== 1 || !cliLines[0].includes(settings.path);
      record("tmpfs full: concord models add", { lost: !readFileSync(settings.path).equals(before.get(settings.path)!), misleading });
      assert.notEqual(r.status, 0, r.stdout);
      assert.equal(cliLines.length, 1, r.stderr);
      assert.match(cliLines[0], /config\.json: disk full/);
      assert.deepEqual(new SettingsStore({ cwd: cfgDir, env: {} }).profiles().length, 40);
    } finally {
      fsys.unmount();
    }
  });

  test("injected short writes: the verified writers, sync and async, replace and append", async () => {
    const dir = tmp("short");
    const file = join(dir, "f.txt");
    writeFileSync(file, "old contents\n");
    // write(2) on a nearly full disk: the first call writes 100 bytes and says so, the next none.
    const writes = shortWrites(0);
    try {
      const cases: Array<[string, () => Promise<unknown> | unknown]> = [
        ["writeFileVerified", () => writeFileVerified(file, "n".repeat(5000))],
        ["writeFileVerifiedSync", () => writeFileVerifiedSync(file, "n".repeat(5000))],
        ["appendVerified", () => appendVerified(file, "n".repeat(5000))],
        ["settings (conf)", () => new SettingsStore({ cwd: dir, env: {} }).setTheme("t".repeat(5000))],
      ];
      const cfgPath = join(dir, "config.json");
      for (const [name, run] of cases) {
        writes.setBudget(1_000_000);
        if (name.startsWith("settings")) new SettingsStore({ cwd: dir, env: {} }).setTheme("dark");
        const before = name.startsWith("settings") ? readFileSync(cfgPath) : readFileSync(file);
        writes.setBudget(100);
        const err = await Promise.resolve()
          .then(run)
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        writes.setBudget(1_000_000);
        assertNamed(err, name.startsWith("settings") ? cfgPath : file);
        const after = name.startsWith("settings") ? readFileSync(cfgPath) : readFileSync(file);
        record(`short write: ${name}`, { lost: !after.equals(before) });
        assert.ok(after.equals(before), `${name} changed the file`);
        assert.deepEqual(concordTemps(dir), []);
      }
    } finally {
      writes.restore();
    }
  });
});

/** A spec of builtin problems on the embedded model; `out` relative to the spec. */
function writeSpec(dir: string, out: string, extra: string[] = [], problems = "{ set: builtin }"): string {
  const file = join(dir, "exp.yaml");
  writeFileSync(
    file,
    [
      "name: disk",
      `problems: ${problems}`,
      "conditions:",
      "  - empty",
      "  - default-greedy",
      "targets: [a, b, c]",
      "cot: { maxTokens: 40 }",
      "answerTokens: 16",
      "concurrency: { global: 2, perModel: 1 }",
      `out: ${out}`,
      ...extra,
    ].join("\n"),
  );
  return file;
}
const TOTAL = 5 * 2 * 3;

describe("concord run", () => {
  test(
    "the disk fills mid-run: it stops at the first failed write, names the file, keeps what was written",
    { skip: TMPFS_SKIP || !HAVE_MODEL, timeout: 120_000 },
    async () => {
      const fsys = mountTmpfs(128)!;
      try {
        const spec = writeSpec(tmp("run-full"), join(fsys.dir, "results"));
        const filler = fill(fsys.dir, 12 * 1024);
        const r = spawnSync(process.execPath, [BIN, "run", spec], { env: CLI_ENV, encoding: "utf8", timeout: 100_000 });
        const errLines = r.stderr.split("\n").filter((l) => /^concord: /.test(l));
        const full = errLines.filter((l) => /disk full|ENOSPC/.test(l));
        const out = join(fsys.dir, "results");
        const text = existsSync(join(out, RESULTS_FILE)) ? readFileSync(join(out, RESULTS_FILE), "utf8") : "";
        const kept = text.split("\n").filter(Boolean);
        const torn = text !== "" && !text.endsWith("\n");
        const misleading = r.status === 0 || full.length !== 1 || !/(results\.jsonl|cots\.ndjson)/.test(full[0] ?? "");
        record("tmpfs fills during concord run", { lost: torn, misleading });
        assert.notEqual(r.status, 0);
        assert.equal(full.length, 1, r.stderr);
        assert.match(full[0], /cannot write (results|chains) .*(results\.jsonl|cots\.ndjson): disk full \(ENOSPC\); .*kept; the run stopped/);
        assert.equal(torn, false);
        kept.forEach((l) => JSON.parse(l));
        assert.ok(kept.length < TOTAL);
        // Room again: the same command resumes and ends with every answer exactly once.
        rmSync(filler);
        const again = spawnSync(process.execPath, [BIN, "run", spec, "--json"], { env: CLI_ENV, encoding: "utf8", timeout: 100_000 });
        assert.equal(again.status, 0, again.stderr);
        const { records } = await readResults(out);
        assert.equal(records.length, TOTAL);
        assert.equal(new Set(records.map(resultKey)).size, TOTAL);
        assert.equal(existsSync(join(out, "concord.lock")), false, "a finished run leaves no lock");
      } finally {
        fsys.unmount();
      }
    },
  );

  test(
    "two runs on one results folder: the second is refused naming the first; a killed holder blocks no one",
    { skip: !HAVE_MODEL, timeout: 120_000 },
    async () => {
      const dir = tmp("two-runs");
      // 40 short problems (GSM8K's format) x 2 conditions x 3 targets: the first run is still going.
      const set = join(dir, "many.jsonl");
      writeFileSync(
        set,
        Array.from({ length: 40 }, (_, i) =>
          JSON.stringify({ question: `Tom has ${i} apples and buys 4 more. How many apples does he have?`, answer: `${i} + 4 = ${i + 4}\n#### ${i + 4}` }),
        ).join("\n") + "\n",
      );
      const spec = writeSpec(dir, "results", [], `{ set: ${set} }`);
      const out = join(dir, "results");
      const first = watch(spawn(process.execPath, [BIN, "run", spec], { env: CLI_ENV, stdio: ["ignore", "pipe", "pipe"] }));
      // Wait until it holds the folder and is writing answers.
      assert.ok(await first.waitLine(/^\d+\/\d+ (?!starting(?: · |$))/, 60_000), first.lines.join(" | "));
      const second = spawnSync(process.execPath, [BIN, "run", spec], { env: CLI_ENV, encoding: "utf8", timeout: 60_000 });
      assert.equal(first.child.exitCode, null, "the first run ended before the second started");
      const lines = second.stderr.trim().split("\n");
      const misleading = second.status === 0 || lines.length !== 1 || !lines[0].includes(`pid ${first.child.pid} on ${hostname()}`);
      record("two concord run on one folder", { misleading });
      assert.notEqual(second.status, 0);
      assert.equal(lines.length, 1, second.stderr);
      assert.match(lines[0], new RegExp(`results is in use by pid ${first.child.pid} on .* \\(concord run, since .*\\); refusing a second writer`));
      // The holder crashes: its lock stays on disk, and the next run takes it over at once.
      first.child.kill("SIGKILL");
      await first.exited;
      assert.ok(existsSync(join(out, "concord.lock")));
      const third = watch(spawn(process.execPath, [BIN, "run", spec], { env: CLI_ENV, stdio: ["ignore", "pipe", "pipe"] }));
      const resumed = await third.waitLine(/^\d+\/\d+ (?!starting(?: · |$))(?!\d+ answers already in )/, 60_000);
      third.child.kill("SIGKILL");
      await third.exited;
      const { records } = await readResults(out);
      const twice = records.length - new Set(records.map(resultKey)).size;
      record("a crashed run's lock", { lost: !resumed, misleading: twice > 0 });
      assert.ok(resumed, third.lines.join(" | "));
      assert.equal(twice, 0);
    },
  );

  test("a chain that outgrows the model's context: the reason is said and the chain is kept", { skip: !HAVE_MODEL, timeout: 120_000 }, async () => {
    const dir = tmp("ctx");
    writeFileSync(join(dir, "models.yaml"), `models:\n  - { name: g, backend: local, model: stories, path: ${MODEL}, contextSize: 128, sequences: 2 }\n`);
    writeFileSync(
      join(dir, "exp.yaml"),
      [
        "name: ctx",
        "models: models.yaml",
        "problems: { set: builtin, ids: [demo-1] }",
        "conditions:",
        "  - { kind: ensemble, generators: [g], evaluators: [g], k: 2, maxSentences: 60, candidateTokens: 16 }",
        "targets: [g]",
        "answerTokens: 8",
        "out: out",
      ].join("\n"),
    );
    const r = spawnSync(process.execPath, [BIN, "run", join(dir, "exp.yaml")], { env: { ...CLI_ENV, CONCORD_MODEL: "" }, encoding: "utf8", timeout: 100_000 });
    const said = r.stderr.split("\n").find((l) => /the chain stopped after \d+ sentences: .*context.*; the chain so far is kept/.test(l));
    // The chain is kept in the run's chain store with why it stopped; a target that could not
    // answer it within its own context is a failure, not a record (it is asked again next run).
    const cots = readFileSync(join(dir, "out", "cots.ndjson"), "utf8");
    const saved = JSON.parse(cots.trim().split("\n")[0]!) as { cot: string; meta: Record<string, unknown> };
    const kept = (saved.meta.chainSentences as number) > 0 && saved.cot.length > 0;
    record("chain outgrows the context in run", { lost: !kept, misleading: !said || /could not be built \(failed\)/.test(r.stderr) });
    assert.ok(said, r.stderr);
    assert.ok(kept, JSON.stringify(saved.meta));
    assert.equal(saved.meta.chainEnd, "failed");
    assert.match(String(saved.meta.chainStopReason), /context/);
    if (existsSync(join(dir, "out", RESULTS_FILE))) {
      const rec = JSON.parse(
        readFileSync(join(dir, "out", RESULTS_FILE), "utf8")
          .trim()
          .split("\n")[0]!,
      ) as ResultRecord;
      assert.equal(rec.cot, saved.cot, "a target that answered was given the kept chain");
    }
  });
});

describe("two interfaces on one session file (two real processes)", () => {
  test("the second is refused naming the first; after the first crashes the second saves", { timeout: 60_000 }, async () => {
    const dir = tmp("two-ui");
    const file = join(dir, "s.json");
    const start = () =>
      watch(spawn(process.execPath, ["--import", "tsx", "test/fixtures/faults/saver-child.ts", file], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] }));
    const a = start();
    const b = start();
    await Promise.all([a.waitLine(/^ready$/, 30_000), b.waitLine(/^ready$/, 30_000)]);
    a.child.stdin!.write("save from A.\n");
    assert.ok(await a.waitLine(/^saved 1$/, 20_000), a.lines.join(" | "));
    b.child.stdin!.write("save from B.\n");
    const refused = await b.waitLine(/^(refused|saved)/, 20_000);
    const misleading = !refused?.startsWith("refused") || !refused.includes(`pid ${a.child.pid} on ${hostname()}`);
    const onDisk = JSON.parse(readFileSync(file, "utf8")) as SessionFile;
    record("two interfaces, one session", { lost: onDisk.chain.sentences[0]?.text !== "from A.", misleading });
    assert.match(
      refused ?? "",
      new RegExp(`^refused ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is in use by pid ${a.child.pid} on .*\\(the interface, since`),
    );
    assert.equal(onDisk.chain.sentences[0].text, "from A.");
    a.child.kill("SIGKILL");
    await a.exited;
    b.child.stdin!.write("save again from B.\n");
    assert.ok(await b.waitLine(/^saved 2$/, 20_000), b.lines.join(" | "));
    b.child.stdin!.end();
    await b.exited;
    assert.equal((JSON.parse(readFileSync(file, "utf8")) as SessionFile).chain.sentences.length, 2);
    assert.equal(existsSync(`${file}.lock`), false, "a process that exits leaves no lock");
  });
});

test("the saved-sessions list removes only Concord's own temporaries", async () => {
  const dir = tmp("list");
  await writeSession(join(dir, "s.json"), sessionFile(1));
  const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
  const mine = ["s.json.1", "s.json.20261205", "s.json.bak", "s.json.deadbeef", ".s.json.swp"];
  for (const n of mine) writeFileSync(join(dir, n), "the person's file");
  writeFileSync(join(dir, `.s.json.concord-${dead}-0badc0de.tmp`), "{half a sess");
  const listed = await listSessions(dir);
  const left = readdirSync(dir);
  const lost = mine.some((n) => !left.includes(n));
  record("sessions list beside the person's files", { lost });
  assert.equal(lost, false);
  assert.equal(left.includes(`.s.json.concord-${dead}-0badc0de.tmp`), false);
  assert.deepEqual(
    listed.map((e) => e.id),
    ["disk"],
  );
});

test("a big results file is read as a stream: reported and resumed in bounded memory", { timeout: 120_000 }, async () => {
  // The suite's size; bench/big-results.ts runs the same on 2 GB.
  const dir = tmp("big");
  const file = join(dir, RESULTS_FILE);
  const cot = "A long chain of thought. ".repeat(1300); // about 32 KB per record
  const n = 3000; // about 100 MB: reading it whole as before took more than twice that
  const fd = fs.openSync(file, "w");
  for (let i = 0; i < n; i++) fs.writeSync(fd, JSON.stringify(resultRec(i, cot)) + "\n");
  fs.writeSync(fd, JSON.stringify(resultRec(n)).slice(0, 50)); // a torn last line
  fs.closeSync(fd);
  const size = statSync(file).size;
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  try {
    const { records, issues } = await readResults(dir, { slim: true });
    assert.equal(records.length, n);
    assert.equal(new Set(records.map(resultKey)).size, n);
    assert.deepEqual(
      issues.map((i) => [i.line, i.torn]),
      [[n + 1, true]],
    );
    assert.equal(records[0].cot, undefined);
    // Appending after the torn line keeps it alone, and the new record is read back.
    await appendResults(dir, [resultRec(n + 1)]);
    assert.equal((await readResults(dir, { slim: true })).records.length, n + 1);
  } finally {
    clearInterval(timer);
  }
  const grown = peak - base;
  record(`results file of ${Math.round(size / 1e6)} MB`, {});
  assert.ok(grown < size, `memory grew by ${Math.round(grown / 1e6)} MB reading a ${Math.round(size / 1e6)} MB file`);
  rmSync(dir, { recursive: true, force: true });
});

describe("messages that point the right way", () => {
  const check = (what: string, msg: string, want: RegExp, bad: RegExp) => {
    const misleading = oneLineProblem(msg) !== null || !want.test(msg) || bad.test(msg);
    record(what, { misleading });
    assert.equal(oneLineProblem(msg), null, msg);
    assert.match(msg, want);
    assert.doesNotMatch(msg, bad);
  };
  const fail = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      return (err as Error).message;
    }
    assert.fail("no error");
  };

  test("YAML: an alias bomb and an undefined alias", () => {
    const bomb =
      [
        "a: &a [x, x, x, x, x, x, x, x, x]",
        ...["b", "c", "d", "e", "f", "g"].map((k, i) => `${k}: &${k} [${Array(9).fill(`*${"abcdefg"[i]}`).join(", ")}]`),
      ].join("\n") + "\n";
    check(
      "YAML alias bomb",
      fail(() => parseStructuredText(bomb, "spec.yaml")),
      /^spec\.yaml: YAML aliases from line 2, column \d+ expand without bound/,
      /ends early|truncated/,
    );
    check(
      "YAML undefined alias",
      fail(() => parseStructuredText("name: x\nmodels: *nope\n", "spec.yaml")),
      /^spec\.yaml: YAML alias \*nope at line 2, column 9 refers to no anchor/,
      /ends early|truncated/,
    );
  });

  test("YAML alias bomb through `concord run` (one line, exit 1)", () => {
    const dir = tmp("bomb");
    writeFileSync(
      join(dir, "exp.yaml"),
      "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
    );
    const r = spawnSync(process.execPath, [BIN, "run", join(dir, "exp.yaml")], { env: CLI_ENV, encoding: "utf8" });
    assert.equal(r.status, 1);
    check("YAML alias bomb via concord run", r.stderr.trim(), /exp\.yaml: YAML aliases from line 2/, /ends early|truncated/);
  });

  test("a read-only folder reads as permission denied, naming the folder", { skip: process.platform === "win32" }, (t) => {
    // root may write anywhere: the command runs as an ordinary user then, who must be able to read the project.
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    if (spawnSync(process.execPath, [BIN, "--version"], { env: CLI_ENV, encoding: "utf8", ...asUser }).status !== 0) {
      t.skip("the project folder is not readable by an ordinary user (uid 65534)");
      return;
    }
    const dir = tmp("ro");
    const ro = join(dir, "ro");
    mkdirSync(ro);
    const session = join(dir, "s.json");
    writeFileSync(session, JSON.stringify(sessionFile(1)));
    chmodSync(ro, 0o555);
    chmodSync(dir, 0o755);
    const r = spawnSync(process.execPath, [BIN, "export", session, "--out", join(ro, "chain.txt")], {
      env: { ...CLI_ENV, HOME: dir },
      encoding: "utf8",
      ...asUser,
    });
    assert.notEqual(r.status, 0, r.stdout);
    check(
      "read-only folder (concord export)",
      r.stderr.trim(),
      new RegExp(`permission denied \\(EACCES\\): the folder ${ro.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`),
      /no such file/,
    );
  });

  test("a GGUF cut to 100 bytes", { skip: !HAVE_MODEL, timeout: 60_000 }, () => {
    const dir = tmp("gguf");
    const cut = join(dir, "cut.gguf");
    writeFileSync(cut, readFileSync(MODEL).subarray(0, 100));
    const r = spawnSync(process.execPath, [BIN, "ensemble", "--model", cut, "--set", "builtin", "--problem", "demo-1", "--steps", "1"], {
      env: CLI_ENV,
      encoding: "utf8",
      timeout: 50_000,
    });
    const line = r.stderr.split("\n").find((l) => l.includes(cut)) ?? r.stderr;
    assert.notEqual(r.status, 0);
    check("GGUF cut to 100 bytes", line, /not a complete GGUF file/, /Cannot read properties/);
  });

  test('a theme colour "__proto__" (and other names that are not colours)', () => {
    const good = JSON.parse(readFileSync(join(themesDir(), "dark.json"), "utf8"));
    const dir = tmp("theme");
    for (const colour of ["__proto__", "constructor", "toString", "hasOwnProperty", "rgb(300,0,0)", "#12345"]) {
      const t = structuredClone(good);
      t.roles.text.color = colour;
      t.authors[0].backgroundColor = colour;
      const file = join(dir, "t.json");
      writeFileSync(file, JSON.stringify(t));
      check(
        `theme colour ${colour}`,
        fail(() => readThemeFile(file)),
        /t\.json: roles\.text\.color: not a colour/,
        /TypeError|is not a function/,
      );
    }
  });
});
