// The response cache's log on disk: torn and damaged lines, short writes, two writing processes.
import { test, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import { appendFile, mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CachedBackend } from "../../src/backends/cache.js";
import { collect, type CompletionRequest } from "../../src/backends/types.js";
import { DeterministicTextBackend } from "../doubles/deterministic-backend.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const req = (text: string): CompletionRequest => ({ prompt: { kind: "raw", text }, maxTokens: 4, temperature: 0 });
const ask = (b: CachedBackend, text: string) => collect(b.stream(req(text)), () => undefined);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "concord-cache-log-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function segments(): Promise<string[]> {
  return (await readdir(join(dir, "log")).catch(() => [] as string[])).filter((f) => f.endsWith(".jsonl")).map((f) => join(dir, "log", f));
}

/** Fill a cache with `n` answers and close it (as a finished process would). */
async function fill(n: number): Promise<{ texts: string[]; answers: string[] }> {
  const b = new CachedBackend(new DeterministicTextBackend(), { dir, model: "m" });
  const texts = Array.from({ length: n }, (_, i) => `question ${i}`);
  const answers = [];
  for (const t of texts) answers.push((await ask(b, t)).text);
  await b.close();
  return { texts, answers };
}

test("entries wait for one append: many answers, one line each, read back by a new backend", async () => {
  const { texts, answers } = await fill(50);
  const [seg, ...more] = await segments();
  assert.deepEqual(more, []);
  assert.equal((await readFile(seg!, "utf8")).split("\n").length, 51);
  const inner = new DeterministicTextBackend();
  const b = new CachedBackend(inner, { dir, model: "m" });
  for (const [i, t] of texts.entries()) assert.equal((await ask(b, t)).text, answers[i]);
  assert.equal(inner.calls.stream, 0);
  await b.close();
});

test("a torn last line (a crash mid-append) is never served; the next writer starts on a new line", async () => {
  const { texts, answers } = await fill(3);
  const [seg] = await segments();
  const whole = await readFile(seg!, "utf8");
  // Cut the last line short, as a crash in the middle of its append would leave it.
  await truncate(seg!, whole.length - 25);
  const inner = new DeterministicTextBackend();
  const b = new CachedBackend(inner, { dir, model: "m" });
  assert.equal((await ask(b, texts[0]!)).text, answers[0]);
  assert.equal((await ask(b, texts[2]!)).text, answers[2], "the torn entry's question goes to the model");
  assert.equal(inner.calls.stream, 1);
  await ask(b, "a new question");
  await b.close();

  const lines = (await readFile(seg!, "utf8")).split("\n");
  assert.ok(lines[2]!.length > 0 && !lines[2]!.endsWith("}"), "the torn line is left alone on its own line");
  const next = new DeterministicTextBackend();
  const c = new CachedBackend(next, { dir, model: "m" });
  for (const t of [...texts, "a new question"]) await ask(c, t);
  assert.equal(next.calls.stream, 0, "everything after the torn line reads back");
  assert.equal(c.stats().corrupt, 1, "the torn line is counted and skipped");
  await c.close();
});

test("a damaged line (a changed byte) fails its checksum and is asked again, never served", async () => {
  const { texts } = await fill(2);
  const [seg] = await segments();
  const text = await readFile(seg!, "utf8");
  // The answer's first word, changed in place: still valid JSON, so only the checksum can tell.
  const damaged = text.replace(/"text":"(\w)/, (_m, c: string) => `"text":"${c === "x" ? "y" : "x"}`);
  assert.notEqual(damaged, text);
  await writeFile(seg!, damaged);
  const inner = new DeterministicTextBackend();
  const b = new CachedBackend(inner, { dir, model: "m" });
  const fresh = new DeterministicTextBackend();
  const truth = await collect(fresh.stream(req(texts[0]!)), () => undefined);
  assert.equal((await ask(b, texts[0]!)).text, truth.text);
  assert.equal(inner.calls.stream, 1);
  assert.equal(b.stats().corrupt, 1);
  await b.close();
});

test("a short write (full disk) cuts the log back: no partial line, earlier entries kept, the request still answered", async () => {
  const { texts } = await fill(2);
  const [seg] = await segments();
  const before = await readFile(seg!);
  const realWrite = fs.write;
  // write(2) on a nearly full disk: 40 bytes written, then none.
  let budget = 40;
  (fs as { write: unknown }).write = (fd: number, buf: Buffer, off: number, len: number, pos: number | null, cb: (e: null, n: number) => void) => {
    const k = Math.min(len, budget);
    budget -= k;
    if (k === 0) return cb(null, 0);
    realWrite(fd, buf, off, k, pos, cb as never);
  };
  const inner = new DeterministicTextBackend();
  const b = new CachedBackend(inner, { dir, model: "m" });
  try {
    const answer = await ask(b, "asked on a full disk");
    assert.ok(answer.text.length > 0);
    await b.flush();
  } finally {
    (fs as { write: unknown }).write = realWrite;
  }
  assert.equal(b.stats().unwritten, 1);
  assert.ok((await readFile(seg!)).equals(before), "the log is as it was");
  await b.close();
  const next = new DeterministicTextBackend();
  const c = new CachedBackend(next, { dir, model: "m" });
  for (const t of texts) await ask(c, t);
  await ask(c, "asked on a full disk");
  assert.equal(next.calls.stream, 1, "only the unwritten answer is asked again");
  assert.equal(c.stats().corrupt, 0);
  await c.close();
});

test("lines that are not entries (written by hand, or damaged) are skipped and counted", async () => {
  await fill(1);
  const [seg] = await segments();
  await appendFile(seg!, "not a log line\n\n0123456789abcdef {}\n");
  const inner = new DeterministicTextBackend();
  const b = new CachedBackend(inner, { dir, model: "m" });
  await ask(b, "question 0");
  assert.equal(inner.calls.stream, 0);
  assert.equal(b.stats().corrupt, 2);
  await b.close();
});

function child(name: string, count: number): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((ok) => {
    const p = spawn(process.execPath, ["--import", "tsx", "test/fixtures/cache-writer.ts", dir, name, String(count)], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("close", (code) => ok({ code, out, err }));
  });
}

test("two processes writing one cache folder at once: each its own segment, nothing lost or damaged", async () => {
  const count = 200;
  const [a, b] = await Promise.all([child("a", count), child("b", count)]);
  assert.equal(a.code, 0, a.err);
  assert.equal(b.code, 0, b.err);
  for (const r of [a, b]) assert.equal(JSON.parse(r.out).unwritten, 0);
  const segs = await segments();
  assert.ok(segs.length >= 1 && segs.length <= 2, `segments: ${segs.join(", ")}`);
  assert.deepEqual(
    (await readdir(join(dir, "log"))).filter((f) => f.endsWith(".lock")),
    [],
    "both locks released",
  );

  const inner = new DeterministicTextBackend();
  const reader = new CachedBackend(inner, { dir, model: "shared-model" });
  for (let i = 0; i < count; i++) for (const t of [`a ${i}`, `b ${i}`, `shared ${i}`]) await ask(reader, t);
  assert.equal(inner.calls.stream, 0, "every answer of both processes reads back");
  assert.equal(reader.stats().corrupt, 0);
  await reader.close();
});
