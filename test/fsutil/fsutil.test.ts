// The verified write and the lock, one behaviour at a time (the fault suite puts them under a
// full disk and two real processes: test/faults/disk.test.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, lstatSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, utimesSync, writeFileSync, existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { appendVerified, tempOwner, writeFileVerified, writeFileVerifiedSync } from "../../src/fsutil/write.js";
import { acquireLock, LockedError, STALE_MS } from "../../src/fsutil/lock.js";

const tmp = () => mkdtempSync(join(tmpdir(), "concord-fsutil-"));
const deadPid = () => spawnSync(process.execPath, ["-e", ""]).pid!;

test("a replace keeps the file's mode and a symlink, and leaves no temporary", async () => {
  const d = tmp();
  writeFileSync(join(d, "real.json"), "old");
  chmodSync(join(d, "real.json"), 0o600);
  symlinkSync(join(d, "real.json"), join(d, "link.json"));
  await writeFileVerified(join(d, "link.json"), "new async");
  assert.equal(readFileSync(join(d, "real.json"), "utf8"), "new async");
  writeFileVerifiedSync(join(d, "link.json"), "new sync");
  assert.equal(readFileSync(join(d, "real.json"), "utf8"), "new sync");
  assert.ok(lstatSync(join(d, "link.json")).isSymbolicLink());
  assert.equal(statSync(join(d, "real.json")).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(d).sort(), ["link.json", "real.json"]);
});

test("an append after a torn line starts a new line; a failed append names the file", async () => {
  const d = tmp();
  const f = join(d, "r.jsonl");
  writeFileSync(f, '{"a":1}\n{"torn"');
  await appendVerified(f, '{"b":2}\n', { separateTornLine: true });
  assert.equal(readFileSync(f, "utf8"), '{"a":1}\n{"torn"\n{"b":2}\n');
  await assert.rejects(
    appendVerified(join(d, "no", "such", "r.jsonl"), "x\n", { what: "results" }),
    /^WriteError: cannot write results .*no\/such\/r\.jsonl: no such folder: .*no\/such \(ENOENT\); everything written before is kept$/,
  );
});

test("temporary names carry their PID and nothing else matches", () => {
  assert.equal(tempOwner(".s.json.concord-123-0a1b2c3d.tmp"), 123);
  for (const n of ["s.json.1", "s.json.20261205", "s.json.deadbeef", ".s.json.concord-x-0a1b2c3d.tmp", "s.json.concord-1-0a1b2c3d.tmp"])
    assert.equal(tempOwner(n), undefined, n);
});

test("a lock: refused naming its holder, shared within a process, released only by its owner", () => {
  const d = tmp();
  const lockFile = join(d, "x.lock");
  const live = { pid: process.ppid, host: hostname(), startedAt: "2026-12-06T01:02:03.000Z", what: "concord run" };
  writeFileSync(lockFile, JSON.stringify(live));
  assert.throws(
    () => acquireLock(lockFile, "target", "test"),
    (e: unknown) =>
      e instanceof LockedError &&
      /^target is in use by pid \d+ on .* \(concord run, since 2026-12-06 01:02:03 UTC\); refusing a second writer/.test((e as Error).message),
  );
  // A dead PID on this host: stale at once.
  writeFileSync(lockFile, JSON.stringify({ ...live, pid: deadPid() }));
  const a = acquireLock(lockFile, "target", "test");
  const b = acquireLock(lockFile, "target", "test");
  assert.equal(a, b);
  assert.equal(JSON.parse(readFileSync(lockFile, "utf8")).pid, process.pid);
  a.release();
  assert.ok(existsSync(lockFile), "still held by the second acquire");
  b.release();
  assert.equal(existsSync(lockFile), false);
});

test("a lock from another host is stale only once its holder stopped touching it", () => {
  const d = tmp();
  const lockFile = join(d, "x.lock");
  writeFileSync(lockFile, JSON.stringify({ pid: 1, host: "elsewhere", startedAt: "2026-12-06T00:00:00.000Z", what: "the interface" }));
  assert.throws(() => acquireLock(lockFile, "t", "test"), /in use by pid 1 on elsewhere/);
  const old = new Date(Date.now() - STALE_MS - 1000);
  utimesSync(lockFile, old, old);
  acquireLock(lockFile, "t", "test").release();
  // An unreadable lock (a crash while it was written) counts by age too.
  writeFileSync(lockFile, "");
  assert.throws(() => acquireLock(lockFile, "t", "test"), /in use by another process/);
  utimesSync(lockFile, old, old);
  acquireLock(lockFile, "t", "test").release();
});
